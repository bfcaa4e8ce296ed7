// Starts training the twin on your memory and follows the run to its end: stage, step and loss as
// they come, then the evaluation. A refusal (not enough memory, a run already going, no trainer)
// is printed with its reason and exits with 2.
//   TWIN_URL=http://localhost:4000/graphql TWIN_API_KEY=dt_… node examples/follow-training.ts
import { createTwinClient } from 'digital-twin-server/sdk';

const twin = createTwinClient({
  url: process.env.TWIN_URL ?? 'http://localhost:4000/graphql',
  apiKey: process.env.TWIN_API_KEY,
});

try {
  const result = await twin.train({
    onStatus: (s) => {
      const step = s.step != null && s.totalSteps ? ` step ${s.step}/${s.totalSteps}` : '';
      const loss = s.loss != null ? ` loss ${s.loss.toFixed(3)}` : '';
      console.log(`${s.event}: ${s.status}${s.stage ? ` (${s.stage})` : ''}${step}${loss}`);
    },
  });
  if (result.__typename !== 'TrainingRun') {
    console.log(`cannot train: ${result.__typename}: ${result.message}`);
    process.exitCode = 2;
  } else {
    const { run } = result;
    console.log(`run ${run.id}: ${run.status}${run.error ? ` (${run.error})` : ''}`);
    if (run.evaluation)
      console.log(`evaluation: promote=${run.evaluation.promote} — ${run.evaluation.reason}`);
    console.log(`promoted: ${run.promoted}`);
  }
} finally {
  await twin.close();
}
