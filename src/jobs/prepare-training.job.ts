import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// L2 data of a training run from its pinned L1 version (MEMORY-TRAINING.md B), then the first
// submission to the trainer. No GPU is touched here. Memory too small fails the run at once.
export const prepareTrainingJob = defineJob({
  name: 'prepare-training',
  queue: 'train',
  payload: JOBS['prepare-training'].payload,
  jobId: (p) => `prepare-${p.runId}`,
  handle: (payload, ctx) => ctx.services.training.prepare(payload, ctx),
  onFinalFailure: (payload, error, ctx) => ctx.services.training.jobFailed(payload, error),
});
