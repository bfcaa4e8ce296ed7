// Whether a document speaks in the person's own voice (MEMORY-TRAINING A5): the bio is built from
// subjective material only, and objective topics appear only as "reads about".

/** Share of first-person words at or above which an `auto` document counts as the person's own. */
export const FIRST_PERSON_SHARE = 0.015;

export interface PerspectiveInput {
  kind: 'document' | 'chat';
  setting: 'auto' | 'subjective' | 'objective';
  firstPerson: number;
  words: number;
}

/** An explicit setting wins; `auto` is subjective for chats and for first-person text (≥ 1.5 %). */
export function resolvePerspective(input: PerspectiveInput): 'subjective' | 'objective' {
  if (input.setting !== 'auto') return input.setting;
  if (input.kind === 'chat') return 'subjective';
  return input.words > 0 && input.firstPerson >= FIRST_PERSON_SHARE * input.words
    ? 'subjective'
    : 'objective';
}
