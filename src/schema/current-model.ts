import { currentModel } from '../resolvers/training.resolver.ts';
import type { CurrentModel } from '../services/training/training.service.ts';
import { builder } from './builder.ts';
import { TrainingRunRef } from './training-run.ts';

const CurrentModelRef = builder.objectRef<CurrentModel>('CurrentModel').implement({
  description: 'The model your twin answers with.',
  fields: (t) => ({
    model: t.exposeString('model', { description: 'The name chat sends: twin:{userId}.' }),
    trained: t.boolean({
      description: 'False while the base model is served.',
      resolve: (m) => m.run !== null,
    }),
    run: t.field({
      type: TrainingRunRef,
      nullable: true,
      description: 'The promoted run; null while the base model is served.',
      resolve: (m) => m.run,
    }),
    baseModel: t.exposeString('baseModel', { nullable: true }),
  }),
});

builder.queryField('currentModel', (t) =>
  t.field({ type: CurrentModelRef, description: 'The model your twin answers with.', resolve: currentModel }),
);
