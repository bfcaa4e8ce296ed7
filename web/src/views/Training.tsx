import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useQuery } from 'urql';
import {
  CancelTrainingDocument,
  CurrentModelDocument,
  PromoteTrainingRunDocument,
  StartTrainingDocument,
  TrainingRunDocument,
  type TrainingRunFieldsFragment,
  TrainingRunsDocument,
  TrainingStatusDocument,
  type TrainingStatusSubscription,
} from '../../../src/sdk/generated/graphql.ts';
import { errorText, useLive, useTransport } from '../session.tsx';

// Training: start and cancel a run, its stage and attempt and a live loss-per-step chart
// (trainingStatus), the evaluation table against the current and the base model, and promote.

type Status = Extract<TrainingStatusSubscription['trainingStatus'], { __typename: 'TrainingStatus' }>;

interface LiveRun {
  status: Status['status'];
  stage: string | null;
  event: string;
  attempt: number;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
  progress: number;
  error: string | null;
  promoted: boolean;
  curve: { step: number; loss: number }[];
}

const ACTIVE = new Set(['QUEUED', 'PROCESSING']);

export function TrainingView() {
  const transport = useTransport();
  const [runs, refetchRuns] = useQuery({
    query: TrainingRunsDocument,
    variables: { first: 10 },
    requestPolicy: 'cache-and-network',
  });
  const [model, refetchModel] = useQuery({ query: CurrentModelDocument, requestPolicy: 'cache-and-network' });
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const list =
    runs.data?.trainingRuns.__typename === 'QueryTrainingRunsConnection'
      ? runs.data.trainingRuns.edges.map((e) => e.node)
      : [];
  const runId = selected ?? list[0]?.id;
  const reload = () => {
    refetchRuns({ requestPolicy: 'network-only' });
    refetchModel({ requestPolicy: 'network-only' });
  };

  const start = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await transport.request(StartTrainingDocument, {});
      const out = r.startTraining;
      if (out.__typename === 'TrainingRun') setSelected(out.id);
      else if (out.__typename === 'TrainingAlreadyRunning') {
        setSelected(out.run.id);
        setError(out.message);
      } else setError(out.message);
      reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const current = model.data?.currentModel;
  return (
    <section aria-labelledby="training-title">
      <h2 id="training-title">Training</h2>
      <p>
        Your twin answers as <code>{current?.model ?? '…'}</code>:{' '}
        {current
          ? current.trained
            ? `a model trained on your memory`
            : `the base model ${current.baseModel ?? ''}`
          : ''}
      </p>
      <div className="row">
        <button type="button" onClick={() => void start()} disabled={busy}>
          Start training
        </button>
        {list.length > 1 && (
          <label>
            Run{' '}
            <select value={runId} onChange={(e) => setSelected(e.target.value)}>
              {list.map((r) => (
                <option key={r.id} value={r.id}>
                  {new Date(r.createdAt).toLocaleString()} · {r.status.toLowerCase()}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {runId ? <RunPanel key={runId} runId={runId} onChanged={reload} /> : <p>No training run yet.</p>}
    </section>
  );
}

function RunPanel({ runId, onChanged }: { runId: string; onChanged: () => void }) {
  const transport = useTransport();
  const [q, refetch] = useQuery({
    query: TrainingRunDocument,
    variables: { id: runId },
    requestPolicy: 'network-only',
  });
  const run = q.data?.trainingRun;
  const [live, setLive] = useState<LiveRun>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!run) return;
    setLive((l) => l ?? fromRun(run));
  }, [run]);

  useLive(
    TrainingStatusDocument,
    { runId },
    (r) => {
      const e = r.trainingStatus;
      if (e.__typename !== 'TrainingStatus') return;
      setLive((l) => {
        const base = l ?? emptyLive();
        const curve =
          e.step != null && e.loss != null && !base.curve.some((p) => p.step === e.step)
            ? [...base.curve, { step: e.step, loss: e.loss }]
            : base.curve;
        return {
          status: e.status,
          stage: e.stage ?? base.stage,
          event: e.event,
          attempt: e.attempt,
          step: e.step ?? base.step,
          totalSteps: e.totalSteps ?? base.totalSteps,
          loss: e.loss ?? base.loss,
          progress: e.progress,
          error: e.error,
          promoted: e.promoted,
          curve,
        };
      });
      if (['completed', 'failed', 'cancelled', 'evaluated', 'promoted', 'prepared'].includes(e.event)) {
        refetch({ requestPolicy: 'network-only' });
        onChanged();
      }
    },
    { seqOf: (r) => ('seq' in r.trainingStatus ? r.trainingStatus.seq : undefined) },
  );

  const act = async (what: 'cancel' | 'promote') => {
    setError(undefined);
    try {
      if (what === 'cancel') {
        const r = await transport.request(CancelTrainingDocument, { id: runId });
        if (r.cancelTraining.__typename !== 'TrainingRun') setError(r.cancelTraining.message);
      } else {
        const r = await transport.request(PromoteTrainingRunDocument, { id: runId });
        if (r.promoteTrainingRun.__typename !== 'TrainingRun') setError(r.promoteTrainingRun.message);
      }
    } catch (e) {
      setError(errorText(e));
    }
    refetch({ requestPolicy: 'network-only' });
    onChanged();
  };

  if (!run || !live) return <p>Loading the run…</p>;
  const status = live.status;
  return (
    <div className="run" data-testid="training-run" data-status={status}>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd data-testid="training-status">{status.toLowerCase()}</dd>
        </div>
        <div>
          <dt>Stage</dt>
          <dd data-testid="training-stage">{live.stage ?? '–'}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{live.attempt} of 3</dd>
        </div>
        <div>
          <dt>Step</dt>
          <dd data-testid="training-step">
            {live.step ?? '–'}
            {live.totalSteps ? ` / ${live.totalSteps}` : ''}
          </dd>
        </div>
        <div>
          <dt>Loss</dt>
          <dd data-testid="training-loss">{live.loss != null ? live.loss.toFixed(4) : '–'}</dd>
        </div>
      </dl>
      <progress max={1} value={live.progress} aria-label="Training progress" />
      {(live.error ?? run.error) && <p className="error">Failed: {live.error ?? run.error}</p>}
      <div className="row">
        {ACTIVE.has(status) && (
          <button type="button" className="danger" onClick={() => void act('cancel')}>
            Cancel training
          </button>
        )}
        {status === 'COMPLETED' && !live.promoted && !run.promoted && (
          <button type="button" onClick={() => void act('promote')}>
            Promote
          </button>
        )}
        {(live.promoted || run.promoted) && <span className="badge">Served as your twin</span>}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <LossChart points={live.curve} />
      <Evaluation run={run} />
    </div>
  );
}

const emptyLive = (): LiveRun => ({
  status: 'QUEUED',
  stage: null,
  event: 'queued',
  attempt: 1,
  step: null,
  totalSteps: null,
  loss: null,
  progress: 0,
  error: null,
  promoted: false,
  curve: [],
});

function fromRun(run: TrainingRunFieldsFragment): LiveRun {
  return {
    status: run.status,
    stage: run.stage,
    event: run.status.toLowerCase(),
    attempt: run.attempt,
    step: run.step,
    totalSteps: run.totalSteps,
    loss: run.loss,
    progress: run.progress,
    error: run.error,
    promoted: run.promoted,
    curve: run.lossCurve.map((p) => ({ step: p.step, loss: p.loss })),
  };
}

/** Loss per step, drawn with uPlot; redrawn as points arrive. */
function LossChart({ points }: { points: { step: number; loss: number }[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const width = () => Math.max(240, (box.current?.clientWidth ?? 600) - 8);
    plot.current = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [
          { label: 'step' },
          { label: 'loss', stroke: '#1d4ed8', width: 2, points: { show: true, size: 5 } },
        ],
      },
      [[], []],
      box.current,
    );
    const onResize = () => plot.current?.setSize({ width: width(), height: 220 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const sorted = [...points].sort((a, b) => a.step - b.step);
    plot.current?.setData([sorted.map((p) => p.step), sorted.map((p) => p.loss)]);
  }, [points]);

  return (
    <figure className="chart">
      <figcaption>
        Training loss per step{' '}
        <span className="muted" data-testid="loss-points">
          ({points.length} points)
        </span>
      </figcaption>
      <div ref={box} role="img" aria-label={`Loss chart with ${points.length} points`} />
    </figure>
  );
}

const METRICS: [string, string][] = [
  ['factAccuracy', 'Fact accuracy'],
  ['abstentionAccuracy', 'Abstention accuracy'],
  ['hallucinationRate', 'Hallucination rate (lower is better)'],
  ['retrievalRecallAt5', 'Recall@5'],
  ['mrr', 'MRR'],
  ['tokenF1', 'Token F1'],
  ['falseAbstention', 'False abstention (lower is better)'],
  ['nonEmptyRate', 'Non-empty answers'],
  ['items', 'Questions asked'],
  ['answerable', 'Answerable'],
  ['unanswerable', 'Unanswerable'],
];

function Evaluation({ run }: { run: TrainingRunFieldsFragment }) {
  const ev = run.evaluation;
  if (!ev) return <p className="muted">The evaluation runs once training completes.</p>;
  const scores = (ev.scores ?? {}) as Record<string, Record<string, unknown> | null | undefined>;
  const columns = (['candidate', 'current', 'base'] as const).filter((c) => scores[c]);
  const keys = new Set<string>();
  for (const c of columns)
    for (const [k, v] of Object.entries(scores[c] ?? {})) if (typeof v === 'number') keys.add(k);
  const rows = [
    ...METRICS.filter(([k]) => keys.has(k)),
    ...[...keys].filter((k) => !METRICS.some(([m]) => m === k)).map((k) => [k, k] as [string, string]),
  ];
  const fmt = (v: unknown) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : '–';
  return (
    <section aria-labelledby="eval-title">
      <h3 id="eval-title">Evaluation: {ev.status}</h3>
      {ev.promote != null && (
        <p>
          {ev.promote ? 'Not worse than the model served: it can be promoted.' : 'Not promoted.'} {ev.reason}
        </p>
      )}
      {columns.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {c === 'candidate' ? 'This run' : c === 'current' ? 'Current model' : 'Base model'}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map(([k, label]) => (
                <tr key={k}>
                  <th scope="row">{label}</th>
                  {columns.map((c) => (
                    <td key={c}>{fmt(scores[c]?.[k])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
