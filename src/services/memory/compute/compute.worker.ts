// The compute pool's worker thread: runs one named task and moves its typed arrays back to the
// caller instead of copying them. Loaded by URL as a .ts file (Node 24 strips the types).
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { buffersOf, runTask, type TaskName } from './tasks.ts';

export default function compute({ task, input }: { task: TaskName; input: never }) {
  const output = runTask(task, input);
  return move({ [transferableSymbol]: buffersOf(output), [valueSymbol]: output });
}
