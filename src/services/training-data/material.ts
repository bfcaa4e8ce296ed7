import { bioText } from '../chat/prompt.ts';
import { NotFoundError } from '../errors.ts';
import { readChunkTexts, textSha } from '../memory/extraction-cache.ts';
import { readSnapshot } from '../memory/snapshot/snapshot-store.ts';
import { ownTurns } from '../memory/text/own-turns.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { DocumentKind, DocumentRecord } from '../ports/document.ts';
import type { Bio, ClusterRow, EntityRow, MemorySnapshot, RelationRow } from '../ports/memory.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';

// What L2 data is made of: a pinned L1 version (its snapshot in S3) and the text of its chunks,
// read through the memory's one chunk-text reader. A chunk is usable only while its document still
// exists and its text is the text that version saw (same sha): a document deleted or reprocessed
// since is never cited. Chat documents keep only the person's own turns: the twin's replies (or an
// imported assistant's) are never material.

export interface MaterialChunk {
  id: string;
  documentId: string;
  chunkIndex: number;
  text: string;
  filename: string;
  kind: DocumentKind;
  clusterId: string;
  /** The label of the top-level topic it sits under, as the chat path names a source's topic. */
  topic: string | null;
  similarity: number;
}

export interface Material {
  version: string;
  snapshot: MemorySnapshot;
  /** Usable chunks in snapshot order. */
  chunks: MaterialChunk[];
  byId: Map<string, MaterialChunk>;
  clusters: ClusterRow[];
  entities: EntityRow[];
  relations: RelationRow[];
  bio: Bio;
  /** The bio as the chat path puts it in the prompt (prompt.ts bioText). */
  bioText: string | null;
}

export interface MaterialDeps {
  blobs: BlobStore;
  documents: Pick<DocumentsRepository, 'getMany'>;
}

// An uploaded chat export (ingest sniffs it as chat-json): its assistant turns are another model's.
const CHAT_EXPORT = 'application/vnd.twin.chat+json';

export async function loadMaterial(deps: MaterialDeps, userId: string, version: string): Promise<Material> {
  const snapshot = await readSnapshot(deps.blobs, userId, version);
  if (!snapshot) throw new NotFoundError('memory version', version);
  const documentIds = [...new Set(snapshot.chunks.map((c) => c.documentId))];
  const docs = await deps.documents.getMany(userId, documentIds);
  const docOf = new Map(documentIds.map((id, i) => [id, docs[i] ?? null]));
  const texts = await readChunkTexts(deps.blobs, userId, snapshot.chunks);
  return materialOf(snapshot, docOf, texts);
}

/** Material from a snapshot, its documents as they are now and its chunks' texts (in snapshot order). */
export function materialOf(
  snapshot: MemorySnapshot,
  docOf: ReadonlyMap<string, DocumentRecord | null>,
  texts: readonly (string | null)[],
): Material {
  const version = snapshot.manifest.version;
  const topicOfCluster = new Map<string, string>();
  for (const topic of snapshot.topics)
    if (topic.depth === 0) for (const id of topic.clusterIds) topicOfCluster.set(id, topic.label);

  const chunks: MaterialChunk[] = [];
  snapshot.chunks.forEach((c, i) => {
    const doc = docOf.get(c.documentId);
    const raw = texts[i];
    if (doc?.status !== 'processed' || raw == null || textSha(raw) !== c.textSha) return;
    // a memorized chat holds only the person's turns (chat-memory.service.ts): text before a
    // chunk's first marker continues one of them, except in chunk 0 (title and summary)
    const text =
      doc.kind === 'chat'
        ? ownTurns(raw, c.chunkIndex > 0 ? 'user' : null)
        : doc.contentType === CHAT_EXPORT
          ? ownTurns(raw)
          : raw.trim();
    if (!text) return;
    chunks.push({
      id: c.chunkId,
      documentId: c.documentId,
      chunkIndex: c.chunkIndex,
      text,
      filename: doc.filename,
      kind: doc.kind,
      clusterId: c.clusterId,
      topic: topicOfCluster.get(c.clusterId) ?? null,
      similarity: c.similarity,
    });
  });
  return {
    version,
    snapshot,
    chunks,
    byId: new Map(chunks.map((c) => [c.id, c])),
    clusters: snapshot.clusters,
    entities: snapshot.entities,
    relations: snapshot.relations,
    bio: snapshot.bio,
    bioText: bioText(snapshot.bio),
  };
}
