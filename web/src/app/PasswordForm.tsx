// Changing the viewer's password: the service revokes every other token of theirs
// (other browsers, scripts), keeping this browser's.
import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { CHANGE_PASSWORD } from './queries';

export function PasswordForm({ onChanged }: { onChanged(): void }) {
  const client = useClient();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState('');

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError('');
    setDone('');
    const result = await client
      .mutation<{ changePassword: { revokedTokenCount: number } }>(CHANGE_PASSWORD, {
        input: { currentPassword: current, newPassword: next },
      })
      .toPromise();
    setBusy(false);
    const answer = result.data?.changePassword;
    if (!answer) {
      const wrong = result.error?.graphQLErrors.some(
        (e) => e.extensions?.field === 'currentPassword' && e.extensions?.code === 'BAD_USER_INPUT',
      );
      setError(wrong ? 'That is not your current password.' : describeError(result.error));
      return;
    }
    const n = answer.revokedTokenCount;
    setDone(
      `Password changed. ${n === 0 ? 'No other token' : n === 1 ? '1 other token' : `${n} other tokens`} of yours ${n === 1 ? 'was' : 'were'} revoked; this browser stays signed in.`,
    );
    setCurrent('');
    setNext('');
    onChanged();
  }

  return (
    <section className="password">
      <h2>Password</h2>
      <form className="inline-form" onSubmit={submit} aria-label="Change password">
        <label>
          Current password
          <input
            name="currentPassword"
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            required
          />
        </label>
        <label>
          New password (at least 10 characters)
          <input
            name="newPassword"
            type="password"
            autoComplete="new-password"
            minLength={10}
            value={next}
            onChange={(e) => setNext(e.target.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          Change password
        </button>
      </form>
      <p className="hint">
        Changing it signs out every other browser and revokes every other token of yours. An account
        without a password (the first admin) gets one from the command line:{' '}
        <code>imagegraph users password NAME</code>.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
    </section>
  );
}
