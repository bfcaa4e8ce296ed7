import { type DomainError, InvalidInputError, NotFoundError } from '../services/errors.ts';
import { ReplayGapError } from '../services/ports/event-bus.ts';
import { builder } from './builder.ts';

// Every expected failure shares this interface: a readable message and a stable code.
export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'An expected failure a client can act on.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code', { description: 'Stable, machine-readable error code.' }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFound',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({ entity: t.exposeString('entity'), id: t.exposeID('id') }),
});

builder.objectType(ReplayGapError, {
  name: 'ReplayGap',
  description:
    'A resume asked for events no longer retained. Subscribe again from `oldestSeq - 1` for what ' +
    'is left, or without `afterSeq` (after reading the current state) to start over.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ReplayGapError,
  fields: (t) => ({
    afterSeq: t.exposeInt('afterSeq', { description: 'The `afterSeq` asked for.' }),
    oldestSeq: t.exposeInt('oldestSeq', { description: 'The first seq that can still be delivered.' }),
  }),
});

builder.objectType(InvalidInputError, {
  name: 'InvalidInput',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidInputError,
  fields: () => ({}),
});
