// The feed: newest images first, the next page fetched as the user nears the end, and
// each image's analysis status kept live by the `analysisCompleted` subscription.
import { useEffect, useRef } from 'react';
import { AnalysisBadge } from './AnalysisBadge';
import type { FeedImage } from './queries';
import { imageHref } from './route';
import { UploadForm } from './UploadForm';
import { useAnalysisUpdates } from './useAnalysisUpdates';
import { useFeed } from './useFeed';

export function Feed() {
  const feed = useFeed();
  const updates = useAnalysisUpdates();
  const sentinel = useRef<HTMLDivElement>(null);
  const { loadMore, hasNextPage } = feed;

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
    <section className="feed">
      <UploadForm onUploaded={feed.prepend} />
      <h2>
        Images {feed.totalCount !== null && <span className="count">({feed.totalCount})</span>}
      </h2>
      <ul className="grid">
        {feed.images.map((image) => (
          <ImageCard key={image.id} image={{ ...image, ...updates[image.id] }} />
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
              ? 'No images yet: upload the first one.'
              : 'That is all of them.'}
      </div>
    </section>
  );
}

function ImageCard({ image }: { image: FeedImage }) {
  return (
    <li className="card" data-image-id={image.id}>
      <a href={imageHref(image.id)}>
        <img
          src={image.thumbnailUrl}
          alt={image.description ?? `Image by ${image.owner.name}`}
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
    </li>
  );
}
