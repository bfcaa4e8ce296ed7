import type { Logger } from '../../logger.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { ReplySource } from '../ports/events.ts';
import type { VectorHit, VectorIndex } from '../ports/vector-index.ts';
import type { ChunkTextLoader } from './chunk-text-loader.ts';

export interface RetrievedChunk extends ReplySource {
  filename: string;
  text: string;
}

export interface RetrievalOptions {
  topK: number;
  minScore: number;
}

export class RetrievalService {
  private readonly deps: {
    embedder: Embedder;
    vectors: VectorIndex;
    chunks: ChunkTextLoader;
    log: Logger;
  };
  private readonly options: RetrievalOptions;

  constructor(
    deps: { embedder: Embedder; vectors: VectorIndex; chunks: ChunkTextLoader; log: Logger },
    options: RetrievalOptions,
  ) {
    this.deps = deps;
    this.options = options;
  }

  /** The user's own passages closest to `question`, best first, each with its text. */
  async retrieve(userId: string, question: string, signal?: AbortSignal): Promise<RetrievedChunk[]> {
    if (this.options.topK === 0 || !question.trim()) return [];
    const [vector] = await this.deps.embedder.embed([question], signal);
    if (!vector) return [];
    const hits = await this.deps.vectors.search(userId, vector, {
      limit: this.options.topK,
      minScore: this.options.minScore,
      embeddingModel: this.deps.embedder.model,
    });
    const texts = await Promise.all(hits.map((h) => this.deps.chunks.load(userId, h.s3Path)));
    const out: RetrievedChunk[] = [];
    hits.forEach((hit, i) => {
      const text = texts[i];
      // a vector whose chunk object is gone belongs to a document being deleted: skip it
      if (text == null) return;
      if (hit.score < this.options.minScore) return;
      out.push(toRetrieved(hit, text));
    });
    return out.sort((a, b) => b.score - a.score);
  }
}

function toRetrieved(hit: VectorHit, text: string): RetrievedChunk {
  return {
    documentId: hit.documentId,
    chunkIndex: hit.chunkIndex,
    s3Path: hit.s3Path,
    charStart: hit.charStart,
    charEnd: hit.charEnd,
    page: hit.page,
    score: hit.score,
    filename: hit.filename,
    text,
  };
}
