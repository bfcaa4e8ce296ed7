import {
  DocumentDocument,
  type DocumentFieldsFragment,
  UploadDocumentDocument,
  type UploadOutcomeFragment,
} from '../../src/sdk/generated/graphql.ts';
import type { TestClient } from './client.ts';

// Helpers for the ingest suites: upload one file and wait for its ingest to settle.

export async function uploadFile(
  client: TestClient,
  name: string,
  content: Uint8Array | string,
  kind?: 'DOCUMENT' | 'CHAT',
): Promise<UploadOutcomeFragment> {
  const res = await client.upload(
    UploadDocumentDocument,
    { file: null as never, ...(kind ? { kind } : {}) },
    { file: { name, content: typeof content === 'string' ? content : Buffer.from(content) } },
  );
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return res.data!.uploadDocument as UploadOutcomeFragment;
}

export async function uploadDocument(
  client: TestClient,
  name: string,
  content: Uint8Array | string,
): Promise<DocumentFieldsFragment> {
  const result = await uploadFile(client, name, content);
  if (result.__typename !== 'Document') throw new Error(`upload of ${name} gave ${result.__typename}`);
  return result as DocumentFieldsFragment;
}

export async function getDocument(client: TestClient, id: string, first = 100) {
  const res = await client.request(DocumentDocument, { id, first });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return res.data!.document;
}

/** Polls until the document is processed or failed. */
export async function settled(client: TestClient, id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const doc = await getDocument(client, id);
    if (doc.__typename !== 'Document') throw new Error(`document ${id}: ${doc.__typename}`);
    if (doc.status === 'PROCESSED' || doc.status === 'FAILED') return doc;
    if (Date.now() > deadline) throw new Error(`document ${id} still ${doc.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
