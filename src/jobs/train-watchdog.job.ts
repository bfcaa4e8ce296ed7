import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// A round of the training watchdog (MEMORY-TRAINING.md C): runs whose callbacks stopped are asked
// about (GET /train/{callId}); a dead attempt is failed and retried. Each round queues the next
// while any run is active, one job per interval (its id is the round's time).
export const trainWatchdogJob = defineJob({
  name: 'train-watchdog',
  queue: 'train',
  payload: JOBS['train-watchdog'].payload,
  jobId: (p) => `train-watchdog-${p.round}`,
  handle: (_payload, ctx) => ctx.services.training.watchdog(ctx),
  // a lost round would leave silent runs unwatched: the next one is queued even after a failure
  onFinalFailure: (_payload, _error, ctx) => ctx.services.training.scheduleWatchdog(),
});
