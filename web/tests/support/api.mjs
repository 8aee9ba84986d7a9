// Seeding through the API, as any script would: JSON requests with a bearer token.
export function apiClient(origin, token) {
  return async function graphql(query, variables = {}) {
    const response = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (!response.ok || body.errors) {
      throw new Error(
        `GraphQL request failed (${response.status}): ${JSON.stringify(body.errors ?? body)}`,
      );
    }
    return body.data;
  };
}
