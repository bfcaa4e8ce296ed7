import OpenAI from 'openai';
import { type Embedder, embeddingModelTag } from '../../ports/embedder.ts';

export interface OpenAIEmbedderOptions {
  apiKey?: string;
  baseURL?: string;
  model: string;
  /** Requested output size (text-embedding-3-*); unset: the model's native size, learned on first use. */
  dimensions?: number;
  batchSize: number;
  maxRetries: number;
}

const KNOWN_DIMENSIONS: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

// The API takes at most 2048 inputs and ~300k tokens per request; stay well inside both.
const MAX_INPUTS = 2048;
const MAX_CHARS_PER_REQUEST = 600_000;

/**
 * Embeddings through the `openai` client against OpenAI or any compatible server. The client
 * itself retries 408/409/429/5xx and connection errors with exponential backoff and jitter
 * (honouring Retry-After), so retries are configured here rather than re-implemented.
 */
export class OpenAIEmbedder implements Embedder {
  readonly kind = 'openai' as const;
  /** The API's model name; `model` is its tag with the size. */
  readonly name: string;
  private dims: number | undefined;
  private readonly requestedDimensions: number | undefined;
  private readonly client: OpenAI;
  private readonly batchSize: number;

  constructor(options: OpenAIEmbedderOptions) {
    this.name = options.model;
    this.requestedDimensions = options.dimensions;
    this.dims = options.dimensions ?? KNOWN_DIMENSIONS[options.model];
    this.batchSize = Math.min(Math.max(1, options.batchSize), MAX_INPUTS);
    this.client = new OpenAI({
      apiKey: options.apiKey ?? 'unused-by-local-servers',
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      maxRetries: options.maxRetries,
      timeout: 60_000,
    });
  }

  get dimensions(): number {
    if (this.dims === undefined) {
      throw new Error(
        `embedding dimensions of ${this.name} are unknown until its first call: set EMBEDDING_DIMENSIONS or await ready()`,
      );
    }
    return this.dims;
  }

  get model(): string {
    return embeddingModelTag(this.name, this.dimensions);
  }

  async ready(signal?: AbortSignal): Promise<void> {
    if (this.dims === undefined) await this.embed(['dimensions probe'], signal);
  }

  private batches(texts: string[]): string[][] {
    const out: string[][] = [];
    let current: string[] = [];
    let chars = 0;
    for (const raw of texts) {
      // the API rejects empty strings
      const text = raw.length === 0 ? ' ' : raw;
      if (
        current.length >= this.batchSize ||
        (current.length > 0 && chars + text.length > MAX_CHARS_PER_REQUEST)
      ) {
        out.push(current);
        current = [];
        chars = 0;
      }
      current.push(text);
      chars += text.length;
    }
    if (current.length) out.push(current);
    return out;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const batch of this.batches(texts)) {
      signal?.throwIfAborted();
      const response = await this.client.embeddings.create(
        {
          model: this.name,
          input: batch,
          encoding_format: 'float',
          ...(this.requestedDimensions ? { dimensions: this.requestedDimensions } : {}),
        },
        { signal },
      );
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      if (ordered.length !== batch.length) {
        throw new Error(`embedding API returned ${ordered.length} vectors for ${batch.length} inputs`);
      }
      for (const item of ordered) {
        const vector = item.embedding as unknown as number[];
        this.dims ??= vector.length;
        if (vector.length !== this.dims) {
          throw new Error(`embedding API returned ${vector.length} dimensions, expected ${this.dims}`);
        }
        vectors.push(vector);
      }
    }
    return vectors;
  }
}
