import { type FormEvent, useState } from 'react';
import { useQuery } from 'urql';
import {
  MemoryClusterDocument,
  MemoryEntitiesDocument,
  MemoryEntityDocument,
  MemoryOverviewDocument,
  type MemoryOverviewQuery,
  MemoryProgressDocument,
  type MemoryProgressSubscription,
  RebuildMemoryDocument,
} from '../../../src/sdk/generated/graphql.ts';
import { errorText, useLive, useTransport } from '../session.tsx';

// Memory: the topic hierarchy (sizes shown) to navigate, a cluster's passages, entities and
// their mentions, the bio, and a live indicator of a rebuild (memoryProgress).

type Progress = Extract<MemoryProgressSubscription['memoryProgress'], { __typename: 'MemoryProgress' }>;
type TopicNode = MemoryOverviewQuery['memory']['topics'][number];

export function MemoryView() {
  const transport = useTransport();
  const [q, refetch] = useQuery({
    query: MemoryOverviewDocument,
    variables: {},
    requestPolicy: 'cache-and-network',
  });
  const [progress, setProgress] = useState<Progress>();
  const [cluster, setCluster] = useState<string>();
  const [error, setError] = useState<string>();

  useLive(
    MemoryProgressDocument,
    {},
    (r) => {
      const e = r.memoryProgress;
      if (e.__typename !== 'MemoryProgress') return;
      setProgress(e);
      if (e.stage === 'DONE' || e.stage === 'FAILED') refetch({ requestPolicy: 'network-only' });
    },
    { seqOf: (r) => ('seq' in r.memoryProgress ? r.memoryProgress.seq : undefined) },
  );

  const rebuild = async () => {
    setError(undefined);
    try {
      const r = await transport.request(RebuildMemoryDocument, { full: true });
      if (r.rebuildMemory.__typename === 'MemoryBuildRunning') setError(r.rebuildMemory.message);
      refetch({ requestPolicy: 'network-only' });
    } catch (e) {
      setError(errorText(e));
    }
  };

  const m = q.data?.memory;
  const building = progress && progress.stage !== 'DONE' && progress.stage !== 'FAILED';
  return (
    <section aria-labelledby="memory-title">
      <h2 id="memory-title">Memory</h2>
      <div className="row">
        <span>
          Status: <strong data-testid="memory-status">{m?.status.toLowerCase() ?? '…'}</strong>
          {m?.version && <span className="muted"> · version {m.version}</span>}
        </span>
        <button type="button" onClick={() => void rebuild()} disabled={!!building}>
          Rebuild memory
        </button>
      </div>
      <div role="status" aria-live="polite" className="rebuild">
        {building && progress && (
          <>
            <span className="spinner" aria-hidden="true" /> Rebuilding: {progress.stage.toLowerCase()}{' '}
            {progress.total > 0 && `${progress.done}/${progress.total}`}
            {progress.attempt > 1 && ` (attempt ${progress.attempt})`}
            <progress max={Math.max(1, progress.total)} value={progress.done} aria-label="Rebuild progress" />
          </>
        )}
        {progress?.stage === 'FAILED' && <span className="error">The rebuild failed: {progress.error}</span>}
      </div>
      {m?.lastError && <p className="error">Last build failed: {m.lastError}</p>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {m?.bio && (
        <section aria-labelledby="bio-title" className="bio">
          <h3 id="bio-title">Bio</h3>
          <p>{m.bio.secondPerson}</p>
          {m.bio.status && <p className="muted">{m.bio.status}</p>}
        </section>
      )}
      <div className="memory-grid">
        <section aria-labelledby="topics-title">
          <h3 id="topics-title">Topics</h3>
          {m && m.topics.length === 0 && <p>No topics yet: upload documents, then rebuild.</p>}
          <ul className="tree" aria-label="Topic hierarchy">
            {m?.topics.map((t) => (
              <TopicItem key={t.id} topic={t} clusters={t.clusters} onCluster={setCluster} />
            ))}
          </ul>
        </section>
        <section aria-labelledby="cluster-title">
          <h3 id="cluster-title">Passages</h3>
          {cluster ? (
            <ClusterPanel id={cluster} />
          ) : (
            <p className="muted">Pick a cluster to read its passages.</p>
          )}
        </section>
      </div>
      <Entities />
    </section>
  );
}

function TopicItem({
  topic,
  clusters,
  onCluster,
}: {
  topic: Pick<TopicNode, 'id' | 'label' | 'size' | 'keywords'> & { children?: TopicItemChild[] };
  clusters?: { id: string; label: string; size: number }[];
  onCluster: (id: string) => void;
}) {
  return (
    <li>
      <details open>
        <summary>
          {topic.label} <span className="size">{topic.size}</span>
        </summary>
        {!!topic.children?.length && (
          <ul>
            {topic.children.map((c) => (
              <TopicItem key={c.id} topic={c} onCluster={onCluster} />
            ))}
          </ul>
        )}
        {!!clusters?.length && (
          <ul className="clusters" aria-label={`Clusters of ${topic.label}`}>
            {clusters.map((c) => (
              <li key={c.id}>
                <button type="button" className="link" onClick={() => onCluster(c.id)}>
                  {c.label} <span className="size">{c.size}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </details>
    </li>
  );
}
type TopicItemChild = {
  id: string;
  label: string;
  size: number;
  keywords: string[];
  children?: TopicItemChild[];
};

function ClusterPanel({ id }: { id: string }) {
  const [q] = useQuery({ query: MemoryClusterDocument, variables: { id, first: 10 } });
  const c = q.data?.memory.cluster;
  if (!c) return <p>{q.fetching ? 'Loading…' : 'This cluster is gone.'}</p>;
  const chunks =
    c.chunks.__typename === 'MemoryClusterChunksConnection' ? c.chunks.edges.map((e) => e.node) : [];
  return (
    <div>
      <h4>
        {c.label} <span className="size">{c.size}</span>
      </h4>
      <p>{c.summary}</p>
      <p className="muted">Keywords: {c.keywords.join(', ')}</p>
      <ol className="hits">
        {chunks.map((ch) => (
          <li key={`${ch.documentId}:${ch.chunkIndex}`}>
            <div className="hit-meta">
              <strong>{ch.document?.filename ?? 'a deleted document'}</strong>
              <span className="muted"> · similarity {ch.similarity.toFixed(2)}</span>
            </div>
            <p className="passage">{ch.text}</p>
          </li>
        ))}
      </ol>
    </div>
  );
}

function Entities() {
  const [query, setQuery] = useState('');
  const [asked, setAsked] = useState<string>();
  const [open, setOpen] = useState<string>();
  const [q] = useQuery({ query: MemoryEntitiesDocument, variables: { query: asked, first: 20 } });
  const list =
    q.data?.memory.entities.__typename === 'MemoryEntitiesConnection'
      ? q.data.memory.entities.edges.map((e) => e.node)
      : [];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAsked(query.trim() || undefined);
  };
  return (
    <section aria-labelledby="entities-title">
      <h3 id="entities-title">People, places and things</h3>
      <search>
        <form onSubmit={submit}>
          <label htmlFor="entity-q" className="visually-hidden">
            Find an entity
          </label>
          <input
            id="entity-q"
            type="search"
            placeholder="Name…"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <button type="submit">Find</button>
        </form>
      </search>
      <ul className="entities">
        {list.map((e) => (
          <li key={e.id}>
            <button
              type="button"
              className="link"
              aria-expanded={open === e.id}
              onClick={() => setOpen(open === e.id ? undefined : e.id)}
            >
              {e.name}
            </button>{' '}
            <span className="muted">
              {e.type.toLowerCase()} · {e.mentionCount} mentions
            </span>
            {open === e.id && <EntityMentions id={e.id} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function EntityMentions({ id }: { id: string }) {
  const [q] = useQuery({ query: MemoryEntityDocument, variables: { id } });
  const e = q.data?.memory.entity;
  if (!e) return <p>{q.fetching ? 'Loading…' : 'Gone.'}</p>;
  return (
    <div className="entity">
      {e.description && <p>{e.description}</p>}
      <ol>
        {e.mentions.map((m) => (
          <li key={`${m.documentId}:${m.chunkIndex}`} className="passage">
            {m.text}
          </li>
        ))}
      </ol>
    </div>
  );
}
