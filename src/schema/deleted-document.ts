import { deleteDocument } from '../resolvers/documents.resolver.ts';
import { NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';

const DeletedDocumentRef = builder.objectRef<{ id: string }>('DeletedDocument').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationField('deleteDocument', (t) =>
  t.field({
    type: DeletedDocumentRef,
    description: 'Removes the document, its raw file, every chunk object and every vector.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: deleteDocument,
  }),
);
