import type { DocumentKind, DocumentRecord, DocumentStatus } from './document.ts';
import type { PerspectiveSetting } from './memory.ts';
import type { MemoryRepository } from './memory-repository.ts';

// Ports for the relational store (DESIGN §3). Every method takes the tenant explicitly; a row of
// another user's is never found, updated or deleted.

export interface NewDocument {
  id: string;
  userId: string;
  filename: string;
  contentType: string;
  s3Path: string;
  contentHash: string;
  kind: DocumentKind;
  bytes: number;
  ingestJobId: string;
}

export interface DocumentListFilter {
  status?: DocumentStatus;
  kind?: DocumentKind;
}

/** Keyset position in the newest-first document list. */
export interface DocumentCursor {
  uploadedAt: Date;
  id: string;
}

export interface DocumentsRepository {
  /** Inserts a queued document; null when the user already has one with the same bytes. */
  insertIfNew(row: NewDocument): Promise<DocumentRecord | null>;
  findByHash(userId: string, contentHash: string): Promise<DocumentRecord | null>;
  get(userId: string, id: string): Promise<DocumentRecord | null>;
  /** In key order; unknown or foreign ids map to null. One query. */
  getMany(userId: string, ids: readonly string[]): Promise<(DocumentRecord | null)[]>;
  list(
    userId: string,
    filter: DocumentListFilter,
    limit: number,
    after?: DocumentCursor,
  ): Promise<DocumentRecord[]>;
  delete(userId: string, id: string): Promise<void>;
  /** Sets the document's perspective (MEMORY-TRAINING.md A5); null when the user has no such document. */
  setPerspective(userId: string, id: string, perspective: PerspectiveSetting): Promise<DocumentRecord | null>;
  /** Every processed document of the user's, oldest first: what an L1 build reads. */
  listProcessed(userId: string): Promise<DocumentRecord[]>;
  /** Queued again under a new ingest job (reprocess). */
  requeue(userId: string, id: string, ingestJobId: string): Promise<void>;
  startProcessing(userId: string, id: string): Promise<void>;
  /** Processed, unless another ingest job took the document over (then false). */
  markProcessed(
    userId: string,
    id: string,
    ingestJobId: string,
    result: { chunkCount: number; embeddingModel: string },
  ): Promise<boolean>;
  /** Failed, unless (given a job) another ingest job took the document over (then false). */
  markFailed(userId: string, id: string, ingestJobId: string | null, error: string): Promise<boolean>;
  /**
   * Processed documents (of every user, or of `only.userId`) whose vectors are of another
   * embedding model tag than `embeddingModel`: `limit` of them in (user, id) order after `after`.
   */
  listEmbeddedWithOtherModel(
    embeddingModel: string,
    limit: number,
    after?: DocumentKey,
    only?: { userId: string },
  ): Promise<DocumentKey[]>;
}

/** A document across tenants. */
export interface DocumentKey {
  userId: string;
  id: string;
}

export interface ChatSessionRow {
  id: string;
  userId: string;
  title: string | null;
  summary: string | null;
  createdAt: Date;
}

export interface ChatSessionsRepository {
  create(row: ChatSessionRow & { s3Path: string }): Promise<void>;
  get(userId: string, id: string): Promise<ChatSessionRow | null>;
  /** Newest first, after the keyset position when given. */
  list(userId: string, limit: number, after?: { createdAt: string; id: string }): Promise<ChatSessionRow[]>;
  /** Sets the summary, and the title when it has none yet. */
  updateTitleSummary(userId: string, id: string, title: string | null, summary: string | null): Promise<void>;
  /** Removes the row; false when the user has no such session. */
  delete(userId: string, id: string): Promise<boolean>;
}

export interface UsersRepository {
  /** Creates the user on first use; a no-op after that. */
  ensure(userId: string): Promise<void>;
}

export interface ApiKeyRow {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the key, to tell keys apart; never enough to use it. */
  prefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeysRepository {
  insert(
    row: Pick<ApiKeyRow, 'id' | 'userId' | 'name' | 'prefix' | 'scopes'> & { keyHash: string },
  ): Promise<ApiKeyRow>;
  /** Keys not revoked. */
  countActive(userId: string): Promise<number>;
  /** Newest first. */
  list(userId: string): Promise<ApiKeyRow[]>;
  /** Sets revoked_at unless already set; null when the user has no such key. */
  revoke(userId: string, id: string): Promise<ApiKeyRow | null>;
  /** Across tenants: the hash of a key names it. */
  findByHash(keyHash: string): Promise<ApiKeyRow | null>;
  /** Sets last_used_at to `at` unless another replica set it after `unlessAfter`. */
  touch(id: string, at: Date, unlessAfter: Date): Promise<void>;
}

/** What an account's deletion took out of each table. */
export interface DeletedAccountRows {
  rows: { users: number; documents: number; chatSessions: number; apiKeys: number; trainingJobs: number };
  /** Ingest jobs of documents that were still queued or processing. */
  pendingIngestJobIds: string[];
  sessionIds: string[];
}

/** The whole of one user's rows: an export, and the deletion of the account (DESIGN §10). */
export interface AccountRepository {
  /** Every row of the user's, by table, as the columns say (secrets such as key hashes left out). */
  exportRows(userId: string): Promise<Record<string, Record<string, unknown>[]>>;
  /** Deletes every row of the user's in one transaction, the users row last. */
  deleteUser(userId: string): Promise<DeletedAccountRows>;
}

/** The relational store as a whole: its repositories, a health probe, and shutdown. */
export interface Database {
  documents: DocumentsRepository;
  chatSessions: ChatSessionsRepository;
  users: UsersRepository;
  apiKeys: ApiKeysRepository;
  account: AccountRepository;
  memory: MemoryRepository;
  ping(): Promise<void>;
  close(): Promise<void>;
}
