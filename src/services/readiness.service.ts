import type { BlobStore } from './ports/blob-store.ts';
import type { JobQueue } from './ports/job-queue.ts';
import type { Database } from './ports/repositories.ts';
import type { VectorIndex } from './ports/vector-index.ts';

export interface ReadinessDeps {
  db: Pick<Database, 'ping'>;
  queue: Pick<JobQueue, 'ping'>;
  vectors: Pick<VectorIndex, 'ping' | 'backend'>;
  blobs: Pick<BlobStore, 'ping'>;
}

export interface DependencyStatus {
  ok: boolean;
  latencyMs: number;
  backend: string;
  error?: string;
}

async function probe(
  backend: string,
  timeoutMs: number,
  check: () => Promise<unknown>,
): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started), backend };
  } catch (error) {
    // the message names the failure, never a URL with credentials
    const message =
      error instanceof Error ? error.message.replace(/\/\/[^@/\s]*@/g, '//***@') : 'unavailable';
    return { ok: false, latencyMs: Math.round(performance.now() - started), backend, error: message };
  } finally {
    clearTimeout(timer);
  }
}

/** Per-dependency status for /readyz: each probe is time-boxed, so a dead dependency answers red quickly. */
export async function checkReadiness(deps: ReadinessDeps, timeoutMs = 1500) {
  const [postgres, redis, vectors, objects] = await Promise.all([
    probe('postgres', timeoutMs, () => deps.db.ping()),
    probe('redis', timeoutMs, () => deps.queue.ping()),
    probe(deps.vectors.backend, timeoutMs, () => deps.vectors.ping()),
    probe('s3', timeoutMs, () => deps.blobs.ping()),
  ]);
  const checks = { postgres, redis, vectors, objects };
  return { ok: Object.values(checks).every((c) => c.ok), checks };
}
