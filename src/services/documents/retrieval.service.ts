import type { Logger } from '../../logger.ts';
import { InvalidInputError } from '../errors.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { ReplySource } from '../ports/events.ts';
import type { LexicalHit, LexicalIndex } from '../ports/lexical-index.ts';
import type { VectorHit, VectorIndex } from '../ports/vector-index.ts';
import type { ChunkTextLoader } from './chunk-text-loader.ts';
import { type FusionWeights, fuseByReciprocalRank, type MatchedBy } from './fusion.ts';

/** A chunk found by hybrid search, with how it matched; its text is read separately. */
export interface RetrievalHit extends ReplySource {
  filename: string;
  /** The embedding model of the collection searched (the current embedder's). */
  embeddingModel: string;
  matchedBy: MatchedBy;
  /** Cosine similarity to the query, when the vector side found the chunk. */
  vectorScore: number | null;
  /** Full-text rank, when the lexical side found the chunk (comparable within one search). */
  lexicalScore: number | null;
  /** `score` is the fused reciprocal-rank score in [0, 1] (fusion.ts). */
}

export interface RetrievedChunk extends RetrievalHit {
  text: string;
}

export interface RetrievalOptions {
  /** Passages a chat reply retrieves. */
  topK: number;
  /** Vector hits of a chat question below this cosine similarity are left out before fusion. */
  minScore: number;
  fusion: FusionWeights;
  /** Candidates each side contributes to the fusion (at least the number of hits asked for). */
  candidates: number;
}

export const MAX_SEARCH_LIMIT = 100;

/**
 * Hybrid retrieval (DESIGN §5): the query's embedding against the vector index and its words
 * against the full-text index, in parallel (the full-text query does not wait for the embedding),
 * fused by reciprocal rank; the hits' text comes from S3 by pointer through ChunkTextLoader.
 * Used by GraphQL `search` and by the chat path.
 */
export class RetrievalService {
  private readonly deps: {
    embedder: Embedder;
    vectors: VectorIndex;
    lexical: LexicalIndex;
    chunks: ChunkTextLoader;
    log: Logger;
  };
  private readonly options: RetrievalOptions;

  constructor(
    deps: {
      embedder: Embedder;
      vectors: VectorIndex;
      lexical: LexicalIndex;
      chunks: ChunkTextLoader;
      log: Logger;
    },
    options: RetrievalOptions,
  ) {
    this.deps = deps;
    this.options = options;
  }

  /** The `limit` best chunks of the caller's processed documents for `query`; no text. */
  async search(userId: string, query: string, limit: number, signal?: AbortSignal): Promise<RetrievalHit[]> {
    const text = query.trim();
    if (!text) throw new InvalidInputError('query must not be empty');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
      throw new InvalidInputError(`limit must be between 1 and ${MAX_SEARCH_LIMIT}`);
    return this.hybrid(userId, text, limit, undefined, signal);
  }

  /** A hit's text (null once its document is deleted or reprocessed into other chunks). */
  text(userId: string, hit: Pick<RetrievalHit, 's3Path'>): Promise<string | null> {
    return this.deps.chunks.load(userId, hit.s3Path);
  }

  /** The chat path: the question's best passages, best first, each with its text. */
  async retrieve(userId: string, question: string, signal?: AbortSignal): Promise<RetrievedChunk[]> {
    const text = question.trim();
    if (this.options.topK === 0 || !text) return [];
    const hits = await this.hybrid(userId, text, this.options.topK, this.options.minScore, signal);
    const texts = await Promise.all(hits.map((h) => this.deps.chunks.load(userId, h.s3Path)));
    // a hit whose text is gone belongs to a document deleted or reprocessed meanwhile: skip it
    return hits.flatMap((hit, i) => (texts[i] == null ? [] : [{ ...hit, text: texts[i] }]));
  }

  private async hybrid(
    userId: string,
    query: string,
    limit: number,
    minScore: number | undefined,
    signal?: AbortSignal,
  ): Promise<RetrievalHit[]> {
    const { embedder, vectors, lexical } = this.deps;
    const { fusion } = this.options;
    const candidates = Math.max(limit, this.options.candidates);
    const embeddingModel = embedder.model;
    const lexicalSide =
      fusion.lexical > 0
        ? lexical.search(userId, query, { limit: candidates, embeddingModel })
        : Promise.resolve([]);
    // no unhandled rejection while the vector side is still running
    lexicalSide.catch(() => {});
    const vectorSide = async (): Promise<VectorHit[]> => {
      if (fusion.vector <= 0) return [];
      const [vector] = await embedder.embed([query], signal);
      if (!vector) return [];
      const hits = await vectors.search(userId, vector, {
        limit: candidates,
        embeddingModel,
        ...(minScore !== undefined ? { minScore } : {}),
      });
      return minScore === undefined ? hits : hits.filter((h) => h.score >= minScore);
    };
    const [vectorHits, lexicalHits] = await Promise.all([vectorSide(), lexicalSide]);
    const fused = fuseByReciprocalRank(
      vectorHits,
      lexicalHits,
      { vector: chunkKey, lexical: chunkKey },
      fusion,
      limit,
    );
    return fused.map((f) => {
      const from: VectorHit | LexicalHit = f.vector?.item ?? f.lexical!.item;
      return {
        documentId: from.documentId,
        chunkIndex: from.chunkIndex,
        s3Path: from.s3Path,
        charStart: from.charStart,
        charEnd: from.charEnd,
        page: from.page,
        filename: from.filename,
        embeddingModel: f.vector?.item.embeddingModel ?? embeddingModel,
        score: f.score,
        matchedBy: f.matchedBy,
        vectorScore: f.vector?.item.score ?? null,
        lexicalScore: f.lexical?.item.score ?? null,
      };
    });
  }
}

const chunkKey = (h: { documentId: string; chunkIndex: number }) => `${h.documentId}\u0000${h.chunkIndex}`;
