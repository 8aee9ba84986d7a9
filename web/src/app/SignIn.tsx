import { useState, type FormEvent } from 'react';

interface Props {
  onSignIn(token: string): Promise<void>;
  /** Why the user is here again (a refused token), if anything. */
  notice: string;
}

export function SignIn({ onSignIn, notice }: Props) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      await onSignIn(token.trim());
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  }

  const message = error || notice;
  return (
    <form className="sign-in" onSubmit={submit}>
      <h1>imagegraph</h1>
      <p>
        Sign in with an API token. The first start of the service printed the admin's (it is also in{' '}
        <code>DATA_DIR/admin-token</code>); <code>imagegraph users create NAME</code> makes more.
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
      <button type="submit" disabled={busy || token.trim() === ''}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {message && (
        <p className="error" role="alert">
          {message}
        </p>
      )}
    </form>
  );
}
