// The feed's state: the images loaded so far, page after page, each asked for with the
// previous page's `endCursor`, all with the same `filter` and `orderBy` (a new search is
// a new feed: the component using this is keyed by it).
import { useCallback, useRef, useState } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import {
  FEED,
  type Connection,
  type FeedImage,
  type ImageFilter,
  type ImageOrder,
} from './queries';

export const PAGE_SIZE = 20;

export interface Feed {
  images: FeedImage[];
  totalCount: number | null;
  hasNextPage: boolean;
  loading: boolean;
  error: string;
  loadMore(): void;
  /** Puts a just-uploaded image first. */
  prepend(image: FeedImage): void;
}

export function useFeed(
  filter: ImageFilter | null = null,
  orderBy: ImageOrder | null = null,
): Feed {
  const client = useClient();
  const [images, setImages] = useState<FeedImage[]>([]);
  const [totalCount, setTotalCount] = useState<number | null>(null);
  const [hasNextPage, setHasNextPage] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  // The cursor and the in-flight flag live in refs: loadMore is called from an
  // IntersectionObserver and must see the latest values, not a render's.
  const cursor = useRef<string | null>(null);
  const busy = useRef(false);
  const more = useRef(true);
  // Fixed for the feed's life: a new search mounts a new feed.
  const query = useRef({ filter, orderBy });

  const loadMore = useCallback(async () => {
    if (busy.current || !more.current) return;
    busy.current = true;
    setLoading(true);
    const result = await client
      .query<{ images: Omit<Connection<FeedImage>, 'totalCount'> & { totalCount?: number } }>(
        FEED,
        {
          first: PAGE_SIZE,
          after: cursor.current,
          ...query.current,
          withCount: cursor.current === null,
        },
      )
      .toPromise();
    busy.current = false;
    setLoading(false);
    if (result.error || !result.data) {
      // Shown with a button to try again; the observer does not retry by itself.
      setError(describeError(result.error));
      return;
    }
    const { nodes, pageInfo, totalCount } = result.data.images;
    cursor.current = pageInfo.endCursor ?? cursor.current;
    more.current = pageInfo.hasNextPage;
    setError('');
    if (totalCount !== undefined) setTotalCount(totalCount);
    setHasNextPage(pageInfo.hasNextPage);
    // An upload made while paging may already be shown: keep one of each.
    setImages((prev) => {
      const seen = new Set(prev.map((image) => image.id));
      return [...prev, ...nodes.filter((image) => !seen.has(image.id))];
    });
  }, [client]);

  const prepend = useCallback((image: FeedImage) => {
    setImages((prev) => [image, ...prev.filter((other) => other.id !== image.id)]);
    setTotalCount((count) => (count === null ? null : count + 1));
  }, []);

  return { images, totalCount, hasNextPage, loading, error, loadMore, prepend };
}
