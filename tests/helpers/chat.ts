import { randomUUID } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import type { Services } from '../../src/container.ts';
import {
  SendMessageDocument,
  StartChatDocument,
  type TwinReplySubscription,
} from '../../src/sdk/generated/graphql.ts';
import { packChunks } from '../../src/services/documents/chunk-file.ts';
import { chunkPointer, documentKeys } from '../../src/services/tenant-keys.ts';
import type { TestClient } from './client.ts';

// Helpers for the chat suites: seed memory chunks without the upload path, open a session, send
// a message, and read a reply stream.

export interface SeededChunk {
  documentId: string;
  chunkIndex: number;
  s3Path: string;
  text: string;
}

/** Writes a processed document's row, chunk file and vectors for `userId` as L0 would, one document per call. */
export async function seedChunks(
  services: Services,
  userId: string,
  texts: string[],
): Promise<SeededChunk[]> {
  const documentId = randomUUID();
  const ingestJobId = `seed-${documentId}`;
  // chunk text is served only for a document whose row exists (a deleted one's never is)
  await services.users.ensure(userId);
  await services.db.documents.insertIfNew({
    id: documentId,
    userId,
    filename: `notes-${documentId.slice(0, 4)}.md`,
    contentType: 'text/markdown',
    s3Path: `raw/${documentId}/notes.md`,
    contentHash: documentId,
    kind: 'document',
    bytes: texts.join('').length,
    ingestJobId,
  });
  await services.db.documents.markProcessed(userId, documentId, ingestJobId, {
    chunkCount: texts.length,
    embeddingModel: services.embedder.model,
  });
  const vectors = await services.embedder.embed(texts);
  // the document's chunk file, each chunk's pointer at its own line (DESIGN §4)
  const fileKey = documentKeys.chunks(documentId);
  const packed = packChunks(
    texts.map((text, index) => ({
      index,
      text,
      charStart: index * 1000,
      charEnd: index * 1000 + text.length,
      page: null,
      tokens: Math.ceil(text.length / 4),
    })),
  );
  const chunks = texts.map((text, chunkIndex) => ({
    documentId,
    chunkIndex,
    s3Path: chunkPointer(fileKey, packed.ranges[chunkIndex]!.start, packed.ranges[chunkIndex]!.end),
    text,
  }));
  await services.blobs.put(userId, fileKey, packed.body);
  await services.vectors.upsert(
    userId,
    chunks.map((c, i) => ({
      documentId,
      chunkIndex: c.chunkIndex,
      s3Path: c.s3Path,
      filename: `notes-${documentId.slice(0, 4)}.md`,
      contentType: 'text/markdown',
      timestamp: new Date().toISOString(),
      embeddingModel: services.embedder.model,
      charStart: i * 1000,
      charEnd: i * 1000 + c.text.length,
      page: null,
      vector: vectors[i]!,
    })),
  );
  return chunks;
}

export async function startChat(client: TestClient, title?: string): Promise<string> {
  const res = await client.request(StartChatDocument, { title });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return res.data!.startChat.id;
}

export async function sendMessage(client: TestClient, sessionId: string, content: string) {
  const res = await client.request(SendMessageDocument, { sessionId, content });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  const out = res.data!.sendMessage;
  if (out.__typename !== 'SendMessagePayload') throw new Error(`sendMessage gave ${out.__typename}`);
  return out;
}

export type ReplyEventData = TwinReplySubscription['twinReply'];

export const isTerminal = (r: ExecutionResult<TwinReplySubscription>) => {
  const t = r.data?.twinReply.__typename;
  return t === 'ReplyDone' || t === 'ReplyFailed' || t === 'NotFound';
};

export function events(results: ExecutionResult<TwinReplySubscription>[]): ReplyEventData[] {
  return results.map((r) => {
    if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
    return r.data!.twinReply;
  });
}

export function tokensOf(list: ReplyEventData[]) {
  return list.flatMap((e) => (e.__typename === 'ReplyToken' ? [e] : []));
}

/**
 * How many of `tokens` each delta holds, checking that every delta is the next tokens, whole and
 * in order, and that its `index` is that of its first token (DESIGN §7: deltas coalesced over a
 * window). Starts at the first delta's index, so the deltas of a resumed stream check too.
 */
export function deltaSizes(tokens: readonly string[], deltas: { text: string; index: number }[]): number[] {
  const sizes: number[] = [];
  let at = deltas[0]?.index ?? 0;
  for (const d of deltas) {
    if (d.index !== at) throw new Error(`delta at token ${d.index}, expected ${at}`);
    let k = 0;
    let text = '';
    while (text.length < d.text.length && at + k < tokens.length) text += tokens[at + k++];
    if (k === 0 || text !== d.text)
      throw new Error(`delta ${JSON.stringify(d.text)} is not the tokens from ${at}`);
    sizes.push(k);
    at += k;
  }
  return sizes;
}
