// The benches' synthetic vocabulary (search v2, and memory's variant of it): seeded pseudo-words
// built from syllables (so words share character trigrams, as real words do, which the local hash
// embedder sees), drawn with Zipf (s = 1) frequencies; every random stream is independent per
// (purpose, index), so any chunk can be generated alone and a resumed load writes the same text.
import { mulberry32 } from '../src/services/memory/compute/numeric.ts';

/** An independent random stream per (purpose, index), so any chunk can be generated alone. */
export const rngFor = (stream: number, i: number) =>
  mulberry32(Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b));
export const VOCAB = 6000;
const ONSETS =
  'b c d f g h j k l m n p r s t v w z bl br ch cl cr dr fl fr gl gr pl pr sh sk sl sp st str th tr'.split(
    ' ',
  );
const NUCLEI = 'a e i o u ai ea ee ie oa ou'.split(' ');
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'st', 'ng', 'rk', 'ck'];
export const WORDS: string[] = (() => {
  const rng = rngFor(1, 0);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
  const seen = new Set<string>();
  while (seen.size < VOCAB) {
    const syllables = 1 + Math.floor(rng() * rng() * 4);
    let w = '';
    for (let k = 0; k < syllables; k++)
      w += pick(ONSETS) + pick(NUCLEI) + (k === syllables - 1 || rng() < 0.3 ? pick(CODAS) : '');
    seen.add(w);
  }
  return [...seen];
})();
const ZIPF_CDF = (() => {
  const cdf = new Float64Array(VOCAB);
  let sum = 0;
  for (let r = 0; r < VOCAB; r++) cdf[r] = sum += 1 / (r + 1);
  return cdf.map((c) => c / sum);
})();
export function zipfRank(u: number) {
  let lo = 0;
  let hi = VOCAB - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ZIPF_CDF[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
