import { setDocumentPerspective } from '../resolvers/memory.resolver.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { PerspectiveEnum } from './perspective.ts';

builder.mutationField('setDocumentPerspective', (t) =>
  t.field({
    type: DocumentRef,
    description:
      "Overrides whether a document is the person's own words; memory is rebuilt to match (the bio " +
      'draws on subjective topics only). NotFound for a document the caller does not own.',
    errors: { types: [NotFoundError, InvalidInputError], directResult: true },
    args: {
      documentId: t.arg.id({ required: true }),
      perspective: t.arg({ type: PerspectiveEnum, required: true }),
    },
    resolve: setDocumentPerspective,
  }),
);
