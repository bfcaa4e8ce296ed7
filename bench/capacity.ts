// Capacity of a chat chain (`chat` and `chat-floor` benches): the most concurrent streams at a
// model's pace whose p99 added latency per delta stays within a bound. Every token leaves the
// stand-in model stamped with the time it was written; a delta's added latency is the time from
// its first token's stamp to the client receiving it, i.e. everything after the model (worker,
// Redis, API, WebSocket, the coalescing window itself), on one clock (processes of one machine).

/** Milliseconds on a clock every process of the machine shares. */
export const clockMs = () => performance.timeOrigin + performance.now();

/** The stand-in's token with the time it left the model (in 0.1 ms). */
export const stampToken = (token: string) => `${token}@${Math.round(clockMs() * 10)}`;

/** Added latency of a delta: now minus its first token's stamp; NaN when it carries none. */
export function deltaLatencyMs(text: string, at = clockMs()): number {
  const m = /@(\d+)/.exec(text);
  return m ? at - Number(m[1]) / 10 : Number.NaN;
}

/** Knobs of the search: BENCH_CAPACITY_* in the environment. */
export const CAPACITY = {
  limitMs: Number(process.env.BENCH_CAPACITY_P99_MS ?? 150),
  gapMs: Number(process.env.BENCH_CAPACITY_GAP_MS ?? 20),
  start: Number(process.env.BENCH_CAPACITY_START ?? 50),
  max: Number(process.env.BENCH_CAPACITY_MAX ?? 1600),
  /** Bisection stops when the bracket is this narrow (streams). */
  resolution: Number(process.env.BENCH_CAPACITY_RESOLUTION ?? 25),
  rampMs: Number(process.env.BENCH_CAPACITY_RAMP_MS ?? 3000),
  windowMs: Number(process.env.BENCH_CAPACITY_WINDOW_MS ?? 4000),
};

export interface CapacityStep {
  streams: number;
  deltaP50Ms: number;
  deltaP99Ms: number;
  deltas: number;
  tokensPerSec: number;
  [extra: string]: number;
}

/**
 * Doubling from `start` while a step passes (p99 ≤ limit), then bisecting between the last pass
 * and the first failure down to `resolution` streams. Returns the most streams seen to pass (0
 * when even `start` fails) and every step, in the order run.
 */
export async function searchCapacity(
  step: (streams: number) => Promise<CapacityStep>,
  options = CAPACITY,
): Promise<{ capacity: number; steps: CapacityStep[] }> {
  const steps: CapacityStep[] = [];
  const passes = async (n: number) => {
    const s = await step(n);
    steps.push(s);
    console.error(`capacity step: ${JSON.stringify(s)}`);
    return s.deltas > 0 && s.deltaP99Ms <= options.limitMs;
  };
  let good = 0;
  let bad = 0;
  for (let n = options.start; n <= options.max; n *= 2) {
    if (await passes(n)) good = n;
    else {
      bad = n;
      break;
    }
  }
  if (bad === 0) return { capacity: good, steps };
  let low = good;
  let high = bad;
  while (high - low > options.resolution) {
    const mid = Math.round((low + high) / 2);
    if (await passes(mid)) low = mid;
    else high = mid;
  }
  return { capacity: low, steps };
}
