import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Nearest-rank percentile (p in 0–100) of a sample; 0 for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU milliseconds (user + system, from /proc) a process has used so far; NaN once it is gone. */
export function processCpuMs(pid: number | 'self' = 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS; // 14 utime, 15 stime
  } catch {
    return Number.NaN;
  }
}

const SERVICES: Record<string, string> = {
  'redis-server': 'redis',
  minio: 's3',
  'weaviate-server': 'weaviate',
  postgres: 'postgres',
};

/**
 * CPU milliseconds used so far by each process of the local services, keyed `service:pid`: with
 * the benchmark's own processes this accounts for where the machine's cores went.
 */
export function serviceCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const name = SERVICES[comm];
    if (!name) continue;
    const ms = processCpuMs(Number(pid));
    if (!Number.isNaN(ms)) out[`${name}:${pid}`] = ms;
  }
  return out;
}

/**
 * CPU milliseconds used between two readings, summed by the part of each key before `:` (a
 * service's processes, or one named process); a process that started or ended in between counts
 * for what it used while both readings saw it.
 */
export function cpuDeltaMs(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = { redis: 0, s3: 0, weaviate: 0, postgres: 0 };
  for (const [key, ms] of Object.entries(after)) {
    const was = before[key];
    if (was === undefined || Number.isNaN(was) || Number.isNaN(ms)) continue;
    const name = key.split(':')[0]!;
    out[name] = (out[name] ?? 0) + ms - was;
  }
  return out;
}

/** The CPU milliseconds of one service's processes in a reading of `serviceCpuMs`. */
export function sumOf(reading: Record<string, number>, service: string): number {
  let ms = 0;
  for (const [key, v] of Object.entries(reading)) if (key.startsWith(`${service}:`)) ms += v;
  return ms;
}

/** CPU used per wall second (1000 = one core) between two readings, by service or process. */
export function cpuPerSecond(
  before: Record<string, number>,
  after: Record<string, number>,
  wallMs: number,
): Record<string, number> {
  const used = cpuDeltaMs(before, after);
  return Object.fromEntries(Object.entries(used).map(([k, ms]) => [k, Math.round((ms / wallMs) * 1000)]));
}

/** The machine's CPU time so far (all cores, from /proc/stat), in clock ticks. */
function machineTicks(): { busy: number; idle: number; steal: number } {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map(Number) as number[];
  return {
    busy: user! + nice! + system! + irq! + softirq!,
    idle: idle! + iowait!,
    steal: steal ?? 0,
  };
}

/** Share of the machine's CPU time (0–100) that was busy, and that the hypervisor took (steal). */
export function machineLoad() {
  const before = machineTicks();
  return () => {
    const after = machineTicks();
    const busy = after.busy - before.busy;
    const idle = after.idle - before.idle;
    const steal = after.steal - before.steal;
    const all = Math.max(1, busy + idle + steal);
    return { busyPct: Math.round((busy / all) * 100), stealPct: Math.round((steal / all) * 100) };
  };
}

/**
 * Waits (up to `maxMs`) until the machine has been below `busyPct` % busy for 2 s: what an
 * earlier run or a service left running (MinIO purging deleted objects, a build) would otherwise
 * be measured as the code's. Returns the load of the last 2 s.
 */
export async function waitForQuiet(busyPct = 10, maxMs = 60_000) {
  const until = Date.now() + maxMs;
  for (;;) {
    const load = machineLoad();
    await new Promise((r) => setTimeout(r, 2000));
    const seen = load();
    if (seen.busyPct < busyPct || Date.now() > until) return { ...seen, quiet: seen.busyPct < busyPct };
  }
}

/**
 * The chat steady state's pace (`chat` and `chat-floor` run the same one): streams kept in flight,
 * tokens per reply, ms between tokens, the model's time to first token, ramp-up and window.
 */
export const STEADY_STATE = {
  streams: Number(process.env.BENCH_CONCURRENT ?? 200),
  tokens: Number(process.env.BENCH_CONCURRENT_TOKENS ?? 100),
  gapMs: Number(process.env.BENCH_CONCURRENT_GAP_MS ?? 20),
  modelTtftMs: Number(process.env.BENCH_MODEL_TTFT_MS ?? 50),
  rampMs: Number(process.env.BENCH_STEADY_RAMP_MS ?? 4000),
  windowMs: Number(process.env.BENCH_STEADY_WINDOW_MS ?? 8000),
};
