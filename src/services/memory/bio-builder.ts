import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { Bio, ClusterRow, EntityRow, TopicRow } from '../ports/memory.ts';
import { parseChunkId } from '../ports/memory.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { ChunkItem } from './clustering.ts';
import { AUTHOR_TITLE } from './entity-builder.ts';
import { readChunkTexts } from './extraction-cache.ts';
import { writeBioWithModel } from './llm/bio.ts';
import { offlineBio } from './text/bio-offline.ts';
import { hasTurns, personWords } from './text/own-turns.ts';
import { firstPersonSentences } from './text/sentences.ts';

// The biography (A5), from the person's own material only: topics at least half subjective,
// people and places with evidence in subjective chunks, and the person's own first-person
// sentences — of a chat export, only the person's (`user:`) turns, never the assistant's. With an LLM it is written from those excerpts (and checked for invented names);
// offline, or when the model's answer is not grounded, a template fills in what the corpus says.

export interface BioDeps {
  blobs: BlobStore;
  textModel: TextModel | null;
  log: Logger;
}

const RECENT_DAYS = 30;
const EXCERPTS = 12;
/** Entities of a type looked at for the bio's five, most mentioned first, and chunks read for each. */
const BIO_ENTITY_CANDIDATES = 15;
const EVIDENCE_CHUNKS = 3;

async function textsOf(blobs: BlobStore, userId: string, chunkIds: readonly string[]) {
  const texts = await readChunkTexts(
    blobs,
    userId,
    chunkIds.map((id) => parseChunkId(id)!),
  );
  return texts.map((t) => t ?? '');
}

export async function buildBio(
  deps: BioDeps,
  userId: string,
  version: string,
  items: readonly ChunkItem[],
  clusters: readonly ClusterRow[],
  topics: readonly TopicRow[],
  entities: readonly EntityRow[],
  signal: AbortSignal,
): Promise<Bio> {
  const n = items.length || 1;
  const clusterById = new Map(clusters.map((c) => [c.clusterId, c]));
  const top = topics.filter((t) => t.depth === 0);
  const subjectiveShareOf = (t: TopicRow) => {
    let subjective = 0;
    for (const id of t.clusterIds) {
      const c = clusterById.get(id);
      if (c) subjective += c.subjectiveShare * c.size;
    }
    return t.size ? subjective / t.size : 0;
  };
  const topicFacts = top.map((t) => ({
    id: t.topicId,
    label: t.label,
    share: t.size / n,
    subjectiveShare: subjectiveShareOf(t),
  }));
  const own = topicFacts.filter((t) => t.subjectiveShare >= 0.5);

  // excerpts: representatives of the person's own clusters, subjective chunks only
  const subjectiveChunks = new Set(items.filter((i) => i.perspective === 'subjective').map((i) => i.chunkId));
  const ownClusters = clusters
    .filter((c) => c.subjectiveShare >= 0.5)
    .sort((a, b) => b.size - a.size)
    .slice(0, 6);
  const excerptIds = ownClusters
    .flatMap((c) => c.representativeChunkIds.slice(0, 2))
    .filter((id) => subjectiveChunks.has(id))
    .slice(0, EXCERPTS);
  const cutoff = Date.now() - RECENT_DAYS * 86_400_000;
  const recent = items.filter((i) => subjectiveChunks.has(i.chunkId) && Date.parse(i.createdAt) >= cutoff);
  const recentIds = recent.slice(-6).map((i) => i.chunkId);
  const [excerpts, recentExcerpts] = await Promise.all([
    textsOf(deps.blobs, userId, excerptIds).then((texts) => texts.map(personWords)),
    textsOf(deps.blobs, userId, recentIds).then((texts) => texts.map(personWords)),
  ]);
  const keywords = ownClusters.flatMap((c) => c.keywords.slice(0, 5));

  const withEvidence = async (type: EntityRow['type']) => {
    const candidates = entities
      // the person is not one of the people their bio lists
      .filter(
        (e) =>
          e.type === type && e.title !== AUTHOR_TITLE && e.textUnitIds.some((id) => subjectiveChunks.has(id)),
      )
      .sort((a, b) => b.mentionCount - a.mentionCount)
      .slice(0, BIO_ENTITY_CANDIDATES);
    // a name only an imported chat's assistant said is not the person's: an entity whose every
    // subjective chunk is a chat chunk that names it outside the person's turns is left out
    const evidence = candidates.map((e) =>
      e.textUnitIds.filter((id) => subjectiveChunks.has(id)).slice(0, EVIDENCE_CHUNKS),
    );
    const texts = await textsOf(deps.blobs, userId, [...new Set(evidence.flat())]);
    const textOf = new Map([...new Set(evidence.flat())].map((id, i) => [id, texts[i] ?? '']));
    const said = (title: string, text: string) => {
      if (!hasTurns(text)) return true;
      const name = title.toLowerCase();
      return !text.toLowerCase().includes(name) || personWords(text).toLowerCase().includes(name);
    };
    return candidates
      .filter((e, i) => evidence[i]!.some((id) => said(e.title, textOf.get(id) ?? '')))
      .slice(0, 5)
      .map((e) => e.title);
  };
  const [people, places] = await Promise.all([withEvidence('person'), withEvidence('place')]);
  const recentClusterIds = new Set<string>();
  const recentChunkSet = new Set(recent.map((r) => r.chunkId));
  for (const c of clusters)
    if (c.representativeChunkIds.some((id) => recentChunkSet.has(id))) recentClusterIds.add(c.clusterId);
  const recentTopics = top
    .filter((t) => t.clusterIds.some((id) => recentClusterIds.has(id)))
    .map((t) => ({ label: t.label }));

  const base = {
    version,
    topics: topicFacts.map(({ id, label, share }) => ({ id, label, share: Math.round(share * 1e4) / 1e4 })),
    sourceChunkIds: [...new Set([...excerptIds, ...recentIds])],
  };
  if (deps.textModel && excerpts.some(Boolean)) {
    const written = await writeBioWithModel(
      deps.textModel,
      {
        topics: own.map(({ label, share }) => ({ label, share })),
        excerpts: excerpts.filter(Boolean),
        recentExcerpts: recentExcerpts.filter(Boolean),
        people,
        places,
      },
      { signal },
    ).catch((error: Error) => {
      deps.log.warn({ userId, err: error.message }, 'memory bio: the model failed; the offline bio is used');
      return null;
    });
    if (written) return { ...base, generatedBy: 'llm', ...written };
  }
  const offline = offlineBio({
    topics: topicFacts.map(({ label, share, subjectiveShare }) => ({ label, share, subjectiveShare })),
    people,
    places,
    sentences: firstPersonSentences(excerpts.filter(Boolean), keywords, 2),
    recentTopics,
    recentSentences: firstPersonSentences(recentExcerpts.filter(Boolean), keywords, 1),
  });
  return { ...base, generatedBy: 'offline', ...offline };
}
