import * as account from '../resolvers/account.resolver.ts';
import type { AccountDeletionReceipt, DeletedChat } from '../services/account/account.service.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';

const DeletedChatRef = builder.objectRef<DeletedChat>('DeletedChat').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    objects: t.exposeInt('objects', {
      description: 'Stored objects removed: transcript, training files, memory files.',
    }),
    vectors: t.exposeInt('vectors', { description: 'Vectors of the memory the chat became.' }),
    documents: t.exposeInt('documents', { description: 'Memory documents removed (0 or 1).' }),
  }),
});

const DeletedRowsRef = builder.objectRef<AccountDeletionReceipt['rows']>('DeletedRows').implement({
  description: 'Rows removed, by table.',
  fields: (t) => ({
    users: t.exposeInt('users'),
    documents: t.exposeInt('documents'),
    chatSessions: t.exposeInt('chatSessions'),
    apiKeys: t.exposeInt('apiKeys'),
    trainingJobs: t.exposeInt('trainingJobs'),
  }),
});

const AccountDeletionReceiptRef = builder
  .objectRef<AccountDeletionReceipt>('AccountDeletionReceipt')
  .implement({
    description: 'What deleteAccount removed, and when.',
    fields: (t) => ({
      userId: t.exposeID('userId'),
      rows: t.field({ type: DeletedRowsRef, resolve: (r) => r.rows }),
      objects: t.exposeInt('objects', { description: 'Objects removed from storage under the tenant.' }),
      vectors: t.exposeInt('vectors', { description: 'Vectors removed from every collection.' }),
      deletedAt: t.field({ type: 'DateTime', resolve: (r) => r.deletedAt }),
    }),
  });

const DataExportRef = builder.objectRef<{ path: string; contentType: string }>('DataExport').implement({
  description: 'Where to download everything stored about the caller (GET with the same Authorization).',
  fields: (t) => ({
    path: t.exposeString('path'),
    contentType: t.exposeString('contentType'),
  }),
});

builder.mutationField('deleteChat', (t) =>
  t.field({
    type: DeletedChatRef,
    description:
      'Removes the session, its transcript and training files, the memory it became (chunks and vectors) and its pending memory job.',
    errors: { types: [NotFoundError], directResult: true },
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: account.deleteChat,
  }),
);

builder.mutationField('deleteAccount', (t) =>
  t.field({
    type: AccountDeletionReceiptRef,
    description:
      "Removes every row, object and vector of the caller's. `confirm` must be the caller's own user id. An access token still valid afterwards acts as a new, empty user; API keys are gone.",
    errors: { types: [InvalidInputError], directResult: true },
    args: { confirm: t.arg.string({ required: true }) },
    resolve: account.deleteAccount,
  }),
);

builder.queryField('exportMyData', (t) =>
  t.field({
    type: DataExportRef,
    description: 'A zip of every row and stored file of the caller, downloaded from `path`.',
    resolve: account.exportMyData,
  }),
);
