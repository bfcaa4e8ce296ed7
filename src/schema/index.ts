import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './user.ts';
import './ingest-progress.ts';
import './document.ts';
import './search.ts';
import './chat.ts';
import './twin-reply.ts';

builder.queryType({});
builder.subscriptionType({});
builder.mutationType({});

export const schema = lexicographicSortSchema(builder.toSchema());
