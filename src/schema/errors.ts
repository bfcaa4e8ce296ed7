import { type DomainError, InvalidInputError, NotFoundError } from '../services/errors.ts';
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

builder.objectType(InvalidInputError, {
  name: 'InvalidInput',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidInputError,
  fields: () => ({}),
});
