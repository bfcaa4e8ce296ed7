import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';

export interface CostOptions {
  maxCost: number;
  /** Extra cost of a field by `Type.field` (`Query.search`): what calls a paid API or fans out. */
  weights: Record<string, number>;
  /** Page size assumed for a `first` given by a variable (validation does not see variables). */
  maxPageSize: number;
  /** The same, for fields whose resolver caps the page lower (`Memory.entities`: 100). */
  maxPageSizes?: Record<string, number>;
  /** Page size of a connection called without `first`. */
  defaultPageSize: number;
}

// graphql-armor's cost rule has no per-field weights and reads `first` only when written inline,
// so `first: $n` costs as one row: this rule weighs the fields that cost money and multiplies a
// connection's selection by its page size (worst case for a variable), or a search's by its limit.
const PAGE_ARGS = ['first', 'last', 'limit'];

function pageSize(field: FieldNode, max: number): number | undefined {
  const arg = field.arguments?.find((a) => PAGE_ARGS.includes(a.name.value));
  if (!arg) return undefined;
  const value: ValueNode = arg.value;
  if (value.kind === Kind.INT) return Math.min(Math.max(Number(value.value), 0), max);
  return max;
}

export function operationCostRule(options: CostOptions) {
  return (context: ValidationContext): ASTVisitor => {
    const schema = context.getSchema();
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    const costOf = (
      set: SelectionSetNode,
      parent: GraphQLCompositeType | undefined,
      seen: Set<string>,
    ): number => {
      let cost = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          const on = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
          cost += costOf(sel.selectionSet, on && isCompositeType(on) ? on : undefined, seen);
        } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
          const frag = fragments.get(sel.name.value);
          // a fragment cycle is refused by graphql's own rules
          if (!frag || seen.has(frag.name.value)) continue;
          const on = schema.getType(frag.typeCondition.name.value);
          cost += costOf(
            frag.selectionSet,
            on && isCompositeType(on) ? on : undefined,
            new Set([...seen, frag.name.value]),
          );
        } else {
          const name = sel.name.value;
          if (name.startsWith('__')) continue; // introspection and __typename
          const def =
            parent && (isObjectType(parent) || isInterfaceType(parent))
              ? parent.getFields()[name]
              : undefined;
          const weight = (parent && options.weights[`${parent.name}.${name}`]) ?? 0;
          if (!sel.selectionSet) {
            cost += weight;
            continue;
          }
          const type = def ? getNamedType(def.type) : undefined;
          const child = costOf(sel.selectionSet, type && isCompositeType(type) ? type : undefined, seen);
          const hasPageArg = def?.args.some((a) => PAGE_ARGS.includes(a.name));
          const max = (parent && options.maxPageSizes?.[`${parent.name}.${name}`]) ?? options.maxPageSize;
          const rows = hasPageArg ? (pageSize(sel, max) ?? Math.min(options.defaultPageSize, max)) : 1;
          cost += 1 + weight + rows * child;
        }
      }
      return cost;
    };

    return {
      OperationDefinition(node) {
        const root = schema.getRootType(node.operation) ?? undefined;
        const cost = costOf(node.selectionSet, root, new Set());
        if (cost > options.maxCost)
          context.reportError(
            new GraphQLError(`Operation cost ${Math.ceil(cost)} exceeds the limit of ${options.maxCost}.`, {
              nodes: [node],
              extensions: { code: 'OPERATION_TOO_COSTLY', cost: Math.ceil(cost), maxCost: options.maxCost },
            }),
          );
      },
    };
  };
}
