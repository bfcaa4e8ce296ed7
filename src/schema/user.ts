import { me, type Viewer } from '../resolvers/user.resolver.ts';
import { builder } from './builder.ts';

export const UserRef = builder.objectRef<Viewer>('User').implement({
  description: 'The authenticated user, whose tenant every other field is scoped to.',
  fields: (t) => ({
    id: t.exposeID('id'),
  }),
});

builder.queryField('me', (t) => t.field({ type: UserRef, description: 'The caller.', resolve: me }));
