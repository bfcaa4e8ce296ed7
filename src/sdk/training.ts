// train: starts a training run and follows `trainingStatus` to its final state — failed,
// cancelled, or completed and evaluated (and promoted, when the evaluation cleared it and the
// server promotes on its own). Refusals (not enough memory, a run already going) are results.

import type { CoreClient as Core } from './core.ts';
import {
  StartTrainingDocument,
  type StartTrainingMutation,
  TrainingRunDocument,
  type TrainingRunFieldsFragment,
  TrainingStatusDocument,
  type TrainingStatusSubscription,
} from './generated/graphql.ts';
import { TwinRequestError } from './transport.ts';

export type TrainingStatusEvent = Extract<
  TrainingStatusSubscription['trainingStatus'],
  { __typename: 'TrainingStatus' }
>;

export interface TrainOptions {
  /** Overrides: loraR, loraAlpha, learningRate, epochs, maxSteps, batchSize, maxSeqLength… */
  hyperparameters?: Record<string, unknown>;
  baseModel?: string;
  /** Every status change of the run, as it comes. */
  onStatus?: (status: TrainingStatusEvent) => void;
  signal?: AbortSignal;
}

export type TrainResult =
  | { __typename: 'TrainingRun'; run: TrainingRunFieldsFragment }
  | Exclude<StartTrainingMutation['startTraining'], { __typename: 'TrainingRun' }>;

const ENDS: readonly string[] = ['failed', 'cancelled', 'promoted'];

export async function train(client: Core, opts: TrainOptions = {}): Promise<TrainResult> {
  const started = await client.request(StartTrainingDocument, {
    hyperparameters: opts.hyperparameters,
    baseModel: opts.baseModel,
  });
  const run = started.startTraining;
  if (run.__typename !== 'TrainingRun') return run;
  const current = async () => {
    const answer = await client.request(TrainingRunDocument, { id: run.id });
    if (!answer.trainingRun)
      throw new TwinRequestError(`training run ${run.id} is gone`, { code: 'NOT_FOUND' });
    return answer.trainingRun;
  };
  const events = client.subscribe(
    TrainingStatusDocument,
    { runId: run.id, afterSeq: 0 },
    {
      seqOf: (e) => ('seq' in e.trainingStatus ? e.trainingStatus.seq : undefined),
      // the last event of a run that was not evaluated; after `evaluated` the loop decides
      isLast: (e) =>
        e.trainingStatus.__typename === 'TrainingStatus' && ENDS.includes(e.trainingStatus.event),
      signal: opts.signal,
    },
  );
  for await (const { trainingStatus: event } of events) {
    if (event.__typename !== 'TrainingStatus')
      throw new TwinRequestError(event.message, { code: event.code });
    if (event.runId !== run.id) continue;
    opts.onStatus?.(event);
    // leaving the loop closes the subscription (the server keeps a run's stream open)
    if (ENDS.includes(event.event)) break;
    if (event.event === 'evaluated') {
      // promotion follows an evaluation that cleared the run only where the server auto-promotes
      const evaluated = await current();
      if (evaluated.evaluation?.promote !== true || evaluated.promoted) break;
    }
  }
  return { __typename: 'TrainingRun', run: await current() };
}
