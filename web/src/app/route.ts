// Hash routes, so the service serves one file for the whole app: `#/` is the feed,
// `#/images/<id>` one image.
import { useEffect, useState } from 'react';

export type Route = { page: 'feed' } | { page: 'image'; id: string };

export function parseRoute(hash: string): Route {
  const match = /^#\/images\/([^/?#]+)/.exec(hash);
  return match ? { page: 'image', id: decodeURIComponent(match[1]) } : { page: 'feed' };
}

export function imageHref(id: string): string {
  return `#/images/${encodeURIComponent(id)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(location.hash));
      window.scrollTo(0, 0);
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
