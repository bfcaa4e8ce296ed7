// The `memory` bench's worker process (`node src/worker.ts` as the bench needs it): the services
// and every BullMQ worker, from the environment the bench gives it, plus its own measurements.
// Over IPC the bench sends `reset` at the start of a phase and `report` at its end; the answer
// is the main thread's event-loop delay p99/max (perf_hooks.monitorEventLoopDelay, 10 ms
// resolution) and the process's peak RSS (process.memoryUsage().rss every 200 ms: the compute
// worker thread's heap is inside it) since the last reset, with the main thread's heap at that
// sample, and the peak over the whole run.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { startWorkers } from '../src/worker-runtime.ts';

const config = parseConfig(process.env);
const services = await createServices(config, pino({ level: process.env.LOG_LEVEL ?? 'warn' }), jobs);
const pool = await startWorkers(services, jobs);

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
let phasePeak = process.memoryUsage().rss;
let runPeak = phasePeak;
// the main thread's V8 heap at the phase's peak RSS sample: RSS − heapTotal − external is mostly
// the compute thread's heap and native memory
let atPeak = process.memoryUsage();
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  if (usage.rss > phasePeak) {
    phasePeak = usage.rss;
    atPeak = usage;
  }
  if (usage.rss > runPeak) runPeak = usage.rss;
}, 200);

process.on('message', async (message: { type: string }) => {
  if (message.type === 'reset') {
    lag.reset();
    atPeak = process.memoryUsage();
    phasePeak = atPeak.rss;
    process.send!({ type: 'reset' });
  } else if (message.type === 'report') {
    process.send!({
      type: 'report',
      lagP99Ms: Math.round((lag.percentile(99) / 1e6) * 10) / 10,
      lagMaxMs: Math.round((lag.max / 1e6) * 10) / 10,
      peakRssMb: mb(phasePeak),
      atPeakMb: {
        heapUsed: mb(atPeak.heapUsed),
        heapTotal: mb(atPeak.heapTotal),
        external: mb(atPeak.external),
      },
      runPeakRssMb: mb(runPeak),
    });
  } else if (message.type === 'stop') {
    clearInterval(sampler);
    await pool.close(10_000);
    await services.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready', rssMb: mb(process.memoryUsage().rss) });
