import type { z } from 'zod';
import type { Services } from '../container.ts';
import type { JobDefinition, JobRun } from '../services/ports/job-queue.ts';

export {
  JobCancelledError,
  PermanentJobError,
  QUEUE_NAMES,
  type QueueName,
  validateRegistry,
  WorkerShutdownError,
} from '../services/ports/job-queue.ts';

/** Every run of a job: the worker's run details and the process's services. */
export interface JobContext extends JobRun {
  services: Services;
}

export function defineJob<Name extends string, Payload extends z.ZodType>(
  definition: JobDefinition<Name, Payload, JobContext>,
): JobDefinition<Name, Payload, JobContext> {
  return definition;
}
