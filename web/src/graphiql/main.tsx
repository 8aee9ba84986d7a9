// GraphiQL, served by the service itself: every script and style comes from the npm
// packages, bundled by Vite into /assets/, so the page works with no internet access.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { parse, type DocumentNode } from 'graphql';
import 'graphiql/style.css';
import './graphiql.css';

/** What the headers editor shows until the user pastes a token over the placeholder. */
const PLACEHOLDER = '<paste the token printed at first start>';

const DEFAULT_HEADERS = JSON.stringify({ Authorization: `Bearer ${PLACEHOLDER}` }, null, 2);

const DEFAULT_QUERY = `# Put your API token in the Headers tab below:
# the first start printed it, and it is in
# DATA_DIR/admin-token. Then press Ctrl-Enter.
{
  viewer {
    name
    role
  }
  images(first: 5) {
    totalCount
    nodes { id thumbnailUrl description analysis { status } }
  }
}
`;

const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';

const base = createGraphiQLFetcher({
  url: '/graphql',
  // Subscriptions over graphql-ws. The toolkit passes the headers editor's contents as
  // the `connection_init` payload, so the same Authorization works for subscriptions.
  subscriptionUrl: `${wsScheme}//${location.host}/graphql/ws`,
});

/**
 * Two corrections on the way to the toolkit's fetcher:
 * - An Authorization header that still holds the placeholder is dropped: the service
 *   refuses a malformed token outright (401), which would also break the schema
 *   introspection, while with no header the request is anonymous and the docs load.
 * - The operation is parsed here: GraphiQL's own parse of the editor lags behind edits,
 *   and a subscription run right after typing it would otherwise go over HTTP.
 */
const fetcher: Fetcher = (params, opts) => {
  const headers = { ...opts?.headers };
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'authorization' && String(value).includes(PLACEHOLDER)) {
      delete headers[name];
    }
  }
  let documentAST: DocumentNode | undefined = opts?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // Not valid GraphQL: the service will say why.
  }
  return base(params, { ...opts, headers, documentAST });
};

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={DEFAULT_QUERY}
      defaultHeaders={DEFAULT_HEADERS}
      shouldPersistHeaders
      defaultEditorToolsVisibility="headers"
    >
      <GraphiQL.Logo>
        imagegraph{' '}
        <a className="app-link" href="/app/">
          gallery
        </a>
      </GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
