import { Presets, SingleBar } from 'cli-progress';
import {
  StartTrainingDocument,
  TrainingRunDocument,
  type TrainingRunFieldsFragment,
  TrainingStatusDocument,
  type TrainingStatusEvent,
  type TwinClient,
} from '../../../sdk/node.ts';
import { CliError, type Output, oneLine, table } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

export interface TrainOptions extends GlobalOptions {
  follow?: boolean;
}

const number = (v: unknown) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : '–';

/** The evaluation's scores: one row per metric, a column per model (candidate, current, base). */
export function evaluationTable(out: Output, run: Pick<TrainingRunFieldsFragment, 'evaluation'>) {
  const ev = run.evaluation;
  if (!ev) return out.line(out.dim('no evaluation'));
  const scores = (ev.scores ?? {}) as Record<string, Record<string, unknown> | null | undefined>;
  const columns = (['candidate', 'current', 'base'] as const).filter((c) => scores[c]);
  const metrics = new Set<string>();
  for (const c of columns)
    for (const [k, v] of Object.entries(scores[c] ?? {})) if (typeof v === 'number') metrics.add(k);
  out.line(
    `${out.bold('Evaluation')} ${ev.status.toLowerCase()}: ${ev.promote ? 'promote' : 'keep the current model'}${ev.reason ? ` (${oneLine(ev.reason, 100)})` : ''}`,
  );
  const rows = table([
    ['METRIC', ...columns.map((c) => c.toUpperCase())],
    ...[...metrics].map((m) => [m, ...columns.map((c) => number(scores[c]?.[m]))]),
  ]);
  for (const [i, row] of rows.entries()) out.line(i === 0 ? out.bold(row) : row);
}

async function runOf(client: TwinClient, id: string): Promise<TrainingRunFieldsFragment> {
  const run = (await client.request(TrainingRunDocument, { id })).trainingRun;
  if (!run) throw new CliError(`training run ${id} is gone`);
  return run;
}

/**
 * Follows trainingStatus to the run's end: failed, cancelled, promoted, or evaluated and not to be
 * promoted. (Not the SDK's train(): its isLast is asked before its loop has seen the final event,
 * and the server never completes the stream, so it waits on after a failure.)
 */
async function follow(client: TwinClient, runId: string, onStatus: (s: TrainingStatusEvent) => void) {
  const events = client.subscribe(
    TrainingStatusDocument,
    { runId, afterSeq: 0 },
    { seqOf: (e) => ('seq' in e.trainingStatus ? e.trainingStatus.seq : undefined) },
  );
  for await (const { trainingStatus: event } of events) {
    if (event.__typename !== 'TrainingStatus') throw new CliError(event.message);
    if (event.runId !== runId) continue;
    onStatus(event);
    if (['failed', 'cancelled', 'promoted'].includes(event.event)) break;
    if (event.event === 'evaluated') {
      // a cleared evaluation is followed by the promotion only where the server promotes itself
      const run = await runOf(client, runId);
      if (run.evaluation?.promote !== true || run.promoted) break;
    }
  }
  return runOf(client, runId);
}

/** `twin train [--follow]`: starts a run; following it shows stage, a step bar, the loss and the evaluation. */
export async function train(options: TrainOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    const started = (await client.request(StartTrainingDocument, {})).startTraining;
    if (started.__typename !== 'TrainingRun') throw new CliError(started.message);
    if (!options.follow) {
      if (out.json) return out.printJson(started);
      return out.line(
        `Training run ${started.id} ${started.status.toLowerCase()} (twin train --follow shows its progress)`,
      );
    }
    const bar = out.bars
      ? new SingleBar(
          {
            stream: process.stderr,
            format: '{stage} {bar} step {value}/{total} loss {loss}',
            barsize: 30,
            hideCursor: true,
          },
          Presets.shades_classic,
        )
      : undefined;
    let barStarted = false;
    let lastLine = '';
    let lastLoss = '–';
    const onStatus = (s: TrainingStatusEvent) => {
      const stage = (s.stage ?? s.status).toLowerCase();
      if (s.loss != null) lastLoss = number(s.loss);
      const payload = { stage, loss: lastLoss };
      if (bar && s.totalSteps && !barStarted) {
        bar.start(s.totalSteps, s.step ?? 0, payload);
        barStarted = true;
      } else if (bar && barStarted) {
        if (s.totalSteps) bar.setTotal(s.totalSteps);
        if (s.step != null) bar.update(s.step, payload);
        else bar.update(payload);
      } else if (!out.json) {
        // before the steps (or without a terminal): a line per change
        const line = `${stage}${s.step != null && s.totalSteps ? ` step ${s.step}/${s.totalSteps}` : ''}${s.loss != null ? ` loss ${lastLoss}` : ''}`;
        if (line !== lastLine) (bar ? process.stderr : process.stdout).write(`${line}\n`);
        lastLine = line;
      }
    };
    let run: TrainingRunFieldsFragment;
    try {
      run = await follow(client, started.id, onStatus);
    } finally {
      if (barStarted) bar?.stop();
    }
    if (run.status === 'FAILED' || run.status === 'CANCELLED') process.exitCode = 1;
    if (out.json) return out.printJson(run);
    out.line(
      `Run ${run.id} ${run.status.toLowerCase()}${run.loss != null ? `, final loss ${number(run.loss)}` : ''}${run.promoted ? ', promoted' : ''}`,
    );
    if (run.error) out.line(out.red(oneLine(run.error, 200)));
    evaluationTable(out, run);
  });
}
