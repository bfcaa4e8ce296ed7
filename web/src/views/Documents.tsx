import {
  type DragEvent,
  type FormEvent,
  Fragment,
  type ReactNode,
  useCallback,
  useRef,
  useState,
} from 'react';
import { useQuery } from 'urql';
import {
  DeleteDocumentDocument,
  type DocumentStatus,
  DocumentsDocument,
  IngestProgressDocument,
  type IngestProgressSubscription,
  type IngestStage,
  ReprocessDocumentDocument,
  SearchDocument,
  type SearchQuery,
  UploadDocumentsDocument,
} from '../../../src/sdk/generated/graphql.ts';
import { errorText, useLive, useTransport } from '../session.tsx';

// Documents: drag-and-drop upload of many files, a live progress bar per document through its
// ingest stages (ingestProgress), failures with their reasons, delete and reprocess, and search
// with the matched words highlighted.

const STAGES: IngestStage[] = ['QUEUED', 'EXTRACTING', 'CHUNKING', 'EMBEDDING', 'INDEXING', 'DONE'];
const STAGE_LABEL: Record<IngestStage, string> = {
  QUEUED: 'Queued',
  EXTRACTING: 'Extracting text',
  CHUNKING: 'Chunking',
  EMBEDDING: 'Embedding',
  INDEXING: 'Indexing',
  DONE: 'Done',
  FAILED: 'Failed',
};

type Live = IngestProgressSubscription['ingestProgress'];

/** 0..100 through the stages, each stage an equal share, its done/total within it. */
export function percentOf(stage: IngestStage, done: number, total: number): number {
  if (stage === 'DONE') return 100;
  if (stage === 'FAILED') return 100;
  const i = Math.max(0, STAGES.indexOf(stage));
  const within = total > 0 ? Math.min(1, done / total) : 0;
  return Math.round(((i + within) / (STAGES.length - 1)) * 100);
}

function stageOf(status: DocumentStatus, live: Live | undefined): { stage: IngestStage; pct: number } {
  if (status === 'PROCESSED') return { stage: 'DONE', pct: 100 };
  // the live stage is newer than the list (a reprocess of a failed document, say)
  if (live) return { stage: live.stage, pct: percentOf(live.stage, live.done, live.total) };
  if (status === 'FAILED') return { stage: 'FAILED', pct: 100 };
  return { stage: 'QUEUED', pct: 0 };
}

