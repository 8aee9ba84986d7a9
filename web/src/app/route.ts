// Hash routes, so the service serves one file for the whole app: `#/` is the feed (with
// the search and filters as query parameters, so a search can be shared and reloaded:
// `#/?q=red+sky&tag=portrait&mine=1&source=UPLOAD&status=SUCCEEDED&sort=newest`),
// `#/images/<id>` one image, `#/generate` image generation, `#/tokens` the viewer's API
// tokens, `#/users` the users, `#/usage` the usage dashboard, `#/benchmark` the HPL
// benchmark.
import { useEffect, useRef, useState } from 'react';
import type { AnalysisStatus, ImageSource } from './queries';

/** What the feed shows: every field optional, all given ones must hold. */
export interface Find {
  /** Web search syntax; '' for none. */
  q: string;
  tags: string[];
  mine: boolean;
  source: ImageSource | null;
  status: AnalysisStatus | null;
  /** With a search: best match first (the default) or newest first. */
  sort: 'relevance' | 'newest';
}

export type Route =
  | { page: 'feed'; find: Find }
  | { page: 'image'; id: string }
  | { page: 'generate' }
  | { page: 'tokens' }
  | { page: 'users' }
  | { page: 'usage' }
  | { page: 'benchmark' };

const SOURCES: readonly ImageSource[] = ['UPLOAD', 'GENERATION', 'EDIT'];
const STATUSES: readonly AnalysisStatus[] = [
  'NOT_REQUESTED',
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
];

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return allowed.includes(value as T) ? (value as T) : null;
}

export function parseFind(query: string): Find {
  const params = new URLSearchParams(query);
  const tags = [
    ...new Set(
      params
        .getAll('tag')
        .map((tag) => tag.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  return {
    q: (params.get('q') ?? '').trim(),
    tags,
    mine: params.get('mine') === '1',
    source: oneOf(params.get('source'), SOURCES),
    status: oneOf(params.get('status'), STATUSES),
    sort: params.get('sort') === 'newest' ? 'newest' : 'relevance',
  };
}

export function findHref(find: Find): string {
  const params = new URLSearchParams();
  if (find.q) params.set('q', find.q);
  for (const tag of find.tags) params.append('tag', tag);
  if (find.mine) params.set('mine', '1');
  if (find.source) params.set('source', find.source);
  if (find.status) params.set('status', find.status);
  if (find.q && find.sort === 'newest') params.set('sort', 'newest');
  const query = params.toString();
  return query ? `#/?${query}` : '#/';
}

export const NO_FIND: Find = parseFind('');

export function parseRoute(hash: string): Route {
  const image = /^#\/images\/([^/?#]+)/.exec(hash);
  if (image) return { page: 'image', id: decodeURIComponent(image[1]) };
  if (/^#\/generate\/?$/.test(hash)) return { page: 'generate' };
  if (/^#\/tokens\/?$/.test(hash)) return { page: 'tokens' };
  if (/^#\/users\/?$/.test(hash)) return { page: 'users' };
  if (/^#\/usage\/?$/.test(hash)) return { page: 'usage' };
  if (/^#\/benchmark\/?$/.test(hash)) return { page: 'benchmark' };
  const query = hash.indexOf('?');
  return { page: 'feed', find: parseFind(query < 0 ? '' : hash.slice(query + 1)) };
}

export function imageHref(id: string): string {
  return `#/images/${encodeURIComponent(id)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const page = useRef(route.page);
  useEffect(() => {
    const onChange = () => {
      const next = parseRoute(location.hash);
      // A new search keeps the scroll position at the filters; a new page starts at the top.
      if (page.current !== next.page || next.page !== 'feed') window.scrollTo(0, 0);
      page.current = next.page;
      setRoute(next);
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
