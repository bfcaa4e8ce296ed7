import { Presets, SingleBar } from 'cli-progress';
import {
  StartTrainingDocument,
  type TrainingRunFieldsFragment,
  type TrainingStatusEvent,
} from '../../../sdk/node.ts';
import { CliError, type Output, oneLine, table } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

export interface TrainOptions extends GlobalOptions {
  follow?: boolean;
}

const number = (v: unknown) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : '–';

/** The evaluation's scores: one row per metric, a column per model (candidate, current, base). */
function evaluationTable(out: Output, run: TrainingRunFieldsFragment) {
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

/** `twin train [--follow]`: starts a run; following it shows stage, a step bar, the loss and the evaluation. */
export async function train(options: TrainOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    if (!options.follow) {
      const started = (await client.request(StartTrainingDocument, {})).startTraining;
      if (started.__typename !== 'TrainingRun') throw new CliError(started.message);
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
    let lastStage: string | null = null;
    const onStatus = (s: TrainingStatusEvent) => {
      const stage = (s.stage ?? s.status).toLowerCase();
      const loss = number(s.loss);
      if (bar) {
        if (!barStarted && s.totalSteps) {
          bar.start(s.totalSteps, s.step ?? 0, { stage, loss });
          barStarted = true;
        } else if (barStarted) bar.update(s.step ?? 0, { stage, loss });
        if (s.totalSteps) bar.setTotal(s.totalSteps);
      } else if (!out.json && stage !== lastStage)
        out.line(
          `${stage}${s.step != null && s.totalSteps ? ` step ${s.step}/${s.totalSteps}` : ''}${s.loss != null ? ` loss ${loss}` : ''}`,
        );
      if (bar && !barStarted && stage !== lastStage) process.stderr.write(`${stage}\n`);
      if (s.error && !out.json) process.stderr.write(`twin: ${oneLine(s.error, 200)}\n`);
      lastStage = stage;
    };
    let result: Awaited<ReturnType<typeof client.train>>;
    try {
      result = await client.train({ onStatus });
    } finally {
      if (barStarted) bar?.stop();
    }
    if (result.__typename !== 'TrainingRun') throw new CliError(result.message);
    const { run } = result;
    if (run.status === 'FAILED' || run.status === 'CANCELLED') process.exitCode = 1;
    if (out.json) return out.printJson(run);
    out.line(
      `Run ${run.id} ${run.status.toLowerCase()}${run.loss != null ? `, final loss ${number(run.loss)}` : ''}${run.promoted ? ', promoted' : ''}`,
    );
    if (run.error) out.line(out.red(oneLine(run.error, 200)));
    evaluationTable(out, run);
  });
}
