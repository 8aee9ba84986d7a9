// Signing in and out. Two ways in: a name and password (`login`, which mints a token
// for this browser) or a pasted API token. Either way the token is checked by asking
// who it belongs to, then kept in localStorage so a reload stays signed in. A token the
// gallery minted is revoked on sign-out; a pasted one is only forgotten (it may be the
// admin's token from the first start, which the person still needs elsewhere).
import { Client, fetchExchange } from '@urql/core';
import { makeClient, type ApiClient } from './client';
import { describeError } from './errors';
import { LOGIN, REVOKE_API_TOKEN, VIEWER } from './queries';

const TOKEN_KEY = 'imagegraph.token';
/** The id of the stored token when the gallery minted it by signing in (else absent). */
const TOKEN_ID_KEY = 'imagegraph.tokenId';

export interface Viewer {
  id: string;
  name: string;
  role: 'ADMIN' | 'MEMBER';
}

export interface Session {
  api: ApiClient;
  viewer: Viewer;
  /** The token's id when it was made by signing in with a password; `null` if pasted. */
  tokenId: string | null;
}

export function storedToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function forgetToken(): void {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_ID_KEY);
}

/**
 * Signs in with a token; throws an Error whose message is fit to show. `tokenId` is
 * the token's id when the gallery minted it (from `login`); by default it is whatever
 * was stored with the same token earlier (a reload).
 */
export async function signIn(
  token: string,
  onUnauthenticated: () => void,
  tokenId: string | null = localStorage.getItem(TOKEN_KEY) === token
    ? localStorage.getItem(TOKEN_ID_KEY)
    : null,
): Promise<Session> {
  const api = makeClient(token, onUnauthenticated);
  const result = await api.client.query<{ viewer: Viewer }>(VIEWER, {}).toPromise();
  if (result.error || !result.data) {
    api.dispose();
    throw new Error(describeError(result.error) || 'The service gave no answer.');
  }
  localStorage.setItem(TOKEN_KEY, token);
  if (tokenId) localStorage.setItem(TOKEN_ID_KEY, tokenId);
  else localStorage.removeItem(TOKEN_ID_KEY);
  return { api, viewer: result.data.viewer, tokenId };
}

interface LoginAnswer {
  login: { token: string; apiToken: { id: string } };
}

/** A new token for `name` if `password` is theirs; throws an Error fit to show. */
export async function logIn(
  name: string,
  password: string,
): Promise<{ token: string; tokenId: string }> {
  // Without a token: `login` is the one operation that needs none.
  const anonymous = new Client({
    url: '/graphql',
    exchanges: [fetchExchange],
    preferGetMethod: false,
    requestPolicy: 'network-only',
  });
  const result = await anonymous
    .mutation<LoginAnswer>(LOGIN, { input: { name, password } })
    .toPromise();
  const login = result.data?.login;
  if (!login) {
    throw new Error(describeError(result.error, 'login') || 'The service gave no answer.');
  }
  return { token: login.token, tokenId: login.apiToken.id };
}

/**
 * Ends a session: closes its socket and, for a token the gallery minted, revokes it.
 * Resolves with a sentence when the revocation failed (the token is forgotten anyway).
 */
export async function endSession(session: Session): Promise<string> {
  session.api.dispose();
  let problem = '';
  if (session.tokenId) {
    const result = await session.api.client
      .mutation(REVOKE_API_TOKEN, { id: session.tokenId })
      .toPromise();
    // Already revoked (elsewhere, or the user disabled) is as good as revoked.
    const gone = result.error?.graphQLErrors.some((e) =>
      ['UNAUTHENTICATED', 'NOT_FOUND'].includes(String(e.extensions?.code)),
    );
    if (result.error && !gone) {
      problem = `Signed out here, but the service did not revoke the token: ${describeError(result.error)}`;
    }
  }
  forgetToken();
  return problem;
}
