// Port for the lexical side of hybrid search (DESIGN §3 `chunk_terms`, §5). Per chunk it keeps the
// owner, document, index, the chunk's S3 pointer and derived terms (a PostgreSQL `tsvector`):
// never the chunk text itself, which lives only in S3.

export interface LexicalChunk {
  documentId: string;
  chunkIndex: number;
  /** The chunk's direct pointer in S3 (key and byte range), as the vector index stores it. */
  s3Path: string;
  charStart: number;
  charEnd: number;
  page: number | null;
  /** Read only to derive the terms; not stored. */
  text: string;
}

export interface LexicalHit {
  documentId: string;
  chunkIndex: number;
  s3Path: string;
  charStart: number;
  charEnd: number;
  page: number | null;
  filename: string;
  /** Full-text rank (higher is better); only comparable within one query. */
  score: number;
}

export interface LexicalSearchOptions {
  limit: number;
  embeddingModel?: string;
}

export interface LexicalIndex {
  /**
   * The document's rows become exactly `chunks` (older rows of the document, of any ingest, are
   * removed in the same transaction), so a retry or a reprocess never duplicates a chunk.
   */
  replaceDocument(userId: string, documentId: string, chunks: readonly LexicalChunk[]): Promise<void>;
  /**
   * The user's chunks best matching `query`, best first, of processed documents only; with
   * `embeddingModel`, only of documents embedded with it (so a hybrid search never mixes models).
   */
  search(userId: string, query: string, options: LexicalSearchOptions): Promise<LexicalHit[]>;
  deleteByDocument(userId: string, documentId: string): Promise<number>;
  countByDocument(userId: string, documentId: string): Promise<number>;
  deleteTenant(userId: string): Promise<number>;
}
