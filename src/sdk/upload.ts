// uploadFiles: one multipart request per batch of files, then each accepted document followed on
// `ingestProgress` until it is processed or failed; refusals (unsupported, empty, too large) are
// results with their reasons, not errors.

import type { CoreClient as Core, FileInput } from './core.ts';
import {
  DocumentDocument,
  type DocumentFieldsFragment,
  type DocumentStatus,
  IngestProgressDocument,
  type IngestProgressSubscription,
  UploadDocumentsDocument,
  type UploadOutcomeFragment,
} from './generated/graphql.ts';
import { TwinRequestError } from './transport.ts';

/** A path (read by `sdk/node`), or a file's name and bytes. */
export type UploadInput = string | FileInput;

export type UploadProgress = IngestProgressSubscription['ingestProgress'] & { filename: string };

export interface UploadFilesOptions {
  /** Every ingest event of the uploaded documents, as it comes. */
  onProgress?: (progress: UploadProgress) => void;
  /** Files per multipart request (the server caps a request's size). */
  batchSize?: number;
}

export interface UploadResult {
  filename: string;
  /** PROCESSED or FAILED once ingested; REFUSED when the server did not take the file. */
  status: DocumentStatus | 'REFUSED';
  /** Why it failed or was refused. */
  reason: string | null;
  /** The error code of a refusal (`UNSUPPORTED_FILE_TYPE`, …). */
  code: string | null;
  document: DocumentFieldsFragment | null;
  /** What `uploadDocuments` answered for this file (a DuplicateDocument, say). */
  upload: UploadOutcomeFragment;
}

export type ReadFile = (path: string) => Promise<FileInput>;

async function toFile(input: UploadInput, readFile?: ReadFile): Promise<FileInput> {
  if (typeof input !== 'string') return input;
  if (!readFile) throw new TypeError(`cannot read ${input} here: pass { name, data } or use sdk/node`);
  return readFile(input);
}

const settled = (status: DocumentStatus) => status === 'PROCESSED' || status === 'FAILED';

async function follow(
  client: Core,
  doc: DocumentFieldsFragment,
  onProgress: UploadFilesOptions['onProgress'],
): Promise<DocumentFieldsFragment> {
  if (!settled(doc.status)) {
    // afterSeq 0: what was published between the upload and this subscription is replayed first
    const events = client.subscribe(
      IngestProgressDocument,
      { documentId: doc.id, afterSeq: 0 },
      {
        seqOf: (e) => e.ingestProgress.seq,
        isLast: (e) => ['DONE', 'FAILED'].includes(e.ingestProgress.stage),
      },
    );
    for await (const event of events) onProgress?.({ ...event.ingestProgress, filename: doc.filename });
  }
  const answer = await client.request(DocumentDocument, { id: doc.id, first: 1 });
  if (answer.document.__typename !== 'Document')
    throw new TwinRequestError(answer.document.message, { code: answer.document.code });
  const { chunks: _chunks, ...fields } = answer.document;
  return fields;
}

export async function uploadFiles(
  client: Core,
  inputs: UploadInput[],
  opts: UploadFilesOptions & { readFile?: ReadFile } = {},
): Promise<UploadResult[]> {
  const files = await Promise.all(inputs.map((f) => toFile(f, opts.readFile)));
  const batchSize = opts.batchSize ?? 10;
  const followed: Promise<UploadResult>[] = [];
  for (let start = 0; start < files.length; start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const answer = await client.upload(
      UploadDocumentsDocument,
      { files: batch.map(() => null) as never },
      Object.fromEntries(batch.map((f, i) => [`files.${i}`, f])),
    );
    for (const [i, upload] of answer.uploadDocuments.entries()) {
      const filename = batch[i]?.name ?? '';
      if (upload.__typename !== 'Document' && upload.__typename !== 'DuplicateDocument') {
        followed.push(
          Promise.resolve({
            filename,
            status: 'REFUSED',
            reason: upload.message,
            code: upload.code,
            document: null,
            upload,
          }),
        );
        continue;
      }
      const accepted = upload.__typename === 'Document' ? upload : upload.document;
      followed.push(
        follow(client, accepted, opts.onProgress).then((document) => ({
          filename,
          status: document.status,
          reason: document.status === 'FAILED' ? (document.error ?? 'failed') : null,
          code: null,
          document,
          upload,
        })),
      );
    }
  }
  return Promise.all(followed);
}
