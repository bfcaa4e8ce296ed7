// Term counts of a chunk, computed once at extraction and cached (MEMORY-TRAINING A2, A7): c-TF-IDF
// keywords and central sentences read them, so a rebuild never re-tokenises the corpus. Also the
// word and first-person counts that decide a document's perspective (A5).
import { eng } from 'stopword';

// The `eng` list is short (108 words): contractions, pronouns and filler words leak into keywords
// without these.
const EXTRA_STOPWORDS = (
  "don't doesn't didn't can't cannot won't wouldn't shouldn't couldn't isn't aren't wasn't " +
  "weren't haven't hasn't hadn't mustn't needn't shan't ain't i'm i've i'll i'd you're you've " +
  "you'll you'd he's he'll he'd she's she'll she'd it's it'll it'd we're we've we'll we'd " +
  "they're they've they'll they'd that's that'll there's here's what's who's where's when's " +
  "why's how's let's y'all us ours mine myself ourselves yours yourself yourselves hers " +
  'herself its itself themselves theirs whom whose why when just really so not no nor yes yet ' +
  'will shall may does doing done having off down again further once few own every ever even ' +
  'though although until upon onto within without during above below against among toward ' +
  'towards across per via etc ok okay oh yeah um uh lot lots thing things something anything ' +
  'everything nothing someone anyone everyone somebody anybody everybody go goes going went ' +
  'gone gets getting made makes making say says saying told tell back around maybe quite ' +
  'rather almost always often sometimes already else enough however therefore thus hence ' +
  'whether either neither instead anyway actually probably perhaps ago away along yet far ' +
  'less least whatever whoever wherever whenever upon besides beyond behind beside inside ' +
  'outside unless whereas thats dont im ive cant didnt doesnt isnt wasnt wont ill id youre'
).split(' ');

const STOPWORDS: ReadonlySet<string> = new Set([...eng, ...EXTRA_STOPWORDS]);

/** True for a lower-cased word the keyword pipeline ignores. */
export const isStopword = (word: string): boolean => STOPWORDS.has(word);

// A word (letters, digits inside it, inner apostrophes) or a clause break; bigrams never cross a
// break, so "Lisbon. Trains" does not become "lisbon trains".
const TOKEN = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[.!?;:,()\n"]/gu;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;
const LETTER = /\p{L}/u;

/** The kept form of a lower-cased word token, or null when it is a stopword, too short or a number. */
function keep(raw: string): string | null {
  let word = raw;
  if (word.includes('’')) word = word.replaceAll('’', "'");
  if (STOPWORDS.has(word)) return null;
  const apostrophe = word.indexOf("'");
  if (apostrophe >= 0) {
    // Possessive and contraction tails carry no topic: "anna's" counts as "anna".
    const tail = word.slice(apostrophe + 1);
    if (tail === 's' || tail === 't' || tail === 're' || tail === 've' || tail === 'll' || tail === 'd') {
      word = word.slice(0, apostrophe);
      if (STOPWORDS.has(word)) return null;
    }
  }
  if (word.length < 2) return null;
  let letters = 0;
  for (let i = 0; i < word.length && letters < 2; i++) {
    const c = word.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c > 127 && LETTER.test(word[i]!))) letters++;
  }
  return letters >= 2 ? word : null;
}

/** Unigram and "a b" bigram counts of the kept words of `text` (bigrams of adjacent kept words). */
export function termCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = Object.create(null);
  let previous: string | null = null;
  for (const match of text.toLowerCase().matchAll(TOKEN)) {
    const token = match[0];
    if (token.length === 1 && !LETTER.test(token) && (token < '0' || token > '9')) {
      previous = null;
      continue;
    }
    const word = keep(token);
    if (word === null) continue;
    counts[word] = (counts[word] ?? 0) + 1;
    if (previous !== null) {
      const bigram = `${previous} ${word}`;
      counts[bigram] = (counts[bigram] ?? 0) + 1;
    }
    previous = word;
  }
  return counts;
}

/** Words in `text`, as the perspective rule counts them ("don't" is one word). */
export function countWords(text: string): number {
  let n = 0;
  WORD.lastIndex = 0;
  while (WORD.exec(text) !== null) n++;
  return n;
}

const FIRST_PERSON = /(?<![\p{L}\p{N}'’])(?:i|me|my|mine|myself|we|us|our|ours|ourselves)(?![\p{L}\p{N}])/giu;

/** First-person pronouns in `text`, whole words, any case; "I'm" and "I've" count as "I". */
export function firstPersonCount(text: string): number {
  let n = 0;
  FIRST_PERSON.lastIndex = 0;
  while (FIRST_PERSON.exec(text) !== null) n++;
  return n;
}
