import { type FormEvent, Fragment, type ReactNode, useEffect, useRef, useState } from 'react';
import { useQuery } from 'urql';
import {
  CancelReplyDocument,
  ChatSessionDocument,
  type ChatSessionQuery,
  ChatSessionsDocument,
  DocumentDocument,
  type ReplySourceFieldsFragment,
  SendMessageDocument,
  StartChatDocument,
  TwinReplyDocument,
  type TwinReplySubscription,
} from '../../../src/sdk/generated/graphql.ts';
import { errorText, useLive, useTransport } from '../session.tsx';

// Chat: sessions, replies streaming token by token (twinReply), numbered citations that open the
// passage with its document and page, cancel. A reply in flight is remembered for the tab
// (sessionStorage): after a reload, or a dropped connection, it resumes where it was.

const PENDING = 'twin.chat.pending';

interface Pending {
  sessionId: string;
  messageId: string;
  question: string;
}

type Message = Extract<ChatSessionQuery['chatSession'], { __typename: 'ChatSession' }>['messages'][number];
type Source = ReplySourceFieldsFragment & { text?: string | null };
type ReplyEvent = TwinReplySubscription['twinReply'];

interface Streaming {
  messageId: string;
  text: string;
  sources: Source[];
  state: 'waiting' | 'streaming' | 'done' | 'failed' | 'cancelled';
  error?: string;
  model?: string;
}

const readPending = (): Pending | undefined => {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') ?? undefined;
  } catch {
    return undefined;
  }
};
const writePending = (p: Pending | undefined) =>
  p ? sessionStorage.setItem(PENDING, JSON.stringify(p)) : sessionStorage.removeItem(PENDING);

const sessionOfHash = () => location.hash.match(/^#\/chat\/(.+)$/)?.[1];

export function ChatView() {
  const transport = useTransport();
  const [sessions, refetchSessions] = useQuery({
    query: ChatSessionsDocument,
    variables: { first: 30 },
    requestPolicy: 'cache-and-network',
  });
  const [sessionId, setSessionId] = useState<string | undefined>(
    () => readPending()?.sessionId ?? sessionOfHash(),
  );
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (sessionId && sessionOfHash() !== sessionId) history.replaceState(null, '', `#/chat/${sessionId}`);
  }, [sessionId]);

  const newChat = async () => {
    setError(undefined);
    try {
      const r = await transport.request(StartChatDocument, {});
      setSessionId(r.startChat.id);
      refetchSessions({ requestPolicy: 'network-only' });
    } catch (e) {
      setError(errorText(e));
    }
  };

  const list =
    sessions.data?.chatSessions.__typename === 'QueryChatSessionsConnection'
      ? sessions.data.chatSessions.edges.map((e) => e.node)
      : [];

  return (
    <section aria-labelledby="chat-title" className="chat-layout">
      <h2 id="chat-title" className="visually-hidden">
        Chat
      </h2>
      <aside aria-label="Chat sessions" className="sessions">
        <button type="button" onClick={() => void newChat()}>
          New chat
        </button>
        <ul>
          {list.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                className="link"
                aria-current={s.id === sessionId ? 'true' : undefined}
                onClick={() => setSessionId(s.id)}
              >
                {s.title ?? 'Untitled chat'}
                <span className="muted"> {new Date(s.createdAt).toLocaleDateString()}</span>
              </button>
            </li>
          ))}
        </ul>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </aside>
      {sessionId ? (
        <Conversation
          key={sessionId}
          sessionId={sessionId}
          onTitled={() => refetchSessions({ requestPolicy: 'network-only' })}
        />
      ) : (
        <div className="conversation empty">
          <p>Start a new chat, or pick one on the left.</p>
        </div>
      )}
    </section>
  );
}

