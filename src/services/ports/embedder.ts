// Port for text embeddings (DESIGN §2). Chat retrieval (issue 5) and L0 ingest share one instance
// from `services.embedder`, so queries and chunks are always embedded by the same model.
export interface Embedder {
  /** Recorded on every vector and document; vectors of different models are never compared. */
  readonly model: string;
  readonly dimensions: number;
  /** `local` is the deterministic fallback used when no embedding API is configured. */
  readonly kind: 'openai' | 'local';
  /** One vector per text, in order, each of length `dimensions`. */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
