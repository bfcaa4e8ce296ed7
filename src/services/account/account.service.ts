import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { Zip, ZipDeflate } from 'fflate';
import pMap from 'p-map';
import { type ChatService, idleJobId } from '../chat/chat.service.ts';
import type { TranscriptStore } from '../chat/transcripts.ts';
import type { DocumentsService } from '../documents/documents.service.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { AccountRepository, ChatSessionsRepository, DeletedAccountRows } from '../ports/repositories.ts';
import type { VectorIndex } from '../ports/vector-index.ts';
import { chatKeys, documentKeys } from '../tenant-keys.ts';
import type { UsersService } from '../users.service.ts';

// A person's control over their data (DESIGN §10): delete one chat with all it became, delete the
// whole account from every store, and download everything stored about them.

export interface AccountDeps {
  account: AccountRepository;
  sessions: ChatSessionsRepository;
  chats: ChatService;
  transcripts: TranscriptStore;
  documents: DocumentsService;
  users: UsersService;
  blobs: BlobStore;
  vectors: VectorIndex;
  queue: JobQueue;
}

export interface DeletedChat {
  id: string;
  /** Objects removed: the transcript, its training files and the memory document's files. */
  objects: number;
  vectors: number;
  documents: number;
}

export interface AccountDeletionReceipt extends Pick<DeletedAccountRows, 'rows'> {
  userId: string;
  objects: number;
  vectors: number;
  deletedAt: Date;
}

const EXPORT_README = `Everything this service stores about you, as of the export's time.
account.json   every database row of yours, by table (documents, chat_sessions, api_keys, training_jobs, users)
files/         every stored object of yours, by its key:
  raw/{documentId}/{name}            your uploads, byte-exact (the original filename is in account.json)
  chunks/{documentId}.jsonl          the chunks of a document, one JSON line each: {index, text, charStart, charEnd, page, tokens}
  chats/{sessionId}/messages.json    chat transcripts; metadata.json, processed/chat_{n}.txt beside them
`;

export class AccountService {
  private readonly deps: AccountDeps;

  constructor(deps: AccountDeps) {
    this.deps = deps;
  }

  /** The session row, `chats/{id}/...`, the memory document it became, and its pending memory job. */
  async deleteChat(userId: string, sessionId: string): Promise<DeletedChat> {
    const { chats, transcripts, blobs, vectors, documents } = this.deps;
    await chats.getSession(userId, sessionId);
    const chat = await transcripts.read(userId, sessionId);
    const exchanges = chat?.messages.filter((m) => m.role === 'assistant').length ?? 0;
    // a memory job left behind finds no transcript and does nothing: cancelling is tidiness
    await Promise.all(
      [idleJobId(sessionId, exchanges), `chatend-${sessionId}-${exchanges}`].map((id) =>
        this.deps.queue.cancel('chat', id).catch(() => false),
      ),
    );
    // the row first: a reply finishing now finds no session and writes no transcript
    if (!(await this.deps.sessions.delete(userId, sessionId)))
      throw new NotFoundError('ChatSession', sessionId);
    await transcripts.forget(sessionId);
    let objects = await blobs.deletePrefix(userId, chatKeys.session(sessionId));
    let vectorCount = 0;
    let documentCount = 0;
    const memory = chat?.memoryDocumentId;
    if (memory) {
      const [raw, chunks, legacy, held] = await Promise.all([
        blobs.list(userId, documentKeys.rawPrefix(memory)),
        blobs.list(userId, documentKeys.chunks(memory)),
        blobs.list(userId, documentKeys.legacyChunkPrefix(memory)),
        vectors.countByDocument(userId, memory),
      ]);
      try {
        await documents.delete(userId, memory);
        objects += raw.length + chunks.length + legacy.length;
        vectorCount = held;
        documentCount = 1;
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    return { id: sessionId, objects, vectors: vectorCount, documents: documentCount };
  }

  /**
   * Every row, object and vector of the user's. Rows go first (an ingest still running sees its
   * document gone and cleans up after itself); a deletion cut short is finished by calling again.
   */
  async deleteAccount(userId: string, confirm: string): Promise<AccountDeletionReceipt> {
    if (confirm !== userId) {
      throw new InvalidInputError('confirm must be your own user id: the deletion cannot be undone');
    }
    const { account, users, queue, transcripts, blobs, vectors } = this.deps;
    const deleted = await account.deleteUser(userId);
    users.forget(userId);
    await pMap(deleted.pendingIngestJobIds, (id) => queue.cancel('ingest', id).catch(() => false), {
      concurrency: 8,
    });
    await pMap(deleted.sessionIds, (id) => transcripts.forget(id), { concurrency: 8 });
    const [vectorCount, objects] = await Promise.all([
      vectors.deleteTenant(userId),
      blobs.deletePrefix(userId, ''),
    ]);
    return { userId, rows: deleted.rows, objects, vectors: vectorCount, deletedAt: new Date() };
  }

  /** A zip of account.json (every row) and files/ (every object), streamed as it is built. */
  exportData(userId: string): Readable {
    const { account, blobs } = this.deps;
    const out = new PassThrough();
    const zip = new Zip((error, chunk, final) => {
      if (error) return void out.destroy(error);
      out.write(chunk);
      if (final) out.end();
    });
    const add = (name: string, data: Uint8Array) => {
      const file = new ZipDeflate(name, { level: 6 });
      zip.add(file);
      file.push(data, true);
    };
    void (async () => {
      add('README.txt', Buffer.from(EXPORT_README));
      const rows = await account.exportRows(userId);
      add('account.json', Buffer.from(JSON.stringify(rows, null, 2)));
      const keys = await blobs.list(userId, '');
      for (let i = 0; i < keys.length; i += 16) {
        const batch = keys.slice(i, i + 16);
        const bodies = await blobs.getMany(userId, batch);
        // an object deleted since the listing is left out
        bodies.forEach((body, j) => {
          if (body instanceof Buffer) add(`files/${batch[j]}`, body);
        });
        if (out.writableNeedDrain) await once(out, 'drain');
        if (out.destroyed) return;
      }
      zip.end();
    })().catch((error: unknown) => out.destroy(error as Error));
    return out;
  }
}