function Conversation({ sessionId, onTitled }: { sessionId: string; onTitled: () => void }) {
  const transport = useTransport();
  const [session, refetch] = useQuery({
    query: ChatSessionDocument,
    variables: { id: sessionId },
    requestPolicy: 'network-only',
  });
  const [pending, setPending] = useState<Pending | undefined>(() => {
    const p = readPending();
    return p?.sessionId === sessionId ? p : undefined;
  });
  const [streaming, setStreaming] = useState<Streaming>();
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<Source>();
  const [connection, setConnection] = useState<'connected' | 'reconnecting'>('connected');
  const end = useRef<HTMLDivElement>(null);

  const messages: Message[] =
    session.data?.chatSession.__typename === 'ChatSession' ? session.data.chatSession.messages : [];
  const stored = pending && messages.find((m) => m.id === pending.messageId);

  // the whole reply from its first event (no afterSeq): a reload rebuilds it, then it goes on live
  useLive(
    TwinReplyDocument,
    pending ? { messageId: pending.messageId } : null,
    (r) => onReplyEvent(r.twinReply),
    {
      seqOf: (r) => ('seq' in r.twinReply ? r.twinReply.seq : undefined),
      isLast: (r) => ['ReplyDone', 'ReplyFailed', 'NotFound', 'ReplayGap'].includes(r.twinReply.__typename),
      onConnection: setConnection,
    },
  );

  const onReplyEvent = (e: ReplyEvent) => {
    if (!pending) return;
    const base: Streaming = { messageId: pending.messageId, text: '', sources: [], state: 'waiting' };
    setStreaming((s) => {
      const cur = s && s.messageId === pending.messageId ? s : base;
      switch (e.__typename) {
        case 'ReplyCitations':
          return { ...cur, sources: e.sources };
        case 'ReplyToken':
          return { ...cur, text: cur.text + e.text, state: 'streaming' };
        case 'ReplyDone':
          return { ...cur, state: e.finishReason === 'cancelled' ? 'cancelled' : 'done', model: e.model };
        case 'ReplyFailed':
          return { ...cur, state: 'failed', error: e.error };
        default:
          return { ...cur, state: 'failed', error: e.message };
      }
    });
    if (e.__typename !== 'ReplyToken' && e.__typename !== 'ReplyCitations') {
      // the finished exchange is in the transcript now
      writePending(undefined);
      refetch({ requestPolicy: 'network-only' });
      onTitled();
    }
  };

  // once the transcript holds the reply, it is shown from there
  useEffect(() => {
    if (stored && streaming && streaming.state !== 'waiting' && streaming.state !== 'streaming') {
      setPending(undefined);
      setStreaming(undefined);
    }
  }, [stored, streaming]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls as the reply grows
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [streaming?.text, messages.length]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const content = draft.trim();
    if (!content || pending) return;
    setError(undefined);
    try {
      const r = await transport.request(SendMessageDocument, { sessionId, content });
      const out = r.sendMessage;
      if (out.__typename !== 'SendMessagePayload') {
        setError(
          out.__typename === 'RateLimited'
            ? `${out.message} (retry in ${out.retryAfterSeconds} s)`
            : out.message,
        );
        return;
      }
      const p = { sessionId, messageId: out.assistantMessageId, question: content };
      writePending(p);
      setPending(p);
      setStreaming({ messageId: p.messageId, text: '', sources: [], state: 'waiting' });
      setDraft('');
    } catch (err) {
      setError(errorText(err));
    }
  };

  const cancel = async () => {
    if (!pending) return;
    try {
      await transport.request(CancelReplyDocument, { messageId: pending.messageId });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const live = pending && !stored;
  const inFlight = live && (!streaming || streaming.state === 'waiting' || streaming.state === 'streaming');

  return (
    <div className="conversation">
      <ol className="messages" aria-label="Messages">
        {messages.map((m) => (
          <li key={m.id} className={`message ${m.role.toLowerCase()}`}>
            <span className="visually-hidden">{m.role === 'USER' ? 'You:' : 'Twin:'}</span>
            {m.role === 'ASSISTANT' ? (
              <Reply text={m.content} sources={m.citations} onOpen={setOpen} />
            ) : (
              <p>{m.content}</p>
            )}
            {m.status === 'FAILED' && <p className="error">Failed: {m.error}</p>}
            {m.status === 'CANCELLED' && <p className="muted">Cancelled</p>}
          </li>
        ))}
        {live && (
          <>
            <li className="message user">
              <span className="visually-hidden">You:</span>
              <p>{pending.question}</p>
            </li>
            <li
              className="message assistant"
              data-testid="streaming-reply"
              aria-busy={inFlight ? 'true' : 'false'}
            >
              <span className="visually-hidden">Twin:</span>
              {streaming?.text ? (
                <Reply text={streaming.text} sources={streaming.sources} onOpen={setOpen} />
              ) : (
                <p className="muted">Thinking…</p>
              )}
              {streaming?.state === 'failed' && <p className="error">Failed: {streaming.error}</p>}
              {streaming?.state === 'cancelled' && <p className="muted">Cancelled</p>}
            </li>
          </>
        )}
      </ol>
      <div ref={end} />
      {connection === 'reconnecting' && (
        <p className="notice" role="status">
          Connection lost: reconnecting, the reply will resume…
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <form className="composer" onSubmit={send}>
        <label htmlFor="chat-input" className="visually-hidden">
          Message to your twin
        </label>
        <textarea
          id="chat-input"
          rows={2}
          placeholder="Ask your twin…"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
        />
        {inFlight ? (
          <button type="button" className="danger" onClick={() => void cancel()}>
            Cancel reply
          </button>
        ) : (
          <button type="submit" disabled={!draft.trim()}>
            Send
          </button>
        )}
      </form>
      {open && <PassageDialog source={open} sessionId={sessionId} onClose={() => setOpen(undefined)} />}
    </div>
  );
}

/** A reply's text with its `[n]` markers as buttons opening source n, then the numbered sources. */
function Reply({ text, sources, onOpen }: { text: string; sources: Source[]; onOpen: (s: Source) => void }) {
  const parts: ReactNode[] = text.split(/(\[\d+\])/).map((part, i) => {
    const n = /^\[(\d+)\]$/.exec(part)?.[1];
    const source = n ? sources[Number(n) - 1] : undefined;
    // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed string
    if (!source) return <Fragment key={i}>{part}</Fragment>;
    return (
      <button
        // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed string
        key={i}
        type="button"
        className="cite"
        onClick={() => onOpen(source)}
        aria-label={`Open source ${n}`}
      >
        [{n}]
      </button>
    );
  });
  return (
    <>
      <p className="reply-text">{parts}</p>
      {sources.length > 0 && (
        <ol className="sources" aria-label="Sources">
          {sources.map((s, i) => (
            <li key={`${s.documentId}:${s.chunkIndex}`}>
              <button type="button" className="link" onClick={() => onOpen(s)}>
                [{i + 1}] <DocumentName id={s.documentId} />
                {s.page != null ? `, page ${s.page}` : ''}
              </button>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

function DocumentName({ id }: { id: string }) {
  const [r] = useQuery({ query: DocumentDocument, variables: { id, first: 1 } });
  const d = r.data?.document;
  return <>{d?.__typename === 'Document' ? d.filename : d ? 'a deleted document' : 'document…'}</>;
}

/** The cited passage with its document and page, in a modal dialog (Esc closes it). */
function PassageDialog({
  source,
  sessionId,
  onClose,
}: {
  source: Source;
  sessionId: string;
  onClose: () => void;
}) {
  const transport = useTransport();
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState<string | null | undefined>(source.text);
  const [filename, setFilename] = useState<string>();

  useEffect(() => {
    ref.current?.showModal?.();
  }, []);
  useEffect(() => {
    let gone = false;
    (async () => {
      const doc = await transport.request(DocumentDocument, { id: source.documentId, first: 1 });
      if (gone) return;
      setFilename(doc.document.__typename === 'Document' ? doc.document.filename : 'a deleted document');
      if (source.text) return;
      // the transcript's copy of the citation carries its text
      const s = await transport.request(ChatSessionDocument, { id: sessionId });
      const found =
        s.chatSession.__typename === 'ChatSession'
          ? s.chatSession.messages
              .flatMap((m) => m.citations)
              .find((c) => c.documentId === source.documentId && c.chunkIndex === source.chunkIndex)
          : undefined;
      if (found?.text) {
        if (!gone) setText(found.text);
        return;
      }
      // else the document's own chunk
      const chunks = await transport.request(DocumentDocument, {
        id: source.documentId,
        first: Math.min(100, source.chunkIndex + 1),
      });
      const d = chunks.document;
      const chunk =
        d.__typename === 'Document' && d.chunks.__typename === 'DocumentChunksConnection'
          ? d.chunks.edges.find((e) => e.node.index === source.chunkIndex)?.node.text
          : undefined;
      if (!gone) setText(chunk ?? null);
    })().catch(() => !gone && setText(null));
    return () => {
      gone = true;
    };
  }, [transport, source, sessionId]);

  return (
    <dialog ref={ref} className="passage-dialog" aria-labelledby="passage-title" onClose={onClose}>
      <h3 id="passage-title">
        {filename ?? 'Loading…'}
        {source.page != null ? ` · page ${source.page}` : ''}
      </h3>
      <p className="muted">
        Passage {source.chunkIndex + 1}, characters {source.charStart}–{source.charEnd} · similarity{' '}
        {source.score.toFixed(2)}
      </p>
      <blockquote className="passage" data-testid="passage-text">
        {text === undefined
          ? 'Loading the passage…'
          : text === null
            ? 'The passage is no longer stored.'
            : text}
      </blockquote>
      <form method="dialog">
        <button type="submit">Close</button>
      </form>
    </dialog>
  );
}
