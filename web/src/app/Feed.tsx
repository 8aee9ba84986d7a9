// The feed: the search box and filters (kept in the URL), then the images that match,
// newest first or best match first, the next page fetched as the user nears the end,
// and each image's analysis status kept live by the `analysisCompleted` subscription.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { AnalysisBadge } from './AnalysisBadge';
import type { AnalysisStatus, FeedImage, ImageFilter, ImageOrder, ImageSource } from './queries';
import { findHref, imageHref, NO_FIND, type Find } from './route';
import { UploadForm } from './UploadForm';
import { useAnalysisUpdates } from './useAnalysisUpdates';
import { useFeed } from './useFeed';

interface Props {
  find: Find;
  viewerId: string;
}

export function Feed({ find, viewerId }: Props) {
  const href = findHref(find);
  const filtered = href !== findHref(NO_FIND);
  // Uploads are put first only in the unfiltered feed: a new upload need not match a search.
  const prepend = useRef<((image: FeedImage) => void) | null>(null);
  return (
    <section className="feed">
      <UploadForm onUploaded={(image) => prepend.current?.(image)} />
      <FindBar find={find} />
      <Results
        key={href}
        find={find}
        filtered={filtered}
        viewerId={viewerId}
        onPrepend={(add) => {
          prepend.current = filtered ? null : add;
        }}
      />
    </section>
  );
}

const go = (find: Find) => {
  location.hash = findHref(find);
};

const SOURCES: [ImageSource, string][] = [
  ['UPLOAD', 'Uploaded'],
  ['GENERATION', 'Generated'],
  ['EDIT', 'Edited'],
];

const STATUSES: [AnalysisStatus, string][] = [
  ['SUCCEEDED', 'Described'],
  ['PENDING', 'Queued'],
  ['RUNNING', 'Analysing'],
  ['FAILED', 'Failed'],
  ['NOT_REQUESTED', 'Not analysed'],
];

