import type { GraphQLContext } from '../context.ts';

export interface Viewer {
  id: string;
}

export const me = (_root: unknown, _args: unknown, ctx: GraphQLContext): Viewer => ({ id: ctx.userId });
