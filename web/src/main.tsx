import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Client, cacheExchange, fetchExchange, Provider } from 'urql';
import { MeDocument } from '../../src/sdk/generated/graphql.ts';
import { loadCredential, type StoredCredential, saveCredential, TransportContext } from './session.tsx';
import './styles.css';
import { createTransport } from './twin.ts';
import { ChatView } from './views/Chat.tsx';
import { DocumentsView } from './views/Documents.tsx';
import { MemoryView } from './views/Memory.tsx';
import { SignIn } from './views/SignIn.tsx';
import { TrainingView } from './views/Training.tsx';

const ENDPOINT = '/graphql';
const VIEWS = [
  { id: 'documents', label: 'Documents' },
  { id: 'memory', label: 'Memory' },
  { id: 'training', label: 'Training' },
  { id: 'chat', label: 'Chat' },
] as const;
type ViewId = (typeof VIEWS)[number]['id'];

function viewOfHash(): ViewId {
  const id = location.hash.replace(/^#\/?/, '').split('/')[0];
  return VIEWS.find((v) => v.id === id)?.id ?? 'documents';
}

function Dashboard({ credential, onSignOut }: { credential: StoredCredential; onSignOut: () => void }) {
  const transport = useMemo(() => createTransport(ENDPOINT, credential), [credential]);
  const urql = useMemo(
    () =>
      new Client({
        url: ENDPOINT,
        exchanges: [cacheExchange, fetchExchange],
        preferGetMethod: false,
        fetchOptions: (): RequestInit => ({
          headers: credential.secret ? { authorization: `Bearer ${credential.secret}` } : undefined,
        }),
      }),
    [credential],
  );
  const [view, setView] = useState<ViewId>(viewOfHash);
  const [userId, setUserId] = useState<string>();
  useEffect(() => {
    const onHash = () => setView(viewOfHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    transport.request(MeDocument).then(
      (r) => setUserId(r.me.id),
      () => onSignOut(),
    );
    // no close here: the lazy WebSocket closes itself once no subscription is left
  }, [transport, onSignOut]);
  // the tests drop the socket through this, as a network failure would
  (window as unknown as { twinTransport: unknown }).twinTransport = transport;

  return (
    <TransportContext.Provider value={transport}>
      <Provider value={urql}>
        <header className="top">
          <h1>Digital Twin</h1>
          <nav aria-label="Views">
            {VIEWS.map((v) => (
              <a key={v.id} href={`#/${v.id}`} aria-current={view === v.id ? 'page' : undefined}>
                {v.label}
              </a>
            ))}
          </nav>
          <div className="who">
            <span title="Signed in as">{userId ?? '…'}</span>
            <button type="button" className="secondary" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main">
          {view === 'documents' && <DocumentsView />}
          {view === 'memory' && <MemoryView />}
          {view === 'training' && <TrainingView />}
          {view === 'chat' && <ChatView />}
        </main>
      </Provider>
    </TransportContext.Provider>
  );
}

function App() {
  const [credential, setCredential] = useState<StoredCredential | undefined>(loadCredential);
  const signOut = useMemo(
    () => () => {
      saveCredential(undefined);
      setCredential(undefined);
    },
    [],
  );
  if (!credential)
    return (
      <SignIn
        endpoint={ENDPOINT}
        onSignedIn={(c) => {
          saveCredential(c);
          setCredential(c);
        }}
      />
    );
  return <Dashboard credential={credential} onSignOut={signOut} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