function FindBar({ find }: { find: Find }) {
  const [text, setText] = useState(find.q);
  // Back and forward (or a shared link) change the search under the box.
  useEffect(() => setText(find.q), [find.q]);

  function submit(event: FormEvent) {
    event.preventDefault();
    go({ ...find, q: text.trim() });
  }

  const any = findHref(find) !== findHref(NO_FIND);
  return (
    <search className="find">
      <form className="search-form" onSubmit={submit}>
        <label className="search-label">
          Search
          <input
            type="search"
            name="q"
            value={text}
            maxLength={500}
            placeholder='cat -dog, "red sky" or sunset'
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <button type="submit">Search</button>
      </form>
      <div className="filters">
        <label className="check">
          <input
            type="checkbox"
            name="mine"
            checked={find.mine}
            onChange={(e) => go({ ...find, mine: e.target.checked })}
          />
          Only mine
        </label>
        <label>
          Source
          <select
            name="source"
            value={find.source ?? ''}
            onChange={(e) =>
              go({ ...find, source: (e.target.value || null) as ImageSource | null })
            }
          >
            <option value="">Any</option>
            {SOURCES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Analysis
          <select
            name="status"
            value={find.status ?? ''}
            onChange={(e) =>
              go({ ...find, status: (e.target.value || null) as AnalysisStatus | null })
            }
          >
            <option value="">Any</option>
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {find.q && (
          <label>
            Order
            <select
              name="sort"
              value={find.sort}
              onChange={(e) => go({ ...find, sort: e.target.value as Find['sort'] })}
            >
              <option value="relevance">Best match</option>
              <option value="newest">Newest</option>
            </select>
          </label>
        )}
        {any && (
          <button type="button" onClick={() => go(NO_FIND)}>
            Clear all
          </button>
        )}
      </div>
      {find.tags.length > 0 && (
        <ul className="chips active-tags" aria-label="Tags searched for">
          {find.tags.map((tag) => (
            <li key={tag}>
              <button
                type="button"
                className="chip chip-active"
                onClick={() => go({ ...find, tags: find.tags.filter((other) => other !== tag) })}
              >
                {tag} <span aria-hidden="true">×</span>
                <span className="visually-hidden"> (remove this tag from the search)</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </search>
  );
}

function toFilter(find: Find, viewerId: string): ImageFilter | null {
  const filter: ImageFilter = {};
  if (find.q) filter.search = find.q;
  if (find.tags.length > 0) filter.tags = find.tags;
  if (find.mine) filter.ownerId = viewerId;
  if (find.source) filter.source = find.source;
  if (find.status) filter.analysisStatus = find.status;
  return Object.keys(filter).length > 0 ? filter : null;
}

function toOrder(find: Find): ImageOrder | null {
  if (!find.q) return null;
  return find.sort === 'newest' ? 'NEWEST' : 'RELEVANCE';
}

interface ResultsProps {
  find: Find;
  filtered: boolean;
  viewerId: string;
  /** Hands the feed's `prepend` to the upload form's owner. */
  onPrepend(prepend: (image: FeedImage) => void): void;
}

function Results({ find, filtered, viewerId, onPrepend }: ResultsProps) {
  const feed = useFeed(toFilter(find, viewerId), toOrder(find));
  const updates = useAnalysisUpdates();
  const sentinel = useRef<HTMLDivElement>(null);
  const { loadMore, hasNextPage, prepend } = feed;

  useEffect(() => onPrepend(prepend));

  // Load the next page when the end of the list comes within 300 px of the screen. The
  // observer is made anew after every page, so a page too short to fill the screen is
  // followed by the next at once.
  useEffect(() => {
    const end = sentinel.current;
    if (!end || !hasNextPage) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) loadMore();
      },
      { rootMargin: '0px 0px 300px 0px' },
    );
    observer.observe(end);
    return () => observer.disconnect();
  }, [loadMore, hasNextPage, feed.images.length]);

  return (
    <>
      <h2 aria-live="polite">
        {filtered ? 'Found' : 'Images'}{' '}
        {feed.totalCount !== null && <span className="count">({feed.totalCount})</span>}
      </h2>
      <ul className="grid">
        {feed.images.map((image) => (
          <ImageCard key={image.id} image={{ ...image, ...updates[image.id] }} find={find} />
        ))}
      </ul>
      {feed.error && (
        <p className="error" role="alert">
          {feed.error}{' '}
          <button type="button" onClick={loadMore}>
            Try again
          </button>
        </p>
      )}
      <div ref={sentinel} className="feed-end">
        {feed.loading
          ? 'Loading…'
          : feed.hasNextPage
            ? ''
            : feed.images.length === 0
              ? filtered
                ? 'No image matches.'
                : 'No images yet: upload the first one.'
              : 'That is all of them.'}
      </div>
    </>
  );
}

function ImageCard({ image, find }: { image: FeedImage; find: Find }) {
  return (
    <li className="card" data-image-id={image.id}>
      <a href={imageHref(image.id)}>
        <img
          src={image.thumbnailUrl}
          alt={image.description ?? `Image by ${image.owner.name}, not described yet`}
          width={image.width}
          height={image.height}
          loading="lazy"
        />
      </a>
      <div className="card-meta">
        <AnalysisBadge analysis={image.analysis} />
        <span className="comment-count">
          {image.commentCount} {image.commentCount === 1 ? 'comment' : 'comments'}
        </span>
      </div>
      {image.tags.length > 0 && <TagChips tags={image.tags} find={find} />}
    </li>
  );
}

/** An image's tags; clicking one adds it to the search (again: takes it out). */
export function TagChips({ tags, find }: { tags: string[]; find: Find }) {
  return (
    <ul className="chips" aria-label="Tags">
      {tags.map((tag) => {
        const on = find.tags.includes(tag);
        return (
          <li key={tag}>
            <button
              type="button"
              className={on ? 'chip chip-active' : 'chip'}
              aria-pressed={on}
              data-tag={tag}
              onClick={() =>
                go({
                  ...find,
                  tags: on ? find.tags.filter((other) => other !== tag) : [...find.tags, tag],
                })
              }
            >
              {tag}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
