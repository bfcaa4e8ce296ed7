import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../schema/index.ts';
import { exampleAreas, graphiqlExamples } from './graphiql-examples.ts';

describe('GraphiQL examples', () => {
  it.each(exampleAreas)('the $area tab is valid against the schema', ({ query }) => {
    expect(validate(schema, parse(query)).map((e) => e.message)).toEqual([]);
  });

  it('covers every area, each tab with JSON variables naming only what its operations declare', () => {
    expect(exampleAreas.map((a) => a.area)).toEqual([
      'documents',
      'search',
      'chat',
      'memory',
      'training',
      'api keys',
    ]);
    for (const tab of graphiqlExamples({ anonymous: false }).defaultTabs) {
      const declared = new Set([...tab.query.matchAll(/\$(\w+):/g)].map((m) => m[1]));
      expect(Object.keys(JSON.parse(tab.variables ?? '{}')).filter((v) => !declared.has(v))).toEqual([]);
      expect(JSON.parse(tab.headers ?? '')).toEqual({ Authorization: 'Bearer <token>' });
    }
  });
});
