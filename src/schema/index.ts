import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './errors.ts';
import './user.ts';
import './ingest-progress.ts';

builder.queryType({});
builder.subscriptionType({});

export const schema = lexicographicSortSchema(builder.toSchema());
