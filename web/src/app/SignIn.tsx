// The sign-in page: a name and password first; pasting an API token (the admin's from
// the first start, or one made on the tokens page) is the second way, folded away.
import { useState, type FormEvent } from 'react';

interface Props {
  onPassword(name: string, password: string): Promise<void>;
  onToken(token: string): Promise<void>;
  /** Why the user is here again (a refused token, a finished sign-out), if anything. */
  notice: string;
}

export function SignIn({ onPassword, onToken, notice }: Props) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function attempt(run: () => Promise<void>) {
    setBusy(true);
    setError('');
    try {
      await run();
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  }

  function submitPassword(event: FormEvent) {
    event.preventDefault();
    void attempt(() => onPassword(name.trim(), password));
  }

  function submitToken(event: FormEvent) {
    event.preventDefault();
    void attempt(() => onToken(token.trim()));
  }

  return (
    <main className="sign-in">
      <h1>imagegraph</h1>
      <form className="sign-in-form" onSubmit={submitPassword} aria-label="Sign in">
        <label>
          Name
          <input
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : (
        notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )
      )}
      <details className="token-sign-in">
        <summary>Sign in with an API token instead</summary>
        <form onSubmit={submitToken}>
          <p className="hint">
            The first start of the service printed the admin's token (it is also in{' '}
            <code>DATA_DIR/admin-token</code>); the tokens page makes more. A pasted token is
            forgotten by this browser on sign-out, not revoked.
          </p>
          <label>
            API token
            <input
              name="token"
              type="password"
              autoComplete="off"
              placeholder="igt_…"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              required
            />
          </label>
          <button type="submit" disabled={busy}>
            Sign in with token
          </button>
        </form>
      </details>
    </main>
  );
}
