import { describe, expect, it } from 'vitest';
import { resolvePerspective } from './perspective.ts';

describe('resolvePerspective', () => {
  it('lets an explicit setting win over the text', () => {
    expect(resolvePerspective({ kind: 'chat', setting: 'objective', firstPerson: 50, words: 100 })).toBe(
      'objective',
    );
    expect(resolvePerspective({ kind: 'document', setting: 'subjective', firstPerson: 0, words: 100 })).toBe(
      'subjective',
    );
  });

  it('treats chats as subjective on auto', () => {
    expect(resolvePerspective({ kind: 'chat', setting: 'auto', firstPerson: 0, words: 0 })).toBe(
      'subjective',
    );
  });

  it('uses the 1.5 % first-person threshold for documents on auto', () => {
    expect(resolvePerspective({ kind: 'document', setting: 'auto', firstPerson: 15, words: 1000 })).toBe(
      'subjective',
    );
    expect(resolvePerspective({ kind: 'document', setting: 'auto', firstPerson: 14, words: 1000 })).toBe(
      'objective',
    );
    expect(resolvePerspective({ kind: 'document', setting: 'auto', firstPerson: 0, words: 0 })).toBe(
      'objective',
    );
  });
});