const kb = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`);

interface Notice {
  filename: string;
  text: string;
}

export function DocumentsView() {
  const transport = useTransport();
  const [{ data, error, fetching }, refetch] = useQuery({
    query: DocumentsDocument,
    variables: { first: 100 },
    requestPolicy: 'cache-and-network',
  });
  const [live, setLive] = useState<Record<string, Live>>({});
  const [notices, setNotices] = useState<Notice[]>([]);
  const [dragging, setDragging] = useState(false);
  const [uploading, setUploading] = useState(0);
  const [actionError, setActionError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);

  const reload = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  const known = useRef(new Set<string>());
  const docs =
    data?.documents.__typename === 'QueryDocumentsConnection' ? data.documents.edges.map((e) => e.node) : [];
  known.current = new Set(docs.map((d) => d.id));

  useLive(
    IngestProgressDocument,
    {},
    (r) => {
      const p = r.ingestProgress;
      setLive((m) => ({ ...m, [p.documentId]: p }));
      // a document's final state, or one this page has not listed yet: read the list again
      if (p.stage === 'DONE' || p.stage === 'FAILED' || !known.current.has(p.documentId)) reload();
    },
    { seqOf: (r) => r.ingestProgress.seq },
  );

  const upload = async (files: File[]) => {
    if (!files.length) return;
    setUploading((n) => n + files.length);
    try {
      const res = await transport.upload(
        UploadDocumentsDocument,
        { files: files.map(() => null as unknown as File) },
        Object.fromEntries(files.map((f, i) => [`files.${i}`, f])),
      );
      const problems: Notice[] = [];
      res.uploadDocuments.forEach((out, i) => {
        const filename = files[i]?.name ?? '?';
        if (out.__typename === 'Document') return;
        if (out.__typename === 'DuplicateDocument')
          problems.push({ filename, text: `already uploaded as ${out.document.filename}` });
        else problems.push({ filename, text: out.message });
      });
      setNotices((n) => [...problems, ...n].slice(0, 20));
    } catch (e) {
      setNotices((n) => [{ filename: files.map((f) => f.name).join(', '), text: errorText(e) }, ...n]);
    } finally {
      setUploading((n) => n - files.length);
      reload();
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void upload([...e.dataTransfer.files]);
  };

  const act = async (what: 'delete' | 'reprocess', id: string, filename: string) => {
    setActionError(undefined);
    try {
      if (what === 'delete') {
        if (!window.confirm(`Delete ${filename} and everything learnt from it?`)) return;
        const r = await transport.request(DeleteDocumentDocument, { id });
        if (r.deleteDocument.__typename !== 'DeletedDocument') setActionError(r.deleteDocument.message);
      } else {
        setLive((m) => {
          const { [id]: _gone, ...rest } = m;
          return rest;
        });
        const r = await transport.request(ReprocessDocumentDocument, { id });
        if (r.reprocessDocument.__typename !== 'Document') setActionError(r.reprocessDocument.message);
      }
    } catch (e) {
      setActionError(errorText(e));
    }
    reload();
  };

  return (
    <section aria-labelledby="documents-title">
      <h2 id="documents-title">Documents</h2>
      {/* drop is the pointer's way in; the keyboard's is the file input inside */}
      {/* biome-ignore lint/a11y/noStaticElementInteractions: see above */}
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop files here (text, Markdown, PDF, Word, HTML, chat exports), as many as you like, or</p>
        <label className="button" htmlFor="file-input">
          Choose files
        </label>
        <input
          id="file-input"
          ref={input}
          type="file"
          multiple
          className="visually-hidden"
          onChange={(e) => {
            void upload([...(e.target.files ?? [])]);
            e.target.value = '';
          }}
        />
        {uploading > 0 && <p aria-live="polite">Uploading {uploading} file(s)…</p>}
      </div>
      {notices.length > 0 && (
        <ul className="notices" aria-label="Files not accepted">
          {notices.map((n, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: notices are only prepended, never reordered
            <li key={i} className="error">
              {n.filename}: {n.text}
            </li>
          ))}
        </ul>
      )}
      {actionError && (
        <p role="alert" className="error">
          {actionError}
        </p>
      )}
      {error && <p className="error">Could not list documents: {error.message}</p>}
      <div className="table-wrap">
        <table className="documents">
          <caption className="visually-hidden">Your documents and their ingest progress</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Progress</th>
              <th scope="col">Chunks</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {docs.length === 0 && !fetching && (
              <tr>
                <td colSpan={4}>No documents yet: drop some above.</td>
              </tr>
            )}
            {docs.map((d) => {
              const l = live[d.id];
              const { stage, pct } = stageOf(d.status, l);
              const failed = stage === 'FAILED';
              const reason = d.error ?? l?.error;
              return (
                <Fragment key={d.id}>
                  <tr data-document={d.filename} data-stage={stage}>
                    <th scope="row">
                      <span className="filename">{d.filename}</span>
                      <span className="muted"> {kb(d.bytes)}</span>
                    </th>
                    <td>
                      <progress
                        max={100}
                        value={pct}
                        aria-label={`Ingest of ${d.filename}`}
                        className={failed ? 'failed' : stage === 'DONE' ? 'done' : ''}
                      />
                      <span className="stage" aria-live="polite">
                        {STAGE_LABEL[stage]}
                        {l && !failed && stage !== 'DONE' && l.total > 1 ? ` ${l.done}/${l.total}` : ''}
                        {l && l.attempt > 1 && stage !== 'DONE' ? ` (attempt ${l.attempt})` : ''}
                      </span>
                    </td>
                    <td>{d.status === 'PROCESSED' ? d.chunkCount : '–'}</td>
                    <td className="actions">
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => void act('reprocess', d.id, d.filename)}
                        aria-label={`Reprocess ${d.filename}`}
                      >
                        Reprocess
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => void act('delete', d.id, d.filename)}
                        aria-label={`Delete ${d.filename}`}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                  {failed && reason && (
                    <tr className="failure">
                      <td colSpan={4} className="error">
                        {d.filename} failed: {reason}
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
      <SearchPanel />
    </section>
  );
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` with every word of `query` (2 letters or more) wrapped in <mark>. */
export function highlight(text: string, query: string): ReactNode[] {
  const words = [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])];
  if (!words.length) return [text];
  const re = new RegExp(`(${words.map(escapeRe).join('|')})`, 'giu');
  return text.split(re).map((part, i) =>
    // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed string
    i % 2 === 1 ? <mark key={i}>{part}</mark> : <Fragment key={i}>{part}</Fragment>,
  );
}

type Hit = Extract<SearchQuery['search'], { __typename: 'SearchResults' }>['data'][number];

function SearchPanel() {
  const transport = useTransport();
  const [query, setQuery] = useState('');
  const [asked, setAsked] = useState('');
  const [hits, setHits] = useState<Hit[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const q = query.trim();
    if (!q) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await transport.request(SearchDocument, { query: q, limit: 10 });
      if (r.search.__typename === 'SearchResults') {
        setHits(r.search.data);
        setAsked(q);
      } else setError(r.search.message);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="search-title" className="search">
      <h3 id="search-title">Search your documents</h3>
      <search>
        <form onSubmit={submit}>
          <label htmlFor="search-input" className="visually-hidden">
            Search query
          </label>
          <input
            id="search-input"
            type="search"
            placeholder="What did I write about…"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <button type="submit" disabled={busy}>
            Search
          </button>
        </form>
      </search>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {hits && (
        <ol className="hits" aria-label="Search results">
          {hits.length === 0 && <li>Nothing found for “{asked}”.</li>}
          {hits.map((h) => (
            <li key={`${h.document.id}:${h.chunkIndex}`}>
              <div className="hit-meta">
                <strong>{h.document.filename}</strong>
                {h.page != null && <span> · page {h.page}</span>}
                <span className="muted">
                  {' '}
                  · score {h.score.toFixed(2)} · {h.matchedBy.toLowerCase()}
                </span>
              </div>
              <p className="passage">{highlight(h.text, asked)}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
