import { JOBS } from '../services/ports/job-queue.ts';
import { defineJob } from './job.ts';

// One attempt of a training run sent to the trainer (POST /train with `attempt`); a trainer that
// cannot be reached is retried with backoff, one that rejects the request fails the run.
export const submitTrainingJob = defineJob({
  name: 'submit-training',
  queue: 'train',
  payload: JOBS['submit-training'].payload,
  jobId: (p) => `submit-${p.runId}-${p.attempt}`,
  handle: (payload, ctx) => ctx.services.training.submit(payload, ctx),
  onFinalFailure: (payload, error, ctx) => ctx.services.training.jobFailed(payload, error),
});
