// The viewer's API tokens: when each was made and last used, a form for a new one
// (its secret shown only once, with a copy button), and revocation.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { PasswordForm } from './PasswordForm';
import { API_TOKENS, CREATE_API_TOKEN, REVOKE_API_TOKEN, type ApiToken } from './queries';

interface Props {
  /** The token this browser signed in with, if the gallery minted it. */
  currentTokenId: string | null;
  /** Revoking the token in use is signing out. */
  onRevokedCurrent(): void;
}

function when(value: string | null): string {
  return value
    ? new Date(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
    : 'never';
}

export function TokensPage({ currentTokenId, onRevokedCurrent }: Props) {
  const client = useClient();
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState('');
  const secret = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const revokeButtons = useRef(new Map<string, HTMLButtonElement>());
  // Where the focus goes once a revoked row is gone: the next token's (or else the
  // previous one's) revoke button, or the heading when none is left. Not the body.
  const [focusAfterRevoke, setFocusAfterRevoke] = useState<string | null>(null);

  const load = useCallback(async () => {
    const result = await client
      .query<{ viewer: { apiTokens: ApiToken[] } }>(API_TOKENS, {})
      .toPromise();
    if (result.data) {
      setTokens(result.data.viewer.apiTokens);
      setError('');
    } else setError(describeError(result.error));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setCreating(true);
    setError('');
    setCopied('');
    const result = await client
      .mutation<{
        createApiToken: { token: string; apiToken: ApiToken };
      }>(CREATE_API_TOKEN, { name: name.trim() })
      .toPromise();
    setCreating(false);
    const answer = result.data?.createApiToken;
    if (!answer) {
      setError(describeError(result.error));
      return;
    }
    setCreated({ name: answer.apiToken.name, token: answer.token });
    setName('');
    setTokens((prev) => [...(prev ?? []), answer.apiToken]);
  }

  // Focus the secret once shown, so it can be copied by keyboard straight away.
  useEffect(() => {
    if (created) secret.current?.select();
  }, [created]);

  async function copy() {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied.');
    } catch {
      // No clipboard access (an insecure origin, or refused): leave it selected.
      secret.current?.select();
      setCopied('Press Ctrl+C (⌘C) to copy the selected token.');
    }
  }

  async function revoke(token: ApiToken) {
    if (token.id === currentTokenId) {
      onRevokedCurrent();
      return;
    }
    setError('');
    const result = await client.mutation(REVOKE_API_TOKEN, { id: token.id }).toPromise();
    if (result.error) {
      setError(describeError(result.error));
      return;
    }
    const list = tokens ?? [];
    const at = list.findIndex((other) => other.id === token.id);
    const neighbour = list[at + 1] ?? list[at - 1];
    setFocusAfterRevoke(neighbour ? neighbour.id : 'heading');
    setTokens((prev) => (prev ?? []).filter((other) => other.id !== token.id));
  }

  useEffect(() => {
    if (!focusAfterRevoke) return;
    const button = revokeButtons.current.get(focusAfterRevoke);
    (button ?? heading.current)?.focus();
    setFocusAfterRevoke(null);
  }, [focusAfterRevoke, tokens]);

  return (
    <section className="tokens-page">
      <h1 ref={heading} tabIndex={-1}>
        API tokens
      </h1>
      <p className="hint">
        Each token signs in as you: send it as <code>Authorization: Bearer …</code>. Signing in with
        your password makes one named <code>login</code>; signing out revokes it.
      </p>
      <form className="inline-form" onSubmit={create} aria-label="New token">
        <label>
          New token's name
          <input
            name="tokenName"
            value={name}
            maxLength={64}
            placeholder="backup script"
            onChange={(e) => setName(e.target.value)}
            required
          />
        </label>
        <button type="submit" disabled={creating}>
          Create token
        </button>
      </form>
      {created && (
        <div className="secret" role="status">
          <p>
            The token <strong>{created.name}</strong>: copy it now, it is not shown again.
          </p>
          <div className="secret-row">
            <input
              ref={secret}
              className="secret-value"
              aria-label="The new token"
              readOnly
              value={created.token}
              onFocus={(e) => e.target.select()}
            />
            <button type="button" onClick={copy}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
          {copied && <p className="hint">{copied}</p>}
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {tokens === null ? (
        !error && <p className="loading">Loading…</p>
      ) : (
        <div className="table-scroll">
          <table className="tokens stacking">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((token) => (
                <tr key={token.id} data-token-id={token.id}>
                  <th scope="row">
                    {token.name}
                    {token.id === currentTokenId && (
                      <>
                        {' '}
                        <span className="badge">this browser</span>
                      </>
                    )}
                  </th>
                  <td data-label="Created">{when(token.createdAt)}</td>
                  <td data-label="Last used">{when(token.lastUsedAt)}</td>
                  <td>
                    <button
                      type="button"
                      ref={(button) => {
                        if (button) revokeButtons.current.set(token.id, button);
                        else revokeButtons.current.delete(token.id);
                      }}
                      onClick={() => void revoke(token)}
                    >
                      {token.id === currentTokenId ? 'Revoke and sign out' : 'Revoke'}
                      <span className="visually-hidden"> {token.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PasswordForm onChanged={() => void load()} />
    </section>
  );
}
