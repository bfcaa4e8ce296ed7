import { appendFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  acceptedModelTags,
  type ChunkVector,
  type CollectionNaming,
  chunkVectorId,
  collectionName,
  isCollectionOf,
  type ScannedVector,
  type SearchOptions,
  tenantName,
  type VectorHit,
  type VectorIndex,
} from '../../ports/vector-index.ts';

type Entry = ChunkVector & { id: string; norm: number };
type LogLine = { op: 'put'; entry: Entry } | { op: 'del'; documentId: string };

interface TenantState {
  entries: Map<string, Entry>;
  size: number;
  /** Which log file (inode and birth time): a tenant deleted and written again is read from its start. */
  ino: string;
}

/**
 * Exact (brute-force cosine) search for machines where Weaviate cannot run. Collections are
 * folders named as the Weaviate ones (the default model's is `dir` itself, where every vector
 * lived before collections were per model); each tenant is an append-only NDJSON log in its own
 * file, so API and worker processes share it: a reader replays the bytes appended since it last
 * looked. Same port and semantics as the Weaviate adapter.
 */
export class EmbeddedVectorIndex implements VectorIndex {
  readonly backend = 'embedded' as const;
  /** By log file. */
  private readonly tenants = new Map<string, TenantState>();

  private readonly dir: string;
  private readonly naming: CollectionNaming;

  constructor(dir: string, naming: CollectionNaming) {
    this.dir = dir;
    this.naming = naming;
  }

  private folder(collection: string) {
    return collection === this.naming.prefix ? this.dir : path.join(this.dir, collection);
  }

  private file(collection: string, userId: string) {
    return path.join(this.folder(collection), `${tenantName(userId)}.ndjson`);
  }

  /** The collections on disk: the default model's and every prefixed folder. */
  private async collections(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    const folders = entries
      .filter((e) => e.isDirectory() && e.name !== this.naming.prefix && isCollectionOf(this.naming, e.name))
      .map((e) => e.name);
    return [this.naming.prefix, ...folders];
  }

  private async load(file: string): Promise<TenantState> {
    let state = this.tenants.get(file);
    if (!state) {
      state = { entries: new Map(), size: 0, ino: '' };
      this.tenants.set(file, state);
    }
    const { size, ino } = await stat(file).then(
      (s) => ({ size: s.size, ino: `${s.ino}:${s.birthtimeMs}` }),
      () => ({ size: 0, ino: '' }),
    );
    if (size === state.size && ino === state.ino) return state;
    // shorter, or another file: the tenant was deleted (deleteTenant) by this or another process
    const reread = size < state.size || ino !== state.ino;
    if (reread) {
      state.entries.clear();
      state.size = 0;
      state.ino = ino;
    }
    if (size === 0) return state;
    const buf = await readFile(file);
    const start = state.size;
    const end = buf.lastIndexOf(0x0a) + 1;
    for (const line of buf.subarray(start, end).toString('utf8').split('\n')) {
      if (!line) continue;
      const op = JSON.parse(line) as LogLine;
      if (op.op === 'put') state.entries.set(op.entry.id, op.entry);
      else for (const [id, e] of state.entries) if (e.documentId === op.documentId) state.entries.delete(id);
    }
    state.size = end;
    return state;
  }

  async ensureTenant(_userId: string, embeddingModel: string): Promise<void> {
    await mkdir(this.folder(collectionName(this.naming, embeddingModel)), { recursive: true });
  }

  async upsert(userId: string, chunks: readonly ChunkVector[]): Promise<void> {
    if (chunks.length === 0) return;
    const byFile = new Map<string, string[]>();
    for (const c of chunks) {
      const file = this.file(collectionName(this.naming, c.embeddingModel), userId);
      const entry: Entry = {
        ...c,
        id: chunkVectorId(userId, c.documentId, c.chunkIndex, c.embeddingModel),
        norm: Math.hypot(...c.vector),
      };
      byFile.set(file, [...(byFile.get(file) ?? []), `${JSON.stringify({ op: 'put', entry })}\n`]);
    }
    for (const [file, lines] of byFile) {
      await mkdir(path.dirname(file), { recursive: true });
      await appendFile(file, lines.join(''));
    }
  }

  async search(userId: string, vector: readonly number[], options: SearchOptions): Promise<VectorHit[]> {
    const state = await this.load(this.file(collectionName(this.naming, options.embeddingModel), userId));
    const models = new Set(acceptedModelTags(this.naming, options.embeddingModel));
    const qn = Math.hypot(...vector) || 1;
    const hits: VectorHit[] = [];
    for (const e of state.entries.values()) {
      if (!models.has(e.embeddingModel) || e.vector.length !== vector.length) continue;
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i]! * e.vector[i]!;
      const score = dot / (qn * (e.norm || 1));
      if (options.minScore !== undefined && score < options.minScore) continue;
      const { vector: _v, norm: _n, ...pointer } = e;
      hits.push({ ...pointer, score });
    }
    hits.sort((a, b) => b.score - a.score);
    return hits.slice(0, options.limit);
  }

  async scan(
    userId: string,
    options: { documentId: string; embeddingModel: string },
  ): Promise<ScannedVector[]> {
    const state = await this.load(this.file(collectionName(this.naming, options.embeddingModel), userId));
    const models = new Set(acceptedModelTags(this.naming, options.embeddingModel));
    const out: ScannedVector[] = [];
    for (const e of state.entries.values()) {
      if (e.documentId === options.documentId && models.has(e.embeddingModel))
        out.push({ chunkIndex: e.chunkIndex, vector: e.vector });
    }
    return out.sort((a, b) => a.chunkIndex - b.chunkIndex);
  }

  async deleteByDocument(userId: string, documentId: string): Promise<number> {
    let count = 0;
    for (const collection of await this.collections()) {
      const file = this.file(collection, userId);
      const n = this.countIn(await this.load(file), documentId);
      if (n === 0) continue;
      await appendFile(file, `${JSON.stringify({ op: 'del', documentId } satisfies LogLine)}\n`);
      count += n;
    }
    return count;
  }

  async countByDocument(userId: string, documentId: string, embeddingModel?: string): Promise<number> {
    const collections =
      embeddingModel === undefined ? await this.collections() : [collectionName(this.naming, embeddingModel)];
    let count = 0;
    for (const collection of collections) {
      count += this.countIn(await this.load(this.file(collection, userId)), documentId);
    }
    return count;
  }

  private countIn(state: TenantState, documentId: string): number {
    let n = 0;
    for (const e of state.entries.values()) if (e.documentId === documentId) n++;
    return n;
  }

  async deleteTenant(userId: string): Promise<number> {
    let count = 0;
    for (const collection of await this.collections()) {
      const file = this.file(collection, userId);
      count += (await this.load(file)).entries.size;
      await rm(file, { force: true });
      this.tenants.delete(file);
    }
    return count;
  }

  async countTenant(userId: string): Promise<number> {
    let count = 0;
    for (const collection of await this.collections()) {
      count += (await this.load(this.file(collection, userId))).entries.size;
    }
    return count;
  }

  async ping(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async close(): Promise<void> {}
}
