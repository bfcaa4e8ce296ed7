import { createInterface } from 'node:readline';
import {
  CancelReplyDocument,
  type ChatMessageFieldsFragment,
  ChatSessionDocument,
  DocumentDocument,
  StartChatDocument,
  type TwinClient,
} from '../../../sdk/node.ts';
import { CliError, type Output, oneLine, printable } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

export interface ChatOptions extends GlobalOptions {
  session?: string;
}

interface Exchange {
  sessionId: string;
  messageId: string | null;
  question: string;
  reply: string;
  cancelled: boolean;
  finishReason: string | null;
  error: string | null;
  citations: ChatMessageFieldsFragment['citations'];
}

/** Lines of stdin as they come (typed during a reply, they wait); null once it closes. */
function lineQueue(rl: ReturnType<typeof createInterface>) {
  const lines: string[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  rl.on('line', (line) => {
    lines.push(line);
    notify();
  });
  rl.on('close', () => {
    closed = true;
    notify();
  });
  return {
    async next(): Promise<string | null> {
      while (lines.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
      return lines.shift() ?? null;
    },
  };
}

async function footnotes(out: Output, client: TwinClient, exchange: Exchange, names: Map<string, string>) {
  for (const [i, c] of exchange.citations.entries()) {
    let name = names.get(c.documentId);
    if (name === undefined) {
      const answer = await client.request(DocumentDocument, { id: c.documentId, first: 1 }).catch(() => null);
      name = answer?.document.__typename === 'Document' ? printable(answer.document.filename) : c.documentId;
      names.set(c.documentId, name);
    }
    const where = [name, c.page != null ? `p. ${c.page}` : null, `chunk ${c.chunkIndex}`]
      .filter(Boolean)
      .join(', ');
    out.line(out.dim(`[${i + 1}] ${where}: “${oneLine(c.text ?? '', 80)}”`));
  }
}

/**
 * `twin chat`: a readline loop. Tokens print as they arrive; Ctrl-C during a reply cancels it on
 * the server (cancelReply) and brings the prompt back; Ctrl-C at the prompt or Ctrl-D exits.
 */
export async function chat(options: ChatOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    let sessionId = options.session;
    if (sessionId) {
      const found = (await client.request(ChatSessionDocument, { id: sessionId })).chatSession;
      if (found.__typename !== 'ChatSession')
        throw new CliError(`chat session ${sessionId}: ${found.message}`);
    } else sessionId = (await client.request(StartChatDocument, { title: 'twin chat' })).startChat.id;

    const interactive = process.stdin.isTTY === true && !out.json;
    const rl = createInterface({
      input: process.stdin,
      output: interactive ? process.stdout : undefined,
      terminal: interactive,
    });
    const input = lineQueue(rl);
    let replying: AbortController | undefined;
    rl.on('SIGINT', () => {
      if (replying) replying.abort();
      else rl.close();
    });
    const names = new Map<string, string>();
    if (interactive) {
      out.line(out.dim(`Chat ${sessionId}. Ctrl-C stops a reply; Ctrl-C or Ctrl-D here exits.`));
      rl.setPrompt(out.bold('you> '));
    }
    try {
      for (;;) {
        if (interactive) rl.prompt();
        const question = await input.next();
        if (question === null) break;
        if (!question.trim()) continue;
        const exchange = await askOnce(out, client, sessionId, question.trim(), (c) => (replying = c));
        replying = undefined;
        if (out.json) out.line(JSON.stringify(exchange));
        else await footnotes(out, client, exchange, names);
      }
    } finally {
      rl.close();
      if (interactive) out.line(out.dim(`\nbye (twin chat --session ${sessionId} continues this chat)`));
    }
  });
}

async function askOnce(
  out: Output,
  client: TwinClient,
  sessionId: string,
  question: string,
  onStart: (controller: AbortController) => void,
): Promise<Exchange> {
  const controller = new AbortController();
  onStart(controller);
  const exchange: Exchange = {
    sessionId,
    messageId: null,
    question,
    reply: '',
    cancelled: false,
    finishReason: null,
    error: null,
    citations: [],
  };
  if (!out.json) out.write(out.bold('twin> '));
  try {
    for await (const event of client.ask(sessionId, question, { signal: controller.signal })) {
      if (event.type === 'refused') throw new CliError(event.result.message);
      if (event.type === 'started') exchange.messageId = event.messageId;
      else if (event.type === 'delta') {
        exchange.reply += event.text;
        if (!out.json) out.write(printable(event.text));
      } else if (event.type === 'done') {
        exchange.finishReason = event.finishReason;
        exchange.citations = event.message.citations;
      } else if (event.type === 'failed') exchange.error = event.error;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  if (controller.signal.aborted) {
    exchange.cancelled = true;
    // the SDK's iteration ends on the abort; the server is told here
    if (exchange.messageId)
      await client.request(CancelReplyDocument, { messageId: exchange.messageId }).catch(() => undefined);
  }
  if (!out.json) {
    out.line();
    if (exchange.cancelled) out.line(out.dim('[reply cancelled]'));
    if (exchange.error) process.stderr.write(`twin: the reply failed: ${oneLine(exchange.error, 200)}\n`);
  }
  return exchange;
}
