// Names as the entity rows key and show them (MEMORY-TRAINING A3): the merge key drops honorifics
// and punctuation so "Dr. Maria Chen." and "Maria Chen" are one person; extraction and merging share it.

/** A kinship relation's source: the person whose memory this is (the integrator maps it). */
export const AUTHOR = '(author)';
export const CO_OCCURS = 'co-occurs';

export const HONORIFICS = new Set(
  (
    'dr doctor mr mrs ms mx miss mister prof professor sir dame lord lady rev revd reverend hon ' +
    'sen gen col capt lt sgt madam madame'
  ).split(' '),
);

/** The merge key of a name: no honorifics, possessive, surrounding punctuation, case or extra spaces. */
export function normalizeEntityName(name: string): string {
  const flat = name
    .normalize('NFKC')
    .replaceAll('’', "'")
    .toLowerCase()
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, '')
    .replace(/'s$/u, '')
    .replace(/\s+/g, ' ');
  const tokens = flat.split(' ');
  let first = 0;
  while (first < tokens.length - 1 && HONORIFICS.has(tokens[first]!.replace(/\.$/, ''))) first++;
  const key = tokens
    .slice(first)
    .join(' ')
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, '');
  return key || flat;
}

/** A name as written, without trailing punctuation or a possessive: "Dr. Maria Chen." → "Dr. Maria Chen". */
export function cleanName(name: string): string {
  return name
    .replace(/^[\s"'“‘([{]+|[\s.,;:!?"'”’)\]}]+$/gu, '')
    .replace(/['’]s$/u, '')
    .replace(/\s+/g, ' ');
}

/** The most counted key; ties go to the longest, then the first in sort order. */
export function mostFrequent<T extends string>(counts: Map<T, number>): T {
  let best: T | null = null;
  let bestCount = -1;
  for (const [value, count] of counts) {
    if (
      best === null ||
      count > bestCount ||
      (count === bestCount && (value.length > best.length || (value.length === best.length && value < best)))
    ) {
      best = value;
      bestCount = count;
    }
  }
  return best!;
}
