// The GraphQL client: queries and mutations over HTTP POST (JSON, or the multipart
// request spec when the variables hold a File), subscriptions over graphql-ws. Both carry
// the token: HTTP as `Authorization: Bearer`, the WebSocket in its `connection_init`.
// Queries go by hash first (Automatic Persisted Queries, `persistedHash` below).
import { Client, fetchExchange, mapExchange, subscriptionExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { isUnauthenticated } from './errors';
import { VIEWER } from './queries';

export interface ApiClient {
  client: Client;
  /** Closes the WebSocket (on sign-out). */
  dispose(): void;
}

export function subscriptionUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/graphql/ws`;
}

/** `onUnauthenticated` runs when the service stops accepting the token (revoked). */
export function makeClient(token: string, onUnauthenticated: () => void): ApiClient {
  const authorization = `Bearer ${token}`;
  const ws: WsClient = createWsClient({
    url: subscriptionUrl(),
    connectionParams: { Authorization: authorization },
    // Reconnect after the service restarts; subscriptions resume on the new socket.
    retryAttempts: Infinity,
    on: {
      // 4403: the service closed the socket because the token was revoked or its user
      // changed (disabled, or only a new role). Ask over HTTP whether the token still
      // works: if not, that answer signs out (below) instead of reconnecting forever.
      closed(event) {
        if ((event as CloseEvent).code === 4403) void client.query(VIEWER, {}).toPromise();
      },
    },
  });
  const client = new Client({
    url: '/graphql',
    // No document cache: every screen asks for what it shows and keeps it in its state.
    exchanges: [
      mapExchange({
        onError(error) {
          if (isUnauthenticated(error)) onUnauthenticated();
        },
      }),
      // A query is sent as its SHA-256 alone; the service answers PERSISTED_QUERY_NOT_FOUND
      // the first time (or after its bounded cache let the query go), and the exchange
      // sends it again with its text, which registers it. Mutations and subscriptions
      // pass through untouched, always with their text: the service registers only
      // queries (a mutation holding a password must not be findable by its hash).
      persistedExchange({
        generateHash: persistedHash,
        enableForMutation: false,
        enableForSubscriptions: false,
        // POST, like everything else: answers carry no Cache-Control (a feed must show an
        // upload or a comment at once, and media URLs in it expire), so GET would cache
        // nothing, and it would put the variables (searches, names) in URLs that proxies
        // log. Same-origin requests with the Authorization header need no preflight
        // either way.
        preferGetForPersistedQueries: false,
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink),
          }),
        }),
      }),
    ],
    fetchOptions: { headers: { Authorization: authorization } },
    preferGetMethod: false,
    requestPolicy: 'network-only',
  });
  return {
    client,
    // `dispose` waits for a connection under way; after a 4403 that is a reconnection
    // waiting out its back-off, which gives up with "All Subscriptions Gone" once the
    // signed-out pages have let go of their subscriptions. Nothing is left to close then.
    dispose: () => void Promise.resolve(ws.dispose()).catch(() => {}),
  };
}

/**
 * The hex SHA-256 of a query's text, as the service computes it. Web Crypto exists only
 * in secure contexts (HTTPS, or the service on localhost); elsewhere (plain HTTP to
 * another host) the query goes with its text, as it would without persisted queries.
 * The exchange's own fallback would try `new Function`, which the CSP forbids.
 */
async function persistedHash(query: string): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(query));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
