import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../../../tests/helpers/harness.ts';
import { textArrayLiteral } from './lexical-index.pg.ts';
import { createOrm } from './orm.ts';

// The search query gets the column's common lexemes as one text[] literal built once per stats
// refresh (not a JS array the driver escapes on every query): PostgreSQL must read back exactly the
// words, whatever characters a lexeme holds.

let orm: Awaited<ReturnType<typeof createOrm>>;
beforeAll(async () => {
  orm = await createOrm(testConfig().DATABASE_URL, 1);
});
afterAll(async () => {
  await orm?.close();
});

describe('the common lexemes as an array literal', () => {
  it('reads back as exactly the words, quotes, backslashes, braces and commas included', async () => {
    const words = [
      'run',
      "o'neil",
      'say "hi"',
      'back\\slash',
      '{brace}',
      'a,b',
      'null',
      'NULL',
      '',
      ' sp ',
      '1:52:40',
    ];
    const rows = await orm.em
      .getConnection()
      .execute<{ a: string[] }[]>('SELECT ?::text[] AS a', [textArrayLiteral(words)]);
    expect(rows[0]!.a).toEqual(words);
    const none = await orm.em
      .getConnection()
      .execute<{ a: string[] }[]>('SELECT ?::text[] AS a', [textArrayLiteral([])]);
    expect(none[0]!.a).toEqual([]);
  });
});
