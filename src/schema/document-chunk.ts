import { chunkText } from '../resolvers/documents.resolver.ts';
import type { ChunkRef } from '../services/documents/documents.service.ts';
import { builder } from './builder.ts';

export const DocumentChunkRef = builder.objectRef<ChunkRef>('DocumentChunk').implement({
  description: "One chunk of a document's text, read from object storage.",
  fields: (t) => ({
    index: t.exposeInt('index'),
    s3Path: t.exposeString('s3Path'),
    text: t.string({ resolve: chunkText }),
  }),
});
