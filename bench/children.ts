import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/** The processes a bench started, in start order; all are sent SIGTERM when the bench exits. */
export const children: ChildProcess[] = [];

export function stopAll(): void {
  for (const c of children) c.kill('SIGTERM');
}
process.on('exit', stopAll);

/** Starts `node <args>` and resolves with the first stdout line `match` accepts. */
export function startChild(
  args: string[],
  env: Record<string, string>,
  match: (line: string) => string | null,
): Promise<string> {
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the processes
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (data: Buffer) => {
      if (process.env.BENCH_LOG_DIR)
        appendFileSync(`${process.env.BENCH_LOG_DIR}/${args.join('_').replace(/\W/g, '_')}.log`, data);
      buffer += data.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const found = match(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (found) resolve(found);
        nl = buffer.indexOf('\n');
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}
