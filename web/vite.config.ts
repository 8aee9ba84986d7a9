// Two pages, one build: GraphiQL at `/` (index.html) and the gallery SPA at `/app/`
// (app/index.html). Every script and stylesheet lands in dist/assets/ with a hashed
// name, which the service serves with an immutable Cache-Control. Nothing is loaded
// from anywhere but the service: the pages run under a CSP of `script-src 'self'`.
import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running service (IMAGEGRAPH_URL, default
// http://127.0.0.1:8080), so the pages can be worked on with live reload.
const api = process.env.IMAGEGRAPH_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // GraphiQL with CodeMirror is one large chunk by nature.
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { graphiql: 'index.html', app: 'app/index.html' },
      onwarn(warning, warn) {
        // framer-motion (GraphiQL's) marks modules "use client", which means nothing here.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/graphql/ws': { target: api, ws: true },
      '/graphql': api,
      '/media': api,
    },
  },
});
