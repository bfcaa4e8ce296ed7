// Per-document extractions (the LLM's or compromise's) into the snapshot's entity and relation rows
// (MEMORY-TRAINING A3 merging): one row per (type, normalised name), ids stable across versions.
import { createHash } from 'node:crypto';
import type {
  EntityRow,
  EntityType,
  ExtractedEntity,
  ExtractedRelation,
  ExtractorSource,
  RelationRow,
} from '../../ports/memory.ts';
import { AUTHOR, CO_OCCURS, cleanName, mostFrequent, normalizeEntityName } from './entity-names.ts';

const hash16 = (text: string) => createHash('sha1').update(text).digest('hex').slice(0, 16);
export const entityIdOf = (type: EntityType, key: string) => `e-${hash16(`${type}\0${key}`)}`;

export interface DocumentEntities {
  documentId: string;
  chunkIdOf: (index: number) => string;
  entities: readonly ExtractedEntity[];
  relations: readonly ExtractedRelation[];
  source: ExtractorSource;
}

/**
 * One row per (type, normalised name) over all documents. A one-word person name joins the only
 * longer person name of its document that starts or ends with it ("Maria" → "Maria Chen").
 */
export function mergeEntities(perDocument: readonly DocumentEntities[]): {
  entities: EntityRow[];
  relations: RelationRow[];
} {
  interface Merged {
    type: EntityType;
    key: string;
    fullForms: Map<string, number>;
    textUnitIds: Set<string>;
    documentIds: Set<string>;
    mentionCount: number;
    llm: boolean;
    description: string | undefined;
  }
  const merged = new Map<string, Merged>();
  interface MergedRelation {
    source: string;
    target: string;
    description: string;
    weight: number;
    textUnitIds: Set<string>;
  }
  const relations = new Map<string, MergedRelation>();
  const documents = [...perDocument].sort((a, b) =>
    a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0,
  );

  for (const doc of documents) {
    const keyed = doc.entities
      .map((entity) => ({ entity, name: normalizeEntityName(entity.name) }))
      .filter((e) => e.name.length > 0);
    const longerPeople = keyed
      .filter((e) => e.entity.type === 'person' && e.name.includes(' '))
      .map((e) => e.name);
    const idByName = new Map<string, string>();
    for (const { entity, name } of keyed) {
      let key = name;
      let full = true;
      if (entity.type === 'person' && !name.includes(' ')) {
        const owners = new Set(
          longerPeople.filter((long) => long.startsWith(`${name} `) || long.endsWith(` ${name}`)),
        );
        if (owners.size === 1) {
          key = [...owners][0]!;
          full = false;
        }
      }
      const id = entityIdOf(entity.type, key);
      if (!idByName.has(entity.name)) idByName.set(entity.name, id);
      let row = merged.get(id);
      if (!row) {
        row = {
          type: entity.type,
          key,
          fullForms: new Map(),
          textUnitIds: new Set(),
          documentIds: new Set(),
          mentionCount: 0,
          llm: false,
          description: undefined,
        };
        merged.set(id, row);
      }
      const title = cleanName(entity.name);
      if (full) row.fullForms.set(title, (row.fullForms.get(title) ?? 0) + Math.max(1, entity.mentions));
      for (const index of [...entity.chunkIndexes].sort((a, b) => a - b))
        row.textUnitIds.add(doc.chunkIdOf(index));
      row.documentIds.add(doc.documentId);
      row.mentionCount += entity.mentions;
      if (doc.source === 'llm') {
        row.llm = true;
        if (!row.description && entity.description?.trim()) row.description = entity.description.trim();
      }
    }
    const resolve = (name: string): string | undefined =>
      name === AUTHOR ? AUTHOR : (idByName.get(name) ?? idByName.get(cleanName(name)));
    for (const relation of doc.relations) {
      let source = resolve(relation.source);
      let target = resolve(relation.target);
      if (!source || !target || source === target) continue;
      // Co-occurrence has no direction: one row per pair.
      if (relation.description === CO_OCCURS && target < source) [source, target] = [target, source];
      const id = `r-${hash16(`${source}\0${target}\0${relation.description}`)}`;
      let row = relations.get(id);
      if (!row) {
        row = { source, target, description: relation.description, weight: 0, textUnitIds: new Set() };
        relations.set(id, row);
      }
      row.weight += relation.weight;
      for (const index of [...relation.chunkIndexes].sort((a, b) => a - b))
        row.textUnitIds.add(doc.chunkIdOf(index));
    }
  }

  const entities: EntityRow[] = [];
  for (const [id, row] of merged) {
    const forms = row.fullForms.size > 0 ? row.fullForms : new Map([[row.key, 1]]);
    const passages = row.textUnitIds.size;
    entities.push({
      id,
      title: mostFrequent(forms),
      type: row.type,
      description:
        row.description ?? `${row.type} mentioned in ${passages} ${passages === 1 ? 'passage' : 'passages'}`,
      textUnitIds: [...row.textUnitIds],
      documentIds: [...row.documentIds].sort(),
      mentionCount: row.mentionCount,
      source: row.llm ? 'llm' : 'compromise',
    });
  }
  entities.sort((a, b) => b.mentionCount - a.mentionCount || (a.id < b.id ? -1 : 1));
  const rows = [...relations]
    .filter(([, r]) => (r.source === AUTHOR || merged.has(r.source)) && merged.has(r.target))
    .map(([id, r]) => ({ id, ...r, textUnitIds: [...r.textUnitIds] }))
    .sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1));
  return { entities, relations: rows };
}
