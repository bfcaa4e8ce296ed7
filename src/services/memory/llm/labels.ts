import pMap from 'p-map';
import { z } from 'zod';
import type { LabelSource } from '../../ports/memory.ts';
import type { TextModel } from '../../ports/text-model.ts';
import { askForJson, type CheckResult, TransportBreaker, truncate } from './json-call.ts';

// Cluster labels (MEMORY-TRAINING.md A2): one JSON call per cluster with its representative
// excerpts and c-TF-IDF keywords. Two bad answers or a model that is down: the keyword label.

export interface ClusterToLabel {
  key: string;
  keywords: string[];
  /** Representative excerpts, centroid-nearest first; the first 8 are sent. */
  representatives: string[];
}

export interface ClusterLabel {
  label: string;
  summary: string;
  tags: string[];
  source: LabelSource;
}

export interface LabelClustersOptions {
  concurrency: number;
  signal?: AbortSignal;
  /** The offline label (top keywords, most central sentence). */
  fallback: (key: string) => { label: string; summary: string };
  /** Transport failures in a row after which the rest fall back without a call (default 3). */
  maxTransportFailures?: number;
}

export interface LabelClustersResult {
  labels: Map<string, ClusterLabel>;
  /** Clusters that fell back because the model was down or refused: the build logs and records it. */
  transportFailures: number;
  /** Clusters that fell back after two invalid answers. */
  invalidAnswers: number;
  /** Requests sent. */
  calls: number;
  /** The first transport error, for the log (a fixed text: no upstream details). */
  firstError: string | null;
}

const REPRESENTATIVES = 8;
const EXCERPT_CHARS = 600;
const KEYWORDS = 15;
const MAX_TAGS = 5;

const SYSTEM = `You name a group of passages taken from one person's own notes and documents.
Use only what the excerpts say. Do not guess anything about the person or add facts that are not in the excerpts.
Answer with one JSON object and nothing else:
{"label": "a topic name of 2 to 5 words", "summary": "one or two sentences on what these excerpts are about", "tags": ["at most 5 short lowercase tags"]}`;

const answerSchema = z.object({
  label: z
    .string()
    .trim()
    .min(1)
    .max(80)
    .refine((label) => label.split(/\s+/).length <= 8, 'label must be 2 to 5 words'),
  summary: z.string().trim().min(1).max(800),
  tags: z.array(z.string()).default([]),
});

export async function labelClusters(
  model: TextModel,
  clusters: readonly ClusterToLabel[],
  options: LabelClustersOptions,
): Promise<LabelClustersResult> {
  const breaker = new TransportBreaker(options.maxTransportFailures ?? 3);
  const result: LabelClustersResult = {
    labels: new Map(),
    transportFailures: 0,
    invalidAnswers: 0,
    calls: 0,
    firstError: null,
  };
  const fallBack = (key: string): ClusterLabel => ({
    ...options.fallback(key),
    tags: [],
    source: 'keywords',
  });

  await pMap(
    clusters,
    async (cluster) => {
      if (breaker.open) {
        result.transportFailures++;
        result.labels.set(cluster.key, fallBack(cluster.key));
        return;
      }
      const outcome = await askForJson(model, {
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: labelPrompt(cluster) },
        ],
        maxTokens: 300,
        check: checkLabel,
        signal: options.signal,
      });
      breaker.record(outcome);
      result.calls += outcome.calls;
      if (outcome.ok) {
        result.labels.set(cluster.key, { ...outcome.value, source: 'llm' });
        return;
      }
      if (outcome.reason === 'transport') {
        result.transportFailures++;
        result.firstError ??= outcome.error;
      } else {
        result.invalidAnswers++;
      }
      result.labels.set(cluster.key, fallBack(cluster.key));
    },
    { concurrency: Math.max(1, options.concurrency), signal: options.signal },
  );
  return result;
}

export function labelPrompt(cluster: ClusterToLabel): string {
  const excerpts = cluster.representatives
    .slice(0, REPRESENTATIVES)
    .map((text, i) => `[${i + 1}] ${truncate(text, EXCERPT_CHARS)}`)
    .join('\n\n');
  const keywords = cluster.keywords.slice(0, KEYWORDS).join(', ');
  return `Keywords: ${keywords || '(none)'}\n\nExcerpts:\n${excerpts}`;
}

function checkLabel(json: unknown): CheckResult<Omit<ClusterLabel, 'source'>> {
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  const tags = [
    ...new Set(parsed.data.tags.map((tag) => tag.trim().toLowerCase()).filter((tag) => tag.length > 0)),
  ].slice(0, MAX_TAGS);
  return { ok: true, value: { label: parsed.data.label, summary: parsed.data.summary, tags } };
}
