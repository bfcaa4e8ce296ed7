import type { Services } from '../../src/container.ts';
import {
  DocumentDocument,
  type DocumentFieldsFragment,
  UploadDocumentDocument,
  type UploadOutcomeFragment,
} from '../../src/sdk/generated/graphql.ts';
import type { EventBus } from '../../src/services/ports/event-bus.ts';
import type { IngestProgressEvent, IngestStage } from '../../src/services/ports/events.ts';
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

/**
 * Stops the next ingest of these services at `stage`: once its progress event goes out, every
 * embedding call waits until its run is aborted, so the ingest is provably mid-way and ends only
 * by being cancelled. `reached` gives the document id; `restore` puts the real ports back.
 */
export function holdIngestAt(services: Services, stage: IngestStage) {
  const { events, embedder } = services;
  const publish = events.publish.bind(events);
  const embed = embedder.embed.bind(embedder);
  let held = false;
  let reach!: (documentId: string) => void;
  const reached = new Promise<string>((resolve) => (reach = resolve));
  events.publish = (async (kind, scope, event) => {
    const progress = kind === 'ingest' ? (event as IngestProgressEvent) : undefined;
    if (progress?.stage === stage && !held) {
      held = true;
      reach(progress.documentId);
    }
    return publish(kind, scope, event);
  }) as EventBus['publish'];
  embedder.embed = async (texts, signal) => {
    if (!held) return embed(texts, signal);
    return new Promise<never>((_, reject) => {
      if (!signal) return; // a caller that cannot be cancelled waits forever: the test times out
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  };
  return {
    reached,
    restore() {
      events.publish = publish;
      embedder.embed = embed;
    },
  };
}
