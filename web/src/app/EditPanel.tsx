// Sliders for the four enhance factors. Each change is previewed (`save: PREVIEW`, the
// result comes back as a data URL) a moment after the slider stops; "Save as a new
// version" stores it (`NEW_VERSION`) and opens the new image.
import { useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { EDIT_IMAGE, type ImageDetail } from './queries';
import { imageHref } from './route';

const FACTORS = ['brightness', 'contrast', 'saturation', 'sharpness'] as const;
type Factor = (typeof FACTORS)[number];
type Factors = Record<Factor, number>;

const UNCHANGED: Factors = { brightness: 1, contrast: 1, saturation: 1, sharpness: 1 };
const PREVIEW_DELAY_MS = 300;

/** `[{brightness: 1.2}, ...]`, leaving out the factors left at 1 (no change). */
function instructionsOf(factors: Factors) {
  return FACTORS.filter((f) => factors[f] !== 1).map((f) => ({ [f]: factors[f] }));
}

interface EditResult {
  editImage: { preview: string | null; image: { id: string } | null };
}

export function EditPanel({ image }: { image: ImageDetail }) {
  const client = useClient();
  const [factors, setFactors] = useState<Factors>(UNCHANGED);
  const [preview, setPreview] = useState<string | null>(null);
  const [busy, setBusy] = useState<'' | 'preview' | 'save'>('');
  const [error, setError] = useState('');
  const latest = useRef(0);
  const instructions = instructionsOf(factors);

  // Preview the current factors once the sliders have been still for a moment; an
  // answer to an older request than the latest is dropped.
  useEffect(() => {
    const wanted = instructionsOf(factors);
    if (wanted.length === 0) {
      latest.current++;
      setPreview(null);
      setBusy('');
      return;
    }
    const request = ++latest.current;
    const timer = setTimeout(async () => {
      setBusy('preview');
      const result = await client
        .mutation<EditResult>(EDIT_IMAGE, {
          imageId: image.id,
          instructions: wanted,
          save: 'PREVIEW',
        })
        .toPromise();
      if (request !== latest.current) return;
      setBusy('');
      setPreview(result.data?.editImage.preview ?? null);
      setError(describeError(result.error));
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [client, image.id, factors]);

  async function save() {
    setBusy('save');
    const result = await client
      .mutation<EditResult>(EDIT_IMAGE, { imageId: image.id, instructions, save: 'NEW_VERSION' })
      .toPromise();
    setBusy('');
    const saved = result.data?.editImage.image;
    if (saved) {
      location.hash = imageHref(saved.id);
    } else {
      setError(describeError(result.error));
    }
  }

  return (
    <section className="edit">
      <h2>Edit</h2>
      <div className="edit-body">
        <div className="sliders">
          {FACTORS.map((factor) => (
            <label key={factor}>
              <span className="slider-name">{factor}</span>
              <input
                type="range"
                name={factor}
                min={0}
                max={3}
                step={0.05}
                value={factors[factor]}
                onChange={(e) => setFactors({ ...factors, [factor]: Number(e.target.value) })}
              />
              <output>{factors[factor].toFixed(2)}</output>
            </label>
          ))}
          <div className="edit-actions">
            <button
              type="button"
              onClick={() => setFactors(UNCHANGED)}
              disabled={instructions.length === 0}
            >
              Reset
            </button>
            <button
              type="button"
              onClick={save}
              disabled={busy !== '' || instructions.length === 0}
            >
              {busy === 'save' ? 'Saving…' : 'Save as a new version'}
            </button>
          </div>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
        </div>
        <div className="preview">
          {preview ? (
            <figure>
              <img className="edit-preview" src={preview} alt="Preview of the edit" />
              <figcaption>Preview, not saved</figcaption>
            </figure>
          ) : (
            <p className="hint">
              {busy === 'preview' ? 'Rendering the preview…' : 'Move a slider to preview the edit.'}
            </p>
          )}
        </div>
      </div>
    </section>
  );
}
