import { bioText, buildPrompt } from '../chat/prompt.ts';
import type { RetrievedChunk } from '../documents/retrieval.service.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { ChatModel } from '../ports/chat-model.ts';
import { chunkIdOf } from '../ports/memory.ts';
import { memoryKeys } from '../tenant-keys.ts';
import type { EvalItem } from '../training-data/records.ts';
import { type Answerer, evaluateModel, type ModelEvaluation, promotionDecision } from './evaluation.ts';
import type { EvaluateRun, EvaluationOutcome } from './training.service.ts';

// The evaluate-model job's scoring (MEMORY-TRAINING.md D): every item of the run's held-out
// eval.json goes through the chat path a reply takes (hybrid retrieval → buildPrompt with the bio,
// temperature 0) to the candidate `twin:{userId}@{runId}`, to the served `twin:{userId}`, and to
// the base model with retrieval — `twin:{userId}` itself while nothing is promoted, the inference
// app's `twin:{userId}@base` once something is — so a candidate is never promoted over a model
// worse than the base one; the scorer of evaluation.ts scores them and its rule decides.

export interface RunEvaluationDeps {
  blobs: BlobStore;
  retrieval: { retrieve(userId: string, question: string, signal?: AbortSignal): Promise<RetrievedChunk[]> };
  chatModel: ChatModel;
}

export interface RunEvaluationOptions {
  /** Items asked per model (the first ones of eval.json). */
  maxItems: number;
  contextTokens: number;
  maxTokens: number;
  concurrency: number;
}

const summary = (e: ModelEvaluation) => ({ model: e.model, ...e.scores });

/** A run's own GGUF, served before any promotion (contracts/README.md). */
export const candidateModel = (userId: string, runId: string) => `twin:${userId}@${runId}`;
/** The base model with the user's retrieval, even once a trained model is served. */
export const baseModel = (userId: string) => `twin:${userId}@base`;

export function createRunEvaluator(deps: RunEvaluationDeps, options: RunEvaluationOptions): EvaluateRun {
  return async ({ userId, run, current, signal }) => {
    const evalKey = run.dataset?.evalKey;
    if (typeof evalKey !== 'string') throw new Error(`run ${run.id} has no eval.json`);
    const items = (JSON.parse((await deps.blobs.get(userId, evalKey)).toString('utf8')) as EvalItem[]).slice(
      0,
      options.maxItems,
    );
    let bio: string | null = null;
    try {
      bio = bioText(JSON.parse((await deps.blobs.get(userId, memoryKeys.bio())).toString('utf8')));
    } catch (error) {
      if (!(error instanceof BlobNotFoundError) && !(error instanceof SyntaxError)) throw error;
    }
    // retrieval does not depend on the model: once per question, shared by every model asked
    const retrieved = new Map<string, Promise<RetrievedChunk[]>>();
    const sourcesOf = (question: string) => {
      let hit = retrieved.get(question);
      if (!hit) {
        hit = deps.retrieval.retrieve(userId, question, signal);
        retrieved.set(question, hit);
      }
      return hit;
    };
    const answerer =
      (model: string): Answerer =>
      async (question) => {
        const prompt = buildPrompt({
          bio,
          question,
          sources: await sourcesOf(question),
          history: [],
          contextTokens: options.contextTokens,
          historyTokens: 0,
        });
        let text = '';
        for await (const chunk of deps.chatModel.stream({
          userId,
          model,
          messages: prompt.messages,
          question,
          passages: prompt.sources.map((s) => ({ n: s.n, text: s.text, score: s.score })),
          maxTokens: options.maxTokens,
          temperature: 0,
          signal: signal ?? new AbortController().signal,
        }))
          if (chunk.type === 'token') text += chunk.text;
        return {
          text,
          sources: prompt.sources.map((s) => ({
            chunkId: chunkIdOf(s.documentId, s.chunkIndex),
            text: s.text,
          })),
        };
      };
    const ask = (model: string) =>
      evaluateModel(model, items, answerer(model), { bio, concurrency: options.concurrency, signal });
    const candidate = await ask(candidateModel(userId, run.id));
    const served = await ask(`twin:${userId}`);
    const base = current ? await ask(baseModel(userId)) : served;
    const decision = promotionDecision({
      candidate: candidate.scores,
      current: current ? served.scores : null,
      base: base.scores,
    });
    const outcome: EvaluationOutcome = {
      promote: decision.promote,
      reason: decision.reasons.join('; '),
      items: items.length,
      candidate: summary(candidate),
      ...(current ? { current: { ...summary(served), runId: current.id } } : {}),
      base: summary(base),
    };
    return outcome;
  };
}
