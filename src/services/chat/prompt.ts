import type { ChatTurn } from '../ports/chat-model.ts';

// Prompt building for the twin's replies: pure, so what reaches the model (and therefore which
// sources a reply may cite) is decided here and unit-tested.

export interface PromptSource {
  text: string;
  score: number;
  filename?: string;
  /** The label of the L1 memory topic the passage belongs to, when memory has placed it. */
  topic?: string | null;
}

export interface PromptInput<S extends PromptSource> {
  /** The user's biography from L1 memory (`metadata/bio.json`), when there is one. */
  bio: string | null;
  question: string;
  /** Retrieved passages, best first. */
  sources: readonly S[];
  /** Earlier turns of this session, oldest first. */
  history: readonly { role: 'user' | 'assistant'; content: string }[];
  contextTokens: number;
  historyTokens: number;
}

export interface BuiltPrompt<S extends PromptSource> {
  messages: ChatTurn[];
  /** Exactly the sources the prompt contains, numbered as the prompt numbers them. */
  sources: (S & { n: number })[];
  estimatedTokens: number;
}

/** A cheap, model-agnostic estimate (about four characters a token for English text). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

const RULES = [
  'You are the digital twin of the user: answer as they would, in the first person, in their voice.',
  'Facts about yourself come only from the biography and the numbered memories below; cite the memories you use like [1].',
  'If they do not hold the answer, say you do not remember it. Never invent personal facts such as age, birthday, family or places.',
];

export function buildPrompt<S extends PromptSource>(input: PromptInput<S>): BuiltPrompt<S> {
  const sources: (S & { n: number })[] = [];
  let used = 0;
  for (const source of input.sources) {
    const block = formatSource(sources.length + 1, source);
    const cost = estimateTokens(block);
    if (used + cost > input.contextTokens) continue;
    used += cost;
    sources.push({ ...source, n: sources.length + 1 });
  }

  const parts = [...RULES];
  const bio = input.bio?.trim();
  if (bio) parts.push('', 'Your biography:', bio);
  parts.push('', 'Your memories:');
  if (sources.length === 0) parts.push('(none match this question)');
  for (const s of sources) parts.push(formatSource(s.n, s));
  const system = parts.join('\n');

  // newest turns first until the budget is spent, then back in conversation order
  const history: ChatTurn[] = [];
  let historyUsed = 0;
  for (let i = input.history.length - 1; i >= 0; i--) {
    const turn = input.history[i]!;
    if (!turn.content) continue;
    const cost = estimateTokens(turn.content) + 4;
    if (historyUsed + cost > input.historyTokens) break;
    historyUsed += cost;
    history.unshift({ role: turn.role, content: turn.content });
  }
  // a window that opens on the assistant's half of an exchange reads as a non sequitur
  while (history[0]?.role === 'assistant') history.shift();

  const messages: ChatTurn[] = [
    { role: 'system', content: system },
    ...history,
    { role: 'user', content: input.question },
  ];
  const estimatedTokens = messages.reduce((sum, m) => sum + estimateTokens(m.content) + 4, 0);
  return { messages, sources, estimatedTokens };
}

function formatSource(n: number, source: PromptSource): string {
  const about = [
    source.filename ? `from ${source.filename}` : '',
    source.topic ? `topic: ${source.topic.replace(/\s+/g, ' ').trim()}` : '',
  ].filter(Boolean);
  const origin = about.length ? ` (${about.join('; ')})` : '';
  return `[${n}]${origin} ${source.text.replace(/\s+/g, ' ').trim()}`;
}

/** L1 writes the biography in a few shapes over time; take the most personal text it offers. */
export function bioText(json: unknown): string | null {
  if (typeof json === 'string') return json.trim() || null;
  if (!json || typeof json !== 'object') return null;
  const o = json as Record<string, unknown>;
  for (const key of [
    'secondPerson',
    'second_person',
    'bio',
    'biography',
    'content',
    'summary',
    'thirdPerson',
    'text',
  ]) {
    const v = o[key];
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (v && typeof v === 'object') {
      const nested = bioText(v);
      if (nested) return nested;
    }
  }
  return null;
}
