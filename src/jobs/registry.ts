import type { AnyJobDefinition } from './job.ts';

// Every background job, one file each. The worker serves exactly these; enqueue is typed by them.
export const jobs = [] as const satisfies readonly AnyJobDefinition[];

export type Jobs = typeof jobs;
