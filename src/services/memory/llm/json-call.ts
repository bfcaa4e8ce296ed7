import type { ChatTurn } from '../../ports/chat-model.ts';
import type { TextModel } from '../../ports/text-model.ts';

// One JSON question to the text model, asked at most twice: a second time, with the reason, when
// the first answer does not parse or does not pass `check`. Shared by labels, entities and the bio.

export type CheckResult<T> = { ok: true; value: T } | { ok: false; error: string };

export type JsonCallOutcome<T> =
  | { ok: true; value: T; calls: number }
  /** Two answers that did not parse or did not pass the check. */
  | { ok: false; reason: 'invalid'; error: string; calls: number }
  /** The model could not be reached, failed or refused (after the client's own retries). */
  | { ok: false; reason: 'transport'; error: string; calls: number };

export interface JsonCall<T> {
  messages: ChatTurn[];
  maxTokens: number;
  temperature?: number;
  check: (json: unknown) => CheckResult<T>;
  signal?: AbortSignal;
}

const ATTEMPTS = 2;
// A bad answer is quoted back; a runaway one need not be quoted whole.
const QUOTED_ANSWER_CHARS = 4_000;

export async function askForJson<T>(model: TextModel, call: JsonCall<T>): Promise<JsonCallOutcome<T>> {
  const messages = [...call.messages];
  let error = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    let text: string;
    try {
      const answer = await model.complete({
        messages,
        maxTokens: call.maxTokens,
        temperature: call.temperature,
        json: true,
        signal: call.signal,
      });
      text = answer.text;
    } catch (failure) {
      if (call.signal?.aborted) throw call.signal.reason;
      return { ok: false, reason: 'transport', error: messageOf(failure), calls: attempt };
    }
    const checked = parseAndCheck(text, call.check);
    if (checked.ok) return { ok: true, value: checked.value, calls: attempt };
    error = checked.error;
    messages.push(
      { role: 'assistant', content: text.slice(0, QUOTED_ANSWER_CHARS) },
      {
        role: 'user',
        content: `That answer cannot be used: ${error}\nAnswer again with only the JSON object asked for.`,
      },
    );
  }
  return { ok: false, reason: 'invalid', error, calls: ATTEMPTS };
}

function parseAndCheck<T>(text: string, check: JsonCall<T>['check']): CheckResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(stripFence(text));
  } catch {
    return { ok: false, error: 'it is not valid JSON.' };
  }
  return check(json);
}

// Some compatible servers ignore `response_format` and wrap the object in a Markdown fence.
function stripFence(text: string): string {
  const fenced = /^\s*```(?:json)?\s*\n?([\s\S]*?)\n?```\s*$/i.exec(text);
  return fenced ? fenced[1]! : text;
}

function messageOf(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * Stops calling a model that is down: after `limit` transport failures in a row in one build step,
 * the remaining items fall back without a call (each still counted as a failure).
 */
export class TransportBreaker {
  private failures = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  get open(): boolean {
    return this.failures >= this.limit;
  }

  record(outcome: JsonCallOutcome<unknown>): void {
    if (!outcome.ok && outcome.reason === 'transport') this.failures++;
    else this.failures = 0;
  }
}

/** Cuts at a word boundary near `max` characters. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${space > max * 0.7 ? cut.slice(0, space) : cut}…`;
}
