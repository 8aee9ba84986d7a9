// Every edit instruction the API has, as a form: crop (a box dragged on the image, or
// typed in), rotate, flip, resize, the four enhance factors, blur and greyscale. Each
// change is previewed (`save: PREVIEW`, a data URL back) a moment after the form is
// still; the result is saved as a new version (`NEW_VERSION`, which opens) or in place
// (`REPLACE`). Below it, a plain-language edit whose planned instructions are shown with
// their preview before anything is saved.
import { useEffect, useRef, useState, type FormEvent, type PointerEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { describeInstruction } from './instructions';
import {
  EDIT_IMAGE,
  EDIT_WITH_PROMPT,
  type EditInstruction,
  type EditResult,
  type ImageDetail,
  type SaveMode,
} from './queries';
import { imageHref } from './route';

const FACTORS = ['brightness', 'contrast', 'saturation', 'sharpness'] as const;
type Factor = (typeof FACTORS)[number];
type Fit = 'CONTAIN' | 'COVER' | 'FILL';

interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Settings extends Record<Factor, number> {
  crop: Crop | null;
  rotate: 0 | 90 | 180 | 270;
  flipHorizontal: boolean;
  flipVertical: boolean;
  /** Typed text: '' for "follow the other side". */
  resizeWidth: string;
  resizeHeight: string;
  fit: Fit;
  /** 0: none. */
  blur: number;
  grayscale: boolean;
}

const UNCHANGED: Settings = {
  brightness: 1,
  contrast: 1,
  saturation: 1,
  sharpness: 1,
  crop: null,
  rotate: 0,
  flipHorizontal: false,
  flipVertical: false,
  resizeWidth: '',
  resizeHeight: '',
  fit: 'CONTAIN',
  blur: 0,
  grayscale: false,
};
const PREVIEW_DELAY_MS = 300;
/** The tallest the image to crop is shown, in CSS pixels. */
const STAGE_HEIGHT = 360;
/** The API's bounds for a resize side and a blur radius. */
const MAX_SIDE = 16384;
const MAX_BLUR = 100;

const positive = (text: string) => {
  const n = Number(text);
  return text.trim() !== '' && Number.isInteger(n) && n > 0 && n <= MAX_SIDE ? n : null;
};

/**
 * The form as instructions, in a fixed order: the crop first, so its box is in the
 * pixels of the image shown; then the geometry; the colour changes last. Settings left
 * as they are add nothing.
 */
function instructionsOf(s: Settings): EditInstruction[] {
  const out: EditInstruction[] = [];
  if (s.crop && s.crop.width > 0 && s.crop.height > 0) out.push({ crop: s.crop });
  if (s.rotate) out.push({ rotate: s.rotate });
  if (s.flipHorizontal) out.push({ flip: 'HORIZONTAL' });
  if (s.flipVertical) out.push({ flip: 'VERTICAL' });
  const width = positive(s.resizeWidth);
  const height = positive(s.resizeHeight);
  if (width || height) out.push({ resize: { width, height, fit: s.fit } });
  for (const f of FACTORS) if (s[f] !== 1) out.push({ [f]: s[f] } as EditInstruction);
  if (s.blur > 0) out.push({ blur: s.blur });
  if (s.grayscale) out.push({ grayscale: true });
  return out;
}

/** The box inside the image, whole pixels. */
function clampCrop(crop: Crop, width: number, height: number): Crop {
  const x = Math.min(Math.max(0, Math.round(crop.x)), width - 1);
  const y = Math.min(Math.max(0, Math.round(crop.y)), height - 1);
  return {
    x,
    y,
    width: Math.min(Math.max(1, Math.round(crop.width)), width - x),
    height: Math.min(Math.max(1, Math.round(crop.height)), height - y),
  };
}

interface Props {
  image: ImageDetail;
  /** The image was replaced in place: its page shows the new content. */
  onReplaced(): void;
}

export function EditPanel({ image, onReplaced }: Props) {
  const client = useClient();
  const [settings, setSettings] = useState<Settings>(UNCHANGED);
  const [preview, setPreview] = useState<string | null>(null);
  const [busy, setBusy] = useState<'' | 'preview' | 'save'>('');
  const [error, setError] = useState('');
  const latest = useRef(0);
  const instructions = instructionsOf(settings);
  const key = JSON.stringify(instructions);
  const change = (patch: Partial<Settings>) => setSettings((prev) => ({ ...prev, ...patch }));

  // Preview once the form has been still for a moment; an answer to an older request
  // than the latest is dropped.
  useEffect(() => {
    const wanted = JSON.parse(key) as EditInstruction[];
    if (wanted.length === 0) {
      latest.current++;
      setPreview(null);
      setBusy('');
      setError('');
      return;
    }
    const request = ++latest.current;
    const timer = setTimeout(async () => {
      setBusy('preview');
      const result = await client
        .mutation<{ editImage: EditResult }>(EDIT_IMAGE, {
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
  }, [client, image.id, key]);

  async function save(mode: SaveMode) {
    setBusy('save');
    latest.current++;
    const result = await client
      // Saved content is described, so it too gets a description (and alt text) of its own.
      .mutation<{ editImage: EditResult }>(EDIT_IMAGE, {
        imageId: image.id,
        instructions,
        save: mode,
        analyze: true,
      })
      .toPromise();
    setBusy('');
    const saved = result.data?.editImage.image;
    if (!saved) {
      setError(describeError(result.error));
    } else if (mode === 'REPLACE') {
      setSettings(UNCHANGED);
      onReplaced();
    } else {
      location.hash = imageHref(saved.id);
    }
  }

  const crop = settings.crop;
  const setCrop = (next: Crop | null) =>
    change({ crop: next && clampCrop(next, image.width, image.height) });
  const cropField = (field: keyof Crop, label: string, max: number) => (
    <label>
      {label}
      <input
        type="number"
        name={`crop-${field}`}
        min={field === 'x' || field === 'y' ? 0 : 1}
        max={max}
        value={crop ? crop[field] : ''}
        placeholder="–"
        onChange={(e) => {
          const value = e.target.value === '' ? NaN : Number(e.target.value);
          if (!Number.isFinite(value)) return;
          const base = crop ?? { x: 0, y: 0, width: image.width, height: image.height };
          setCrop({ ...base, [field]: value });
        }}
      />
    </label>
  );

  return (
    <section className="edit" aria-labelledby="edit-heading">
      <h2 id="edit-heading">Edit</h2>
      <div className="edit-body">
        <form className="edit-controls" onSubmit={(e) => e.preventDefault()} aria-label="Edits">
          <fieldset>
            <legend>Crop</legend>
            <p className="hint">Drag a box on the image, or type it in pixels.</p>
            <div className="crop-fields">
              {cropField('x', 'X', image.width - 1)}
              {cropField('y', 'Y', image.height - 1)}
              {cropField('width', 'Width', image.width)}
              {cropField('height', 'Height', image.height)}
            </div>
            <button type="button" onClick={() => setCrop(null)} disabled={!crop}>
              No crop
            </button>
          </fieldset>
          <fieldset>
            <legend>Turn and resize</legend>
            <div className="inline-fields">
              <label>
                Rotate
                <select
                  name="rotate"
                  value={settings.rotate}
                  onChange={(e) => change({ rotate: Number(e.target.value) as Settings['rotate'] })}
                >
                  <option value={0}>No rotation</option>
                  <option value={90}>90° clockwise</option>
                  <option value={180}>180°</option>
                  <option value={270}>90° anticlockwise</option>
                </select>
              </label>
              <label className="check">
                <input
                  type="checkbox"
                  name="flip-horizontal"
                  checked={settings.flipHorizontal}
                  onChange={(e) => change({ flipHorizontal: e.target.checked })}
                />
                Mirror
              </label>
              <label className="check">
                <input
                  type="checkbox"
                  name="flip-vertical"
                  checked={settings.flipVertical}
                  onChange={(e) => change({ flipVertical: e.target.checked })}
                />
                Upside down
              </label>
            </div>
            <div className="inline-fields">
              <label>
                Resize width
                <input
                  type="number"
                  name="resize-width"
                  min={1}
                  max={MAX_SIDE}
                  placeholder="auto"
                  value={settings.resizeWidth}
                  onChange={(e) => change({ resizeWidth: e.target.value })}
                />
              </label>
              <label>
                height
                <input
                  type="number"
                  name="resize-height"
                  min={1}
                  max={MAX_SIDE}
                  placeholder="auto"
                  value={settings.resizeHeight}
                  onChange={(e) => change({ resizeHeight: e.target.value })}
                />
              </label>
              <label>
                Fit
                <select
                  name="fit"
                  value={settings.fit}
                  onChange={(e) => change({ fit: e.target.value as Fit })}
                >
                  <option value="CONTAIN">Fit inside</option>
                  <option value="COVER">Fill, cut overflow</option>
                  <option value="FILL">Stretch</option>
                </select>
              </label>
            </div>
          </fieldset>
          <fieldset className="sliders">
            <legend>Colour and detail</legend>
            {FACTORS.map((factor) => (
              <label key={factor}>
                <span className="slider-name">{factor}</span>
                <input
                  type="range"
                  name={factor}
                  min={0}
                  max={3}
                  step={0.05}
                  value={settings[factor]}
                  onChange={(e) => change({ [factor]: Number(e.target.value) })}
                />
                <output>{settings[factor].toFixed(2)}</output>
              </label>
            ))}
            <label>
              <span className="slider-name">blur</span>
              <input
                type="range"
                name="blur"
                min={0}
                max={20}
                step={0.5}
                value={settings.blur}
                onChange={(e) => change({ blur: Math.min(MAX_BLUR, Number(e.target.value)) })}
              />
              <output>{settings.blur === 0 ? 'none' : `${settings.blur} px`}</output>
            </label>
            <label className="check">
              <input
                type="checkbox"
                name="grayscale"
                checked={settings.grayscale}
                onChange={(e) => change({ grayscale: e.target.checked })}
              />
              Greyscale
            </label>
          </fieldset>
          <div className="edit-actions">
            <button
              type="button"
              onClick={() => setSettings(UNCHANGED)}
              disabled={instructions.length === 0}
            >
              Reset
            </button>
            <button
              type="button"
              onClick={() => void save('NEW_VERSION')}
              disabled={busy !== '' || instructions.length === 0}
            >
              {busy === 'save' ? 'Saving…' : 'Save as a new version'}
            </button>
            <button
              type="button"
              onClick={() => void save('REPLACE')}
              disabled={busy !== '' || instructions.length === 0}
            >
              Replace this image
            </button>
          </div>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
        </form>
        <div className="edit-stage">
          <CropStage image={image} crop={crop} onCrop={setCrop} />
          <div className="preview" aria-live="polite">
            {preview ? (
              <figure>
                <img
                  className="edit-preview"
                  src={preview}
                  alt={`Preview of the edit${image.description ? ` of: ${image.description}` : ''}`}
                />
                <figcaption>
                  Preview, not saved: {instructions.map(describeInstruction).join(', ')}
                </figcaption>
              </figure>
            ) : (
              <p className="hint">
                {busy === 'preview' ? 'Rendering the preview…' : 'Change a setting to preview it.'}
              </p>
            )}
          </div>
        </div>
      </div>
      <PromptEdit image={image} onReplaced={onReplaced} />
    </section>
  );
}

/**
 * The image with the crop box over it. A drag draws a new box (pointer events, so mouse,
 * pen and touch alike); the numbers in the form are the keyboard's way to the same box.
 */
function CropStage({
  image,
  crop,
  onCrop,
}: {
  image: ImageDetail;
  crop: Crop | null;
  onCrop(crop: Crop | null): void;
}) {
  const imgRef = useRef<HTMLImageElement>(null);
  const start = useRef<{ x: number; y: number } | null>(null);

  /** The pointer's place in the image's own pixels. */
  const at = (event: PointerEvent) => {
    const rect = imgRef.current!.getBoundingClientRect();
    const clamp = (v: number, max: number) => Math.min(Math.max(0, v), max);
    return {
      x: clamp(((event.clientX - rect.left) / rect.width) * image.width, image.width),
      y: clamp(((event.clientY - rect.top) / rect.height) * image.height, image.height),
    };
  };
  const boxTo = (event: PointerEvent) => {
    const from = start.current!;
    const to = at(event);
    return {
      x: Math.min(from.x, to.x),
      y: Math.min(from.y, to.y),
      width: Math.abs(to.x - from.x),
      height: Math.abs(to.y - from.y),
    };
  };

  const pct = (v: number, of: number) => `${(v / of) * 100}%`;
  return (
    <figure className="crop-stage-figure">
      <div
        className="crop-stage"
        // Exactly the image's box, so the crop box's percentages are the image's.
        style={{
          aspectRatio: `${image.width} / ${image.height}`,
          // Never larger than the image itself, nor taller than STAGE_HEIGHT.
          width: `min(100%, ${Math.min(image.width, (STAGE_HEIGHT * image.width) / image.height)}px)`,
        }}
        onPointerDown={(event) => {
          if (event.button !== 0) return;
          event.preventDefault();
          event.currentTarget.setPointerCapture(event.pointerId);
          start.current = at(event);
        }}
        onPointerMove={(event) => {
          if (start.current) onCrop(boxTo(event));
        }}
        onPointerUp={(event) => {
          if (!start.current) return;
          const box = boxTo(event);
          start.current = null;
          // A click without a drag clears the box.
          onCrop(box.width < 2 || box.height < 2 ? null : box);
        }}
        onPointerCancel={() => (start.current = null)}
      >
        <img
          ref={imgRef}
          className="crop-image"
          src={image.url}
          alt={image.description ?? 'The image'}
          draggable={false}
        />
        {crop && (
          <div
            className="crop-box"
            style={{
              left: pct(crop.x, image.width),
              top: pct(crop.y, image.height),
              width: pct(crop.width, image.width),
              height: pct(crop.height, image.height),
            }}
          />
        )}
      </div>
      <figcaption>
        {crop
          ? `Crop: ${crop.width} × ${crop.height} from (${crop.x}, ${crop.y})`
          : 'Drag on the image to crop it.'}
      </figcaption>
    </figure>
  );
}

/**
 * "Brighter and square": the planner model's instructions, previewed (`editImageWithPrompt`
 * with `save: PREVIEW` returns them with the rendering), shown in words, and saved only
 * when asked, by `editImage` with exactly those instructions, so what is saved is what
 * was shown (planning again could plan something else).
 */
function PromptEdit({ image, onReplaced }: Props) {
  const client = useClient();
  const [prompt, setPrompt] = useState('');
  const [plan, setPlan] = useState<{ prompt: string; result: EditResult } | null>(null);
  const [busy, setBusy] = useState<'' | 'plan' | 'save'>('');
  const [error, setError] = useState('');

  async function planEdit(event: FormEvent) {
    event.preventDefault();
    const text = prompt.trim();
    if (!text) {
      setError('Say what to change first.');
      return;
    }
    setBusy('plan');
    setError('');
    setPlan(null);
    const result = await client
      .mutation<{ editImageWithPrompt: EditResult }>(EDIT_WITH_PROMPT, {
        imageId: image.id,
        prompt: text,
        save: 'PREVIEW',
      })
      .toPromise();
    setBusy('');
    const planned = result.data?.editImageWithPrompt;
    if (planned) setPlan({ prompt: text, result: planned });
    else setError(describeError(result.error));
  }

  async function save(mode: SaveMode) {
    if (!plan) return;
    setBusy('save');
    const result = await client
      .mutation<{ editImage: EditResult }>(EDIT_IMAGE, {
        imageId: image.id,
        instructions: plan.result.instructions,
        save: mode,
        analyze: true,
      })
      .toPromise();
    setBusy('');
    const saved = result.data?.editImage.image;
    if (!saved) {
      setError(describeError(result.error));
    } else if (mode === 'REPLACE') {
      setPlan(null);
      setPrompt('');
      onReplaced();
    } else {
      location.hash = imageHref(saved.id);
    }
  }

  return (
    <div className="prompt-edit">
      <h3>Edit in words</h3>
      <form className="prompt-form" onSubmit={planEdit} aria-label="Edit in words">
        <label>
          What should change?
          <input
            type="text"
            name="edit-prompt"
            maxLength={2000}
            value={prompt}
            placeholder="brighter, a little more contrast, square crop"
            onChange={(e) => setPrompt(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy !== ''}>
          {busy === 'plan' ? 'Planning…' : 'Plan the edit'}
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {plan && (
        <div className="plan" aria-live="polite">
          <div>
            <p>For “{plan.prompt}” the model plans, in this order (nothing is saved yet):</p>
            <ol className="plan-steps" aria-label="Planned edits">
              {plan.result.instructions.map((step, index) => (
                <li key={index}>{describeInstruction(step)}</li>
              ))}
            </ol>
            <div className="edit-actions">
              <button type="button" onClick={() => void save('NEW_VERSION')} disabled={busy !== ''}>
                Save the plan as a new version
              </button>
              <button type="button" onClick={() => void save('REPLACE')} disabled={busy !== ''}>
                Replace with the plan
              </button>
              <button type="button" onClick={() => setPlan(null)} disabled={busy !== ''}>
                Discard
              </button>
            </div>
          </div>
          {plan.result.preview && (
            <figure>
              <img
                className="plan-preview"
                src={plan.result.preview}
                alt={`Preview of the planned edit${image.description ? ` of: ${image.description}` : ''}`}
              />
              <figcaption>Preview of the plan, not saved</figcaption>
            </figure>
          )}
        </div>
      )}
    </div>
  );
}
