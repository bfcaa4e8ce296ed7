import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { DOCUMENT_KINDS, DOCUMENT_STATUSES } from '../../ports/document.ts';

const PERSPECTIVE_SETTINGS = ['auto', 'subjective', 'objective'] as const;

// Tables of DESIGN §3. `user_id` columns are plain TEXT references (FKs live in the migration),
// so every query states its tenant explicitly instead of navigating relations.

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.string().primary(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IUser = InferEntity<typeof User>;

export const Document = defineEntity({
  name: 'Document',
  tableName: 'documents',
  properties: {
    id: p.uuid().primary(),
    userId: p.string(),
    filename: p.text(),
    contentType: p.text(),
    s3Path: p.text().fieldName('s3_path'),
    uploadedAt: p.datetime().onCreate(() => new Date()),
    processed: p.boolean().default(false),
    chunkCount: p.integer().default(0),
    contentHash: p.string().length(64),
    status: p.enum(DOCUMENT_STATUSES).default('queued'),
    error: p.text().nullable(),
    kind: p.enum(DOCUMENT_KINDS).default('document'),
    embeddingModel: p.text().nullable(),
    bytes: p.bigint('number').default(0),
    ingestJobId: p.text().nullable(),
    perspective: p.enum(PERSPECTIVE_SETTINGS).default('auto'),
  },
});
export type IDocument = InferEntity<typeof Document>;

export const TRAINING_STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const;

export const TrainingJob = defineEntity({
  name: 'TrainingJob',
  tableName: 'training_jobs',
  properties: {
    id: p.uuid().primary(),
    userId: p.string(),
    status: p.enum(TRAINING_STATUSES).default('queued'),
    attempt: p.integer().default(1),
    startedAt: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
    loraPath: p.text().nullable(),
    error: p.text().nullable(),
    stage: p.text().nullable(),
    progress: p.double().default(0),
    baseModel: p.text().nullable(),
    datasetPath: p.text().nullable(),
    ggufPath: p.text().nullable(),
    config: p.json<Record<string, unknown>>().nullable(),
    metrics: p.json<Record<string, unknown>>().nullable(),
    modalCallId: p.text().nullable(),
  },
});
export type ITrainingJob = InferEntity<typeof TrainingJob>;

export const ChatSession = defineEntity({
  name: 'ChatSession',
  tableName: 'chat_sessions',
  properties: {
    id: p.uuid().primary(),
    userId: p.string(),
    title: p.text().nullable(),
    summary: p.text().nullable(),
    sessionS3Path: p.text().fieldName('session_s3_path'),
    createdAt: p.datetime().onCreate(() => new Date()),
    processedForTraining: p.boolean().default(false),
  },
});
export type IChatSession = InferEntity<typeof ChatSession>;

export const entities = [User, Document, TrainingJob, ChatSession];
