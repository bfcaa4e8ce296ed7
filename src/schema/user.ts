import { builder } from './builder.ts';

interface Viewer {
  id: string;
}

export const UserRef = builder.objectRef<Viewer>('User').implement({
  description: 'The authenticated user, whose tenant every other field is scoped to.',
  fields: (t) => ({
    id: t.exposeID('id'),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    description: 'The caller.',
    resolve: async (_root, _args, ctx) => ({ id: ctx.userId }),
  }),
);
