import { Readable } from 'node:stream';
import pMap from 'p-map';
import type { Services } from '../../container.ts';
import { DuplicateDocumentError } from '../documents/documents.errors.ts';
import { DocumentsService } from '../documents/documents.service.ts';
import { NotFoundError } from '../errors.ts';
import { type ChatRecord, type ChatService, chatKeys, trainingFiles } from './chat.service.ts';

// Finished chats become memories (DESIGN §6): the transcript, in the seed's Chat shape, is uploaded
// through L0 as a document of kind `chat`, so it is chunked, embedded and searchable like any file.

export interface MemorizeRequest {
  userId: string;
  sessionId: string;
  reason: 'idle' | 'ended';
  /** Exchanges the transcript had when this was scheduled; an idle job for an older count is stale. */
  exchanges: number;
}

export type MemorizeOutcome =
  | { status: 'stale' | 'empty' }
  | { status: 'ingested' | 'unchanged'; documentId: string };

/** The Chat document: what a memory of this session says, without ids or delivery details. */
export function chatDocument(chat: ChatRecord) {
  return {
    sessionId: chat.sessionId,
    title: chat.title,
    summary: chat.summary,
    createTime: chat.createTime,
    messages: chat.messages
      .filter((m) => m.content.trim())
      .map((m) => ({ role: m.role, content: m.content, createTime: m.createTime })),
  };
}

/** The chat's exchanges formatted for training (L2), each written once: they never change. */
async function writeTrainingFiles(services: Services, userId: string, chat: ChatRecord): Promise<void> {
  const written = new Set(await services.blobs.list(userId, chatKeys.processedPrefix(chat.sessionId)));
  await pMap(
    trainingFiles(chat).filter((f) => !written.has(f.key)),
    (f) => services.blobs.put(userId, f.key, f.text, { contentType: 'text/plain; charset=utf-8' }),
    { concurrency: 8 },
  );
}

export async function memorizeChat(
  services: Services,
  chats: ChatService,
  request: MemorizeRequest,
): Promise<MemorizeOutcome> {
  const { userId, sessionId } = request;
  const chat = await chats.readChat(userId, sessionId);
  if (!chat) return { status: 'empty' };
  const exchanges = chat.messages.filter((m) => m.role === 'assistant').length;
  if (request.reason === 'idle' && exchanges !== request.exchanges) return { status: 'stale' };
  const doc = chatDocument(chat);
  if (doc.messages.length === 0) return { status: 'empty' };
  await writeTrainingFiles(services, userId, chat);

  const documents = new DocumentsService(services);
  const bytes = Buffer.from(JSON.stringify(doc, null, 2));
  const result = await documents.upload(userId, {
    filename: `chat-${sessionId}.json`,
    body: Readable.from([bytes]),
    size: bytes.length,
    kind: 'chat',
  });
  let documentId: string;
  let status: 'ingested' | 'unchanged' = 'ingested';
  if (result instanceof DuplicateDocumentError) {
    documentId = result.document.id;
    status = 'unchanged';
  } else if (result instanceof Error) {
    throw new Error(`the chat transcript was refused by ingest: ${result.message}`);
  } else {
    documentId = result.id;
  }

  // a session memorized before (idle, then resumed) keeps one memory: the newest transcript
  const previous = await chats.setMemoryDocument(userId, sessionId, documentId);
  if (previous) {
    await documents.delete(userId, previous).catch((error) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  }
  return { status, documentId };
}
