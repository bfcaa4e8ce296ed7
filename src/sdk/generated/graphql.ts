/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An ISO-8601 timestamp in UTC. */
  DateTime: { input: string; output: string; }
  /** Arbitrary JSON. */
  JSON: { input: unknown; output: unknown; }
};

/** An expected failure a client can act on. */
export type Error = {
  /** Stable, machine-readable error code. */
  code: Scalars['String']['output'];
  message: Scalars['String']['output'];
};

/** A step of a document ingest. `seq` orders events per user; pass it back as `afterSeq` to resume. */
export type IngestProgress = {
  __typename?: 'IngestProgress';
  attempt: Scalars['Int']['output'];
  documentId: Scalars['ID']['output'];
  done: Scalars['Int']['output'];
  error: Maybe<Scalars['String']['output']>;
  seq: Scalars['Int']['output'];
  stage: IngestStage;
  total: Scalars['Int']['output'];
};

export type IngestStage =
  | 'CHUNKING'
  | 'DONE'
  | 'EMBEDDING'
  | 'EXTRACTING'
  | 'FAILED'
  | 'INDEXING'
  | 'QUEUED';

export type InvalidInput = Error & {
  __typename?: 'InvalidInput';
  /** Stable, machine-readable error code. */
  code: Scalars['String']['output'];
  message: Scalars['String']['output'];
};

export type NotFound = Error & {
  __typename?: 'NotFound';
  /** Stable, machine-readable error code. */
  code: Scalars['String']['output'];
  entity: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  message: Scalars['String']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** The caller. */
  me: User;
};

export type Subscription = {
  __typename?: 'Subscription';
  /** Ingest progress of the caller's documents (one document when documentId is given). With afterSeq, events retained since that seq are replayed first. */
  ingestProgress: IngestProgress;
};


export type SubscriptionIngestProgressArgs = {
  afterSeq: InputMaybe<Scalars['Int']['input']>;
  documentId: InputMaybe<Scalars['ID']['input']>;
};

/** The authenticated user, whose tenant every other field is scoped to. */
export type User = {
  __typename?: 'User';
  id: Scalars['ID']['output'];
};

export type IngestStage =
  | 'CHUNKING'
  | 'DONE'
  | 'EMBEDDING'
  | 'EXTRACTING'
  | 'FAILED'
  | 'INDEXING'
  | 'QUEUED';

export type IngestProgressSubscriptionVariables = Exact<{
  documentId?: string | null | undefined;
  afterSeq?: number | null | undefined;
}>;


export type IngestProgressSubscription = { ingestProgress: { documentId: string, stage: IngestStage, done: number, total: number, attempt: number, error: string | null, seq: number } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string } };


export const IngestProgressDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"IngestProgress"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"documentId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"afterSeq"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"ingestProgress"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"documentId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"documentId"}}},{"kind":"Argument","name":{"kind":"Name","value":"afterSeq"},"value":{"kind":"Variable","name":{"kind":"Name","value":"afterSeq"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"documentId"}},{"kind":"Field","name":{"kind":"Name","value":"stage"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"attempt"}},{"kind":"Field","name":{"kind":"Name","value":"error"}},{"kind":"Field","name":{"kind":"Name","value":"seq"}}]}}]}}]} as unknown as DocumentNode<IngestProgressSubscription, IngestProgressSubscriptionVariables>;
export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;