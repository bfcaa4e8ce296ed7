import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type ChunkVector,
  chunkVectorId,
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
}

/**
 * Exact (brute-force cosine) search for machines where Weaviate cannot run. Each tenant is an
 * append-only NDJSON log in its own file, so API and worker processes share it: a reader replays
 * the bytes appended since it last looked. Same port and semantics as the Weaviate adapter.
 */
export class EmbeddedVectorIndex implements VectorIndex {
  readonly backend = 'embedded' as const;
  private readonly tenants = new Map<string, TenantState>();

  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private file(userId: string) {
    return path.join(this.dir, `${tenantName(userId)}.ndjson`);
  }

  private async load(userId: string): Promise<TenantState> {
    const key = tenantName(userId);
    let state = this.tenants.get(key);
    if (!state) {
      state = { entries: new Map(), size: 0 };
      this.tenants.set(key, state);
    }
    const size = await stat(this.file(userId)).then(
      (s) => s.size,
      () => 0,
    );
    if (size === state.size) return state;
    if (size < state.size) state.entries.clear();
    const buf = await readFile(this.file(userId));
    const start = size < state.size ? 0 : state.size;
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

  private async append(userId: string, lines: LogLine[]) {
    await appendFile(this.file(userId), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }

  async ensureTenant(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async upsert(userId: string, chunks: readonly ChunkVector[]): Promise<void> {
    if (chunks.length === 0) return;
    await this.ensureTenant();
    const lines: LogLine[] = chunks.map((c) => ({
      op: 'put',
      entry: {
        ...c,
        id: chunkVectorId(userId, c.documentId, c.chunkIndex, c.embeddingModel),
        norm: Math.hypot(...c.vector),
      },
    }));
    await this.append(userId, lines);
  }

  async search(userId: string, vector: readonly number[], options: SearchOptions): Promise<VectorHit[]> {
    const state = await this.load(userId);
    const qn = Math.hypot(...vector) || 1;
    const hits: VectorHit[] = [];
    for (const e of state.entries.values()) {
      if (e.embeddingModel !== options.embeddingModel || e.vector.length !== vector.length) continue;
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

  async deleteByDocument(userId: string, documentId: string): Promise<number> {
    const count = await this.countByDocument(userId, documentId);
    await this.ensureTenant();
    await this.append(userId, [{ op: 'del', documentId }]);
    return count;
  }

  async countByDocument(userId: string, documentId: string): Promise<number> {
    const state = await this.load(userId);
    let n = 0;
    for (const e of state.entries.values()) if (e.documentId === documentId) n++;
    return n;
  }

  async ping(): Promise<void> {
    await this.ensureTenant();
  }

  async close(): Promise<void> {}
}
