import { type FormEvent, useState } from 'react';

// Sign-in: an API key (or an access token) checked against the API before it is kept for this
// tab, or the development user where the server allows anonymous access.

async function check(endpoint: string, secret: string | undefined): Promise<string | undefined> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
    },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    data?: { me: { id: string } };
    errors?: { message: string }[];
  };
  if (body.data?.me) return undefined;
  return body.errors?.[0]?.message ?? `the server answered ${res.status}`;
}

export function SignIn({
  endpoint,
  onSignedIn,
}: {
  endpoint: string;
  onSignedIn: (c: { secret?: string }) => void;
}) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const signIn = async (value: string | undefined) => {
    setBusy(true);
    setError(undefined);
    try {
      const problem = await check(endpoint, value);
      if (problem) setError(problem);
      else onSignedIn(value ? { secret: value } : {});
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (secret.trim()) void signIn(secret.trim());
  };

  return (
    <main className="signin">
      <h1>Digital Twin</h1>
      <p>Watch your twin learn from your documents, and talk to it.</p>
      <form onSubmit={submit} aria-describedby="signin-note">
        <label htmlFor="secret">API key or access token</label>
        <input
          id="secret"
          name="secret"
          type="password"
          autoComplete="off"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          required
        />
        <p id="signin-note" className="note">
          Kept for this tab only (session storage); closing the tab signs you out.
        </p>
        <button type="submit" disabled={busy || !secret.trim()}>
          Sign in
        </button>
      </form>
      <div className="or">or</div>
      <button type="button" className="secondary" disabled={busy} onClick={() => void signIn(undefined)}>
        Continue as the development user
      </button>
      {error && (
        <p role="alert" className="error">
          Sign-in failed: {error}
        </p>
      )}
    </main>
  );
}
