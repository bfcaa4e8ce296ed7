import { describe, expect, it } from 'vitest';
import { normalizeEntityName } from './entity-names.ts';

describe('normalizeEntityName', () => {
  it('drops honorifics, possessives, punctuation, case and extra spaces', () => {
    expect(normalizeEntityName('Dr. Maria Chen.')).toBe('maria chen');
    expect(normalizeEntityName('  Maria   Chen ')).toBe('maria chen');
    expect(normalizeEntityName("Prof Maria Chen's")).toBe('maria chen');
    expect(normalizeEntityName('Sir Tom Jones')).toBe('tom jones');
    expect(normalizeEntityName("Mr. O'Brien")).toBe("o'brien");
    expect(normalizeEntityName('Dr.')).toBe('dr');
  });
});
