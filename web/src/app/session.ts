// Signing in: a token is checked by asking who it belongs to, then kept in localStorage
// so a reload stays signed in.
import { makeClient, type ApiClient } from './client';
import { describeError } from './errors';
import { VIEWER } from './queries';

const STORAGE_KEY = 'imagegraph.token';

export interface Viewer {
  name: string;
  role: 'ADMIN' | 'MEMBER';
}

export interface Session {
  api: ApiClient;
  viewer: Viewer;
}

export function storedToken(): string {
  return localStorage.getItem(STORAGE_KEY) ?? '';
}

export function forgetToken(): void {
  localStorage.removeItem(STORAGE_KEY);
}

/** Signs in with a token; throws an Error whose message is fit to show. */
export async function signIn(token: string, onUnauthenticated: () => void): Promise<Session> {
  const api = makeClient(token, onUnauthenticated);
  const result = await api.client.query<{ viewer: Viewer }>(VIEWER, {}).toPromise();
  if (result.error || !result.data) {
    api.dispose();
    throw new Error(describeError(result.error) || 'The service gave no answer.');
  }
  localStorage.setItem(STORAGE_KEY, token);
  return { api, viewer: result.data.viewer };
}
