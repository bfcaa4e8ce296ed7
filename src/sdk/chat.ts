// ask: sends a message and streams the twin's reply as deltas, then its citations and the stored
// message. The reply resumes across dropped connections (twinReply's afterSeq), so the deltas
// concatenated are the stored reply exactly.

import type { CoreClient as Core } from './core.ts';
import {
  CancelReplyDocument,
  type ChatMessageFieldsFragment,
  ChatSessionDocument,
  type ReplySourceFieldsFragment,
  SendMessageDocument,
  type SendMessageMutation,
  TwinReplyDocument,
} from './generated/graphql.ts';
import { TwinRequestError } from './transport.ts';

export interface AskOptions {
  /** Aborting cancels the reply on the server (`cancelReply`) and ends the iteration. */
  signal?: AbortSignal;
}

export type AskEvent =
  /** The message was not sent: the session is not yours (NotFound), rate limited, invalid input. */
  | {
      type: 'refused';
      result: Exclude<SendMessageMutation['sendMessage'], { __typename: 'SendMessagePayload' }>;
    }
  | { type: 'started'; messageId: string }
  | { type: 'delta'; text: string; index: number }
  | { type: 'citations'; citations: ReplySourceFieldsFragment[] }
  | { type: 'done'; message: ChatMessageFieldsFragment; finishReason: string }
  | { type: 'failed'; error: string; messageId: string };

export async function* ask(
  client: Core,
  sessionId: string,
  text: string,
  opts: AskOptions = {},
): AsyncGenerator<AskEvent, void, undefined> {
  const { signal } = opts;
  const sent = await client.request(SendMessageDocument, { sessionId, content: text });
  if (sent.sendMessage.__typename !== 'SendMessagePayload') {
    yield { type: 'refused', result: sent.sendMessage };
    return;
  }
  const messageId = sent.sendMessage.assistantMessageId;
  yield { type: 'started', messageId };
  let citations: ReplySourceFieldsFragment[] = [];
  const events = client.subscribe(
    TwinReplyDocument,
    { messageId },
    {
      signal,
      seqOf: (e) => ('seq' in e.twinReply ? e.twinReply.seq : undefined),
      isLast: (e) => e.twinReply.__typename !== 'ReplyToken' && e.twinReply.__typename !== 'ReplyCitations',
    },
  );
  try {
    for await (const { twinReply: event } of events) {
      switch (event.__typename) {
        case 'ReplyCitations':
          citations = event.sources;
          break;
        case 'ReplyToken':
          yield { type: 'delta', text: event.text, index: event.index };
          break;
        case 'ReplyDone': {
          yield { type: 'citations', citations };
          yield {
            type: 'done',
            message: await storedMessage(client, sessionId, messageId),
            finishReason: event.finishReason,
          };
          return;
        }
        case 'ReplyFailed':
          yield { type: 'failed', error: event.error, messageId };
          return;
        default:
          // NotFound (the message is not yours) or ReplayGap (what was missed is no longer retained)
          throw new TwinRequestError(event.message, { code: event.code });
      }
    }
  } catch (error) {
    // the subscription ends with the signal's reason when aborted: the reply is cancelled instead
    if (!signal?.aborted) throw error;
  }
  if (signal?.aborted) await client.request(CancelReplyDocument, { messageId }).catch(() => {});
}

async function storedMessage(client: Core, sessionId: string, messageId: string) {
  const answer = await client.request(ChatSessionDocument, { id: sessionId });
  if (answer.chatSession.__typename !== 'ChatSession')
    throw new TwinRequestError(answer.chatSession.message, { code: answer.chatSession.code });
  const message = answer.chatSession.messages.find((m) => m.id === messageId);
  if (!message) throw new TwinRequestError(`message ${messageId} is not stored`, { code: 'NOT_FOUND' });
  return message;
}
