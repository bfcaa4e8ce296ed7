// A document as services and the repositories port carry it (DESIGN §3 `documents`): plain
// read-only data, whatever store holds the row.

export const DOCUMENT_STATUSES = ['queued', 'processing', 'processed', 'failed'] as const;
export const DOCUMENT_KINDS = ['document', 'chat'] as const;

export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

export interface DocumentRecord {
  id: string;
  userId: string;
  filename: string;
  contentType: string;
  s3Path: string;
  uploadedAt: Date;
  processed: boolean;
  chunkCount: number;
  contentHash: string;
  status: DocumentStatus;
  error?: string | null;
  kind: DocumentKind;
  embeddingModel?: string | null;
  bytes: number;
  ingestJobId?: string | null;
  /** `auto` (decided from the text), or set by setDocumentPerspective (MEMORY-TRAINING.md A5). */
  perspective: 'auto' | 'subjective' | 'objective';
}
