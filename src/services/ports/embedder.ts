// Port for text embeddings (DESIGN §2). Chat retrieval (issue 5) and L0 ingest share one instance
// from `services.embedder`, so queries and chunks are always embedded by the same model.
export interface Embedder {
  /**
   * The model tag, `name@dimensions` (`text-embedding-3-small@1536`, `local-hash-v1@384`): recorded
   * on every vector and document, and it picks the vector collection (DESIGN §5), so vectors of
   * different models, or of one model at different sizes, are never compared.
   */
  readonly model: string;
  readonly dimensions: number;
  /**
   * `openai` (any compatible API); `local-model`, the embedded semantic model (all-MiniLM-L6-v2);
   * `local`, the deterministic lexical hash embedder, the fallback where the model is not installed.
   */
  readonly kind: 'openai' | 'local-model' | 'local';
  /** Why the lexical hash embedder stands in (set on it only): shown by `Query.embedder`. */
  readonly fallbackReason?: string;
  /** One vector per text, in order, each of length `dimensions`. */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
  /** Resolves once `model` and `dimensions` can be read (an API model of unset size asks once). */
  ready(signal?: AbortSignal): Promise<void>;
  /** Releases what it holds (the embedded model's thread), at shutdown. */
  close?(): Promise<void>;
}

/** The tag of a model at a size: the size is part of it, since one model can answer at several. */
export function embeddingModelTag(name: string, dimensions: number): string {
  return `${name}@${dimensions}`;
}

/** The model name of a tag; a tag written before tags carried the size is all name. */
export function embeddingModelName(tag: string): string {
  const at = tag.lastIndexOf('@');
  return at > 0 && /^\d+$/.test(tag.slice(at + 1)) ? tag.slice(0, at) : tag;
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
