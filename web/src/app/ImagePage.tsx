// One image: the picture, its description and analysis status (live while the
// analysis runs), its comments, the edit panel and the versions strip.
import { useState } from 'react';
import { useQuery } from 'urql';
import { AnalysisBadge } from './AnalysisBadge';
import { Comments } from './Comments';
import { EditPanel } from './EditPanel';
import { describeError } from './errors';
import { IMAGE, type ImageDetail } from './queries';
import { findHref, imageHref, NO_FIND } from './route';
import { useAnalysisUpdates } from './useAnalysisUpdates';
import { Versions } from './Versions';

export function ImagePage({ id }: { id: string }) {
  const [{ data, error, fetching }, reload] = useQuery<{ image: ImageDetail | null }>({
    query: IMAGE,
    variables: { id },
  });
  // Bumped when the image is replaced in place: the panels below start again from the
  // new content.
  const [revision, setRevision] = useState(0);
  const onReplaced = () => {
    reload({ requestPolicy: 'network-only' });
    setRevision((n) => n + 1);
  };
  const updates = useAnalysisUpdates(id);

  if (fetching && !data) return <p className="loading">Loading…</p>;
  if (error) {
    return (
      <p className="error" role="alert">
        {describeError(error)}
      </p>
    );
  }
  if (!data?.image) {
    return (
      <p className="error" role="alert">
        This image does not exist (any more). <a href="#/">Back to the feed</a>
      </p>
    );
  }
  const image = { ...data.image, ...updates[id] };

  return (
    <article className="image-page" data-image-id={image.id}>
      <p>
        <a href="#/">← Feed</a>
      </p>
      <figure>
        <img className="full" src={image.url} alt={image.description ?? 'The image'} />
        <figcaption>
          {image.width}×{image.height} {image.contentType}, by {image.owner.name},{' '}
          {new Date(image.uploadedAt).toLocaleString()}
          {image.parent && (
            <>
              {' '}
              · edited from <a href={imageHref(image.parent.id)}>the original</a>
            </>
          )}
        </figcaption>
      </figure>
      {image.prompt && (
        <p className="prompt">
          Generated from the prompt <q>{image.prompt}</q>
        </p>
      )}
      <section className="analysis">
        <h2>
          Description <AnalysisBadge analysis={image.analysis} />
        </h2>
        <p className="description">
          {image.description ??
            (image.analysis.status === 'FAILED'
              ? image.analysis.error
              : image.analysis.status === 'NOT_REQUESTED'
                ? 'No description was asked for.'
                : 'The AI model is describing this image…')}
        </p>
        {image.analysis.model && <p className="model">by {image.analysis.model}</p>}
        {image.tags.length > 0 && (
          <ul className="chips" aria-label="Tags">
            {image.tags.map((tag) => (
              <li key={tag}>
                <a className="chip" href={findHref({ ...NO_FIND, tags: [tag] })}>
                  {tag}
                </a>
              </li>
            ))}
          </ul>
        )}
      </section>
      <EditPanel key={`edit-${revision}`} image={image} onReplaced={onReplaced} />
      <Versions key={`versions-${revision}`} id={image.id} />
      <Comments imageId={image.id} />
    </article>
  );
}
