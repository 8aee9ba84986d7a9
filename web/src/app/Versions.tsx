// The versions strip: what this image was made from (`parent`), the image, and what
// was made from it (`versions`: edits saved as new versions, and the earlier content of
// an image replaced in place). Choosing one compares it with this image: the older of the
// two is "before", and a range input moves the line between them (keyboard: arrows).
import { useState } from 'react';
import { useQuery } from 'urql';
import { describeError } from './errors';
import { describeInstruction } from './instructions';
import { VERSIONS, type Version } from './queries';
import { imageHref } from './route';

interface VersionsData {
  image:
    | (Version & { parent: Version | null; versions: { nodes: Version[]; totalCount: number } })
    | null;
}

const altOf = (version: Version) => version.description ?? 'An image without a description yet';

/** What sets a version apart, in a few words. */
function labelOf(version: Version, relation: 'parent' | 'this' | 'child'): string {
  if (relation === 'this') return 'This image';
  const made = new Date(version.editedAt).toLocaleString();
  if (relation === 'parent') return `Made from (${made})`;
  const edits = version.edits?.map(describeInstruction).join(', ');
  return edits ? `${edits} (${made})` : `Earlier content (${made})`;
}

export function Versions({ id }: { id: string }) {
  const [{ data, error, fetching }] = useQuery<VersionsData>({
    query: VERSIONS,
    variables: { id },
  });
  const [chosenId, setChosenId] = useState<string | null>(null);
  const [split, setSplit] = useState(50);

  if (fetching && !data) return null;
  if (error) {
    return (
      <section className="versions">
        <h2>Versions</h2>
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      </section>
    );
  }
  const image = data?.image;
  if (!image) return null;
  const others: [Version, 'parent' | 'child'][] = [
    ...(image.parent ? [[image.parent, 'parent'] as [Version, 'parent']] : []),
    ...image.versions.nodes.map((v) => [v, 'child'] as [Version, 'child']),
  ];
  const chosen = others.find(([v]) => v.id === chosenId)?.[0] ?? others[0]?.[0] ?? null;

  const items: [Version, 'parent' | 'this' | 'child'][] = [
    ...(image.parent ? [[image.parent, 'parent'] as [Version, 'parent']] : []),
    [image, 'this'],
    ...image.versions.nodes.map((v) => [v, 'child'] as [Version, 'child']),
  ];
  // Before is the older content of the two.
  const [before, after] =
    chosen && new Date(chosen.editedAt) > new Date(image.editedAt)
      ? [image, chosen]
      : [chosen, image];

  return (
    <section className="versions" aria-labelledby="versions-heading">
      <h2 id="versions-heading">
        Versions{others.length > 0 && <span className="count"> ({items.length})</span>}
      </h2>
      {others.length === 0 ? (
        <p className="hint">
          No other versions yet: an edit saved as a new version, or a replaced image’s earlier
          content, shows up here.
        </p>
      ) : (
        <>
          <ul className="version-strip" aria-label="Versions">
            {items.map(([version, relation]) => (
              <li key={version.id} data-version-id={version.id}>
                {relation === 'this' ? (
                  <div className="version version-this">
                    <img src={version.thumbnailUrl} alt={altOf(version)} />
                    <span>{labelOf(version, relation)}</span>
                  </div>
                ) : (
                  <button
                    type="button"
                    className="version"
                    aria-pressed={chosen?.id === version.id}
                    onClick={() => setChosenId(version.id)}
                  >
                    <img src={version.thumbnailUrl} alt={altOf(version)} />
                    <span>Compare: {labelOf(version, relation)}</span>
                  </button>
                )}
                {relation !== 'this' && (
                  <a className="version-open" href={imageHref(version.id)}>
                    Open
                  </a>
                )}
              </li>
            ))}
          </ul>
          {before && after && (
            <figure
              className="compare"
              // As wide as the after image's shape allows within most of the screen's height.
              style={{ width: `min(100%, ${(60 * after.width) / after.height}vh)` }}
            >
              <div
                className="compare-stage"
                style={{ aspectRatio: `${after.width} / ${after.height}` }}
              >
                <img className="compare-after" src={after.url} alt={`After: ${altOf(after)}`} />
                <img
                  className="compare-before"
                  src={before.url}
                  alt={`Before: ${altOf(before)}`}
                  style={{ clipPath: `inset(0 ${100 - split}% 0 0)` }}
                />
                <div className="compare-line" style={{ left: `${split}%` }} aria-hidden="true" />
                <span className="compare-tag compare-tag-before" aria-hidden="true">
                  Before
                </span>
                <span className="compare-tag compare-tag-after" aria-hidden="true">
                  After
                </span>
              </div>
              <label className="compare-slider">
                Before / after
                <input
                  type="range"
                  name="compare"
                  min={0}
                  max={100}
                  step={1}
                  value={split}
                  aria-valuetext={`${split}% before, ${100 - split}% after`}
                  onChange={(e) => setSplit(Number(e.target.value))}
                />
              </label>
              <figcaption>
                Left of the line: before (
                {before.id === image.id ? 'this image' : 'the chosen version'}
                ); right: after ({after.id === image.id ? 'this image' : 'the chosen version'}).
              </figcaption>
            </figure>
          )}
        </>
      )}
    </section>
  );
}
