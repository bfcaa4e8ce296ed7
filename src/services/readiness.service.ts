import type { Services } from '../container.ts';

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
export async function checkReadiness(services: Services, timeoutMs = 1500) {
  const [postgres, redis, vectors, objects] = await Promise.all([
    probe('postgres', timeoutMs, () => services.orm.em.getConnection().execute('SELECT 1')),
    probe('redis', timeoutMs, () => services.queue.ping()),
    probe(services.vectors.backend, timeoutMs, () => services.vectors.ping()),
    probe('s3', timeoutMs, () => services.blobs.ping()),
  ]);
  const checks = { postgres, redis, vectors, objects };
  return { ok: Object.values(checks).every((c) => c.ok), checks };
}
