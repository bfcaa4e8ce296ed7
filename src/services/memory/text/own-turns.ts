// A chat's turns as ingest writes them: one paragraph per turn, `role: text` (extract.ts `chat`).
// An uploaded chat export's assistant turns are another model's words, never the person's: the
// biography (bio-builder.ts) and the L2 data (training-data/material.ts) keep only `user:` turns.

const ROLE_LINE = /^(user|assistant|system|tool|bot|twin|ai)\s*:\s*/i;
const ROLE_PARAGRAPH = /(?:^|\n{2,})\s*(user|assistant|system|tool|bot|twin|ai)\s*:\s/i;

/**
 * The person's own words of a chat chunk: only what follows a `user:` marker, up to the next turn
 * of any role. `continuing` is who speaks before the first marker (a chunk can start mid-turn);
 * unknown, that text is left out.
 */
export function ownTurns(text: string, continuing: 'user' | null = null): string {
  const kept: string[] = [];
  let speaker: string | null = continuing;
  for (const paragraph of text.split(/\n{2,}/)) {
    const role = ROLE_LINE.exec(paragraph.trim());
    if (role) speaker = role[1]!.toLowerCase();
    else if (speaker === null) continue;
    if (speaker === 'user') kept.push(role ? paragraph.trim().slice(role[0].length) : paragraph.trim());
  }
  return kept.join('\n\n').trim();
}

/** Whether a chunk holds chat turns (a paragraph opening with `role:`). */
export const hasTurns = (text: string) => ROLE_PARAGRAPH.test(text);

/** The person's words of any chunk: a chunk with chat turns keeps only the `user:` ones. */
export const personWords = (text: string) => (hasTurns(text) ? ownTurns(text) : text);
