// The GraphQL client: queries and mutations over HTTP POST (JSON, or the multipart
// request spec when the variables hold a File), subscriptions over graphql-ws. Both carry
// the token: HTTP as `Authorization: Bearer`, the WebSocket in its `connection_init`.
import { Client, fetchExchange, mapExchange, subscriptionExchange } from '@urql/core';
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
