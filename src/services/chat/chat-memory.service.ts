import { Readable } from 'node:stream';
import pMap from 'p-map';
import { DuplicateDocumentError } from '../documents/documents.errors.ts';
import type { DocumentsService } from '../documents/documents.service.ts';
import { NotFoundError } from '../errors.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { chatKeys } from '../tenant-keys.ts';
import type { ChatService } from './chat.service.ts';
import type { ChatRecord } from './chat-records.ts';
import { trainingFiles } from './training-files.ts';
import type { TranscriptStore } from './transcripts.ts';

// Finished chats become memories (DESIGN §6): the person's own turns, in the seed's Chat shape, are
// uploaded through L0 as a document of kind `chat`, so they are chunked, embedded and searchable
// like any file. The twin's replies are never taken as facts about the person: they stay in the
// transcript, not in memory.

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

/** The Chat document: what the person said in this session, without ids or delivery details. */
export function chatDocument(chat: ChatRecord) {
  return {
    sessionId: chat.sessionId,
    title: chat.title,
    summary: chat.summary,
    createTime: chat.createTime,
    messages: chat.messages
      .filter((m) => m.role === 'user' && m.content.trim())
      .map((m) => ({ role: m.role, content: m.content, createTime: m.createTime })),
  };
}

export interface ChatMemoryDeps {
  chat: ChatService;
  transcripts: TranscriptStore;
  documents: DocumentsService;
  blobs: BlobStore;
}

export class ChatMemoryService {
  private readonly deps: ChatMemoryDeps;

  constructor(deps: ChatMemoryDeps) {
    this.deps = deps;
  }

  /** The chat's exchanges formatted for training (L2), each written once: they never change. */
  private async writeTrainingFiles(userId: string, chat: ChatRecord): Promise<void> {
    const { blobs } = this.deps;
    const written = new Set(await blobs.list(userId, chatKeys.processedPrefix(chat.sessionId)));
    await pMap(
      trainingFiles(chat).filter((f) => !written.has(f.key)),
      (f) => blobs.put(userId, f.key, f.text, { contentType: 'text/plain; charset=utf-8' }),
      { concurrency: 8 },
    );
  }

  async memorize(request: MemorizeRequest): Promise<MemorizeOutcome> {
    const { userId, sessionId } = request;
    const { chat: chats, documents } = this.deps;
    const chat = await this.deps.transcripts.read(userId, sessionId);
    if (!chat) return { status: 'empty' };
    const exchanges = chat.messages.filter((m) => m.role === 'assistant').length;
    if (request.reason === 'idle' && exchanges !== request.exchanges) return { status: 'stale' };
    const doc = chatDocument(chat);
    if (doc.messages.length === 0) return { status: 'empty' };
    await this.writeTrainingFiles(userId, chat);

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
}
