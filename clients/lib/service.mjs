// Where the service under test is: scripts/clients.sh starts the real binary (zero-setup
// mode, its own DATA_DIR, a free port) and hands its origin and admin token over in
// IMAGEGRAPH_URL and IMAGEGRAPH_TOKEN.
export function service() {
  const origin = process.env.IMAGEGRAPH_URL;
  const token = process.env.IMAGEGRAPH_TOKEN;
  if (!origin || !token) {
    throw new Error(
      'IMAGEGRAPH_URL and IMAGEGRAPH_TOKEN are not set: run the suite with scripts/clients.sh test',
    );
  }
  return {
    origin,
    token,
    graphqlUrl: `${origin}/graphql`,
    wsUrl: `${origin.replace(/^http/, 'ws')}/graphql/ws`,
    authorization: `Bearer ${token}`,
  };
}
