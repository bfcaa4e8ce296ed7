import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './user.ts';
import './api-key.ts';
import './account.ts';
import './ingest-progress.ts';
import './document.ts';
import './deleted-document.ts';
import './upload-document-result.ts';
import './search-hit.ts';
import './embedder-info.ts';
import './chat-session.ts';
import './send-message-payload.ts';
import './cancel-reply-payload.ts';
import './twin-reply.ts';
import './memory.ts';
import './memory-version.ts';
import './memory-progress.ts';
import './document-perspective.ts';

builder.queryType({});
builder.subscriptionType({});
builder.mutationType({});

export const schema = lexicographicSortSchema(builder.toSchema());
