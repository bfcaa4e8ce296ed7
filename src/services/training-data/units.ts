import { AUTHOR } from '../memory/text/entity-names.ts';
import { splitSentences } from '../memory/text/sentences.ts';
import type { ClusterRow, EntityRow } from '../ports/memory.ts';
import type { Material, MaterialChunk } from './material.ts';

// The units both generators work through (MEMORY-TRAINING.md B): clusters with at least three
// usable chunks (preference), the most mentioned entities with their evidence (diversity) and the
// bio (selfqa). Both generators see the same units in the same order.

export const MIN_CLUSTER_CHUNKS = 3;
export const TOP_ENTITIES = 150;
export const EVIDENCE_CHUNKS = 4;

export interface ClusterUnit {
  cluster: ClusterRow;
  /** Usable members, representatives first (in their order), then by similarity; at most 4. */
  chunks: MaterialChunk[];
  /** What a question calls the cluster: its label, or two keywords for a keyword label. */
  subject: string;
}

export interface EntityUnit {
  entity: EntityRow;
  /** Usable evidence chunks, at most 4. */
  chunks: MaterialChunk[];
  /** Evidence sentences naming the entity, with the chunk each comes from. */
  sentences: { text: string; chunkId: string }[];
}

export function clusterUnits(material: Material): ClusterUnit[] {
  const members = new Map<string, MaterialChunk[]>();
  for (const chunk of material.chunks) {
    const list = members.get(chunk.clusterId) ?? [];
    list.push(chunk);
    members.set(chunk.clusterId, list);
  }
  const units: ClusterUnit[] = [];
  for (const cluster of material.clusters) {
    const all = members.get(cluster.clusterId) ?? [];
    if (all.length < MIN_CLUSTER_CHUNKS) continue;
    const rank = new Map(cluster.representativeChunkIds.map((id, i) => [id, i]));
    const ordered = [...all].sort(
      (a, b) =>
        (rank.get(a.id) ?? Infinity) - (rank.get(b.id) ?? Infinity) ||
        b.similarity - a.similarity ||
        a.id.localeCompare(b.id),
    );
    units.push({ cluster, chunks: ordered.slice(0, EVIDENCE_CHUNKS), subject: subjectOf(cluster) });
  }
  return units.sort(
    (a, b) => b.cluster.size - a.cluster.size || a.cluster.clusterId.localeCompare(b.cluster.clusterId),
  );
}

// Keywords that make no subject for a question ("What do you think about she and two?").
const NOT_A_SUBJECT = new Set(
  'she her hers he him his they them their we our you your it its one two three four five first second last next new old year years day days time'.split(
    ' ',
  ),
);

function subjectOf(cluster: ClusterRow): string {
  if (cluster.labelSource === 'llm' && cluster.label.trim()) return cluster.label.trim();
  const keywords = cluster.keywords
    .filter((k) => !k.includes(' ') && k.length >= 3 && !NOT_A_SUBJECT.has(k) && !/\d/.test(k))
    .slice(0, 2);
  return keywords.length ? keywords.join(' and ') : cluster.label.trim();
}

/** An evidence sentence worth quoting: a few words of prose, markup stripped; null otherwise. */
export function quotable(sentence: string): string | null {
  const text = sentence
    .replace(/^[#>\-*\s]+/, '')
    .replace(/\*\*|__|`/g, '')
    .trim();
  return text.split(/\s+/).filter((w) => /\p{L}/u.test(w)).length >= MIN_QUOTE_WORDS ? text : null;
}
const MIN_QUOTE_WORDS = 5;

const mentions = (sentence: string, title: string) => sentence.toLowerCase().includes(title.toLowerCase());

export function entityUnits(material: Material): EntityUnit[] {
  const ranked = material.entities
    .filter((e) => e.title !== AUTHOR && e.title.trim().length > 1)
    .sort((a, b) => b.mentionCount - a.mentionCount || a.id.localeCompare(b.id));
  const units: EntityUnit[] = [];
  for (const entity of ranked) {
    if (units.length === TOP_ENTITIES) break;
    const chunks = entity.textUnitIds
      .map((id) => material.byId.get(id))
      .filter((c): c is MaterialChunk => c !== undefined)
      .slice(0, EVIDENCE_CHUNKS);
    if (chunks.length === 0) continue;
    const seen = new Set<string>();
    const sentences: EntityUnit['sentences'] = [];
    for (const chunk of chunks)
      for (const sentence of splitSentences(chunk.text)) {
        const text = quotable(sentence);
        if (!text) continue;
        const key = text.toLowerCase();
        if (!mentions(text, entity.title) || seen.has(key)) continue;
        seen.add(key);
        sentences.push({ text, chunkId: chunk.id });
      }
    if (sentences.length > 0) units.push({ entity, chunks, sentences });
  }
  return units;
}

/** The bio's sentences (second person, then the recent status), each once. */
export function bioSentences(material: Material): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const text of [material.bio.secondPerson, material.bio.status])
    for (const s of splitSentences(text ?? '')) {
      if (seen.has(s.toLowerCase())) continue;
      seen.add(s.toLowerCase());
      out.push(s);
    }
  return out;
}

/** Second person → first: the twin answers as the person ("You write" → "I write"). */
export function toFirstPerson(text: string): string {
  return text
    .replace(/\byou are\b/gi, 'I am')
    .replace(/\byou were\b/gi, 'I was')
    .replace(/\byou're\b/gi, "I'm")
    .replace(/\byou've\b/gi, "I've")
    .replace(/\byourself\b/gi, (m) => (m[0] === 'Y' ? 'Myself' : 'myself'))
    .replace(/\byours\b/gi, (m) => (m[0] === 'Y' ? 'Mine' : 'mine'))
    .replace(/\byour\b/gi, (m) => (m[0] === 'Y' ? 'My' : 'my'))
    .replace(/\byou\b/gi, 'I');
}

/** The usable chunks that share the most words with `text` (ties: material order), at most `n`. */
export function chunksSharing(
  candidates: readonly MaterialChunk[],
  text: string,
  n: number,
): MaterialChunk[] {
  const words = contentWords(text);
  if (words.size === 0) return [];
  return candidates
    .map((chunk, order) => {
      const own = contentWords(chunk.text);
      let shared = 0;
      for (const w of words) if (own.has(w)) shared++;
      return { chunk, shared, order };
    })
    .filter((c) => c.shared > 0)
    .sort((a, b) => b.shared - a.shared || a.order - b.order)
    .slice(0, n)
    .map((c) => c.chunk);
}

const SMALL = new Set(
  'the and for with that this from have about your you are was were they them their what when where which who how why into over also most often come comes ones words'.split(
    ' ',
  ),
);

export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/\p{L}[\p{L}'’-]*/gu)) {
    const w = m[0].replace(/['’]s$/, '');
    if (w.length >= 3 && !SMALL.has(w)) out.add(w);
  }
  return out;
}
