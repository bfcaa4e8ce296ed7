import type { z } from 'zod';
import type { Services } from '../container.ts';
import type { Logger } from '../logger.ts';

export const QUEUE_NAMES = ['ingest', 'memory', 'train', 'chat'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobContext {
  services: Services;
  jobId: string;
  /** 1-based attempt number of this run. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the job is cancelled or the worker shuts down. */
  signal: AbortSignal;
  log: Logger;
}

export interface JobDefinition<Name extends string = string, Payload extends z.ZodType = z.ZodType> {
  name: Name;
  queue: QueueName;
  payload: Payload;
  attempts?: number;
  backoffMs?: number;
  /** A stable id for a payload, so a duplicate enqueue is dropped while the first is pending. */
  jobId?(payload: z.output<Payload>): string;
  handle(payload: z.output<Payload>, ctx: JobContext): Promise<unknown>;
  /** Runs once, when the last attempt failed (or the error was permanent): record and announce it. */
  onFinalFailure?(payload: z.output<Payload>, error: Error, ctx: JobContext): Promise<void>;
}

/** Thrown by a handler for failures that no retry can fix (a corrupt file): fails at once. */
export class PermanentJobError extends Error {
  readonly permanent = true;
}

export class JobCancelledError extends Error {
  constructor() {
    super('job cancelled');
  }
}

export function defineJob<Name extends string, Payload extends z.ZodType>(
  definition: JobDefinition<Name, Payload>,
): JobDefinition<Name, Payload> {
  return definition;
}

export type AnyJobDefinition = JobDefinition<string, z.ZodType>;

/** Job name → the payload its producer passes, for a list of definitions. */
export type JobPayloads<D extends readonly AnyJobDefinition[]> = {
  [J in D[number] as J['name']]: z.input<J['payload']>;
};

/** The worker refuses to start on a registry with duplicate or incomplete entries. */
export function validateRegistry(definitions: readonly AnyJobDefinition[]): void {
  const seen = new Set<string>();
  for (const d of definitions) {
    if (!d.name || /:/.test(d.name))
      throw new Error(`job name ${JSON.stringify(d.name)} is empty or contains ':'`);
    if (seen.has(d.name)) throw new Error(`job ${d.name} is registered twice`);
    if (typeof d.handle !== 'function') throw new Error(`job ${d.name} has no handler`);
    if (!(QUEUE_NAMES as readonly string[]).includes(d.queue))
      throw new Error(`job ${d.name}: unknown queue ${d.queue}`);
    seen.add(d.name);
  }
}
