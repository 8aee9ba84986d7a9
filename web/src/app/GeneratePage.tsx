// Generating an image from a prompt: `generateImage` queues it and answers at once; the
// status then arrives over the `generationCompleted` subscription, and once it has
// succeeded the new image opens (it is also first in the feed, newest first).
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import {
  GENERATE_IMAGE,
  GENERATION_COMPLETED,
  GENERATION_QUERY,
  type Generation,
  type GenerationShape,
} from './queries';
import { imageHref } from './route';

const MAX_PROMPT = 4000;
/** How often the status is also asked over HTTP, in case the socket was down when it fired. */
const CHECK_EVERY_MS = 5000;

const SHAPES: { shape: GenerationShape; label: string; size: string }[] = [
  { shape: 'SQUARE', label: 'Square', size: '1024 × 1024' },
  { shape: 'PORTRAIT', label: 'Portrait', size: 'tall' },
  { shape: 'LANDSCAPE', label: 'Landscape', size: 'wide' },
];

export function GeneratePage() {
  const client = useClient();
  const [prompt, setPrompt] = useState('');
  const [shape, setShape] = useState<GenerationShape>('SQUARE');
  const [describe, setDescribe] = useState(true);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState('');
  const [generation, setGeneration] = useState<Generation | null>(null);
  const [seconds, setSeconds] = useState(0);
  const promptRef = useRef<HTMLTextAreaElement>(null);

  const waiting = generation?.status === 'PENDING' || generation?.status === 'RUNNING';

  // Follow the generation: the subscription says when it is done; a query now (it may
  // have finished before the subscription started) and every few seconds (a socket that
  // was reconnecting misses the event) covers the gaps.
  useEffect(() => {
    if (!generation || !waiting) return;
    const id = generation.id;
    const settle = (next: Generation | null | undefined) => {
      if (next && next.status !== 'PENDING' && next.status !== 'RUNNING') setGeneration(next);
    };
    const subscription = client
      .subscription<{ generationCompleted: Generation }>(GENERATION_COMPLETED, { id })
      .subscribe((result) => settle(result.data?.generationCompleted));
    const check = () =>
      client
        .query<{ generation: Generation | null }>(GENERATION_QUERY, { id })
        .toPromise()
        .then((result) => settle(result.data?.generation));
    void check();
    const poll = setInterval(check, CHECK_EVERY_MS);
    const started = Date.now();
    const tick = setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => {
      subscription.unsubscribe();
      clearInterval(poll);
      clearInterval(tick);
    };
  }, [client, generation, waiting]);

  // Done: open the new image.
  const doneId = generation?.status === 'SUCCEEDED' ? generation.image?.id : undefined;
  useEffect(() => {
    if (doneId) location.hash = imageHref(doneId);
  }, [doneId]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const text = prompt.trim();
    if (!text) {
      setError('Say what to draw first.');
      promptRef.current?.focus();
      return;
    }
    setSending(true);
    setError('');
    setGeneration(null);
    setSeconds(0);
    const result = await client
      .mutation<{ generateImage: { generation: Generation } }>(GENERATE_IMAGE, {
        input: { prompt: text, size: shape, analyze: describe },
      })
      .toPromise();
    setSending(false);
    const queued = result.data?.generateImage.generation;
    if (queued) setGeneration(queued);
    else setError(describeError(result.error));
  }

  return (
    <section className="generate">
      <h1>Generate an image</h1>
      <form className="generate-form" onSubmit={submit} aria-label="Generate an image">
        <label>
          Prompt
          <textarea
            ref={promptRef}
            name="prompt"
            rows={4}
            maxLength={MAX_PROMPT}
            value={prompt}
            placeholder="A lighthouse on a cliff at dusk, watercolour"
            onChange={(e) => setPrompt(e.target.value)}
            disabled={waiting}
          />
        </label>
        <fieldset className="shapes" disabled={waiting}>
          <legend>Shape</legend>
          {SHAPES.map(({ shape: value, label, size }) => (
            <label key={value} className="shape">
              <input
                type="radio"
                name="shape"
                value={value}
                checked={shape === value}
                onChange={() => setShape(value)}
              />
              <span className={`shape-icon shape-${value.toLowerCase()}`} aria-hidden="true" />
              <span>
                {label} <span className="hint">({size})</span>
              </span>
            </label>
          ))}
        </fieldset>
        <label className="check">
          <input
            type="checkbox"
            name="describe"
            checked={describe}
            onChange={(e) => setDescribe(e.target.checked)}
            disabled={waiting}
          />
          Describe it when it is done
        </label>
        <div>
          <button type="submit" disabled={sending || waiting}>
            {sending ? 'Sending…' : waiting ? 'Generating…' : 'Generate'}
          </button>
        </div>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="generation-status" role="status" aria-live="polite">
        {generation && waiting && (
          <>
            <p>
              {generation.status === 'PENDING' ? 'Queued' : 'Generating'}: “{generation.prompt}”
              {seconds > 0 && ` (${seconds} s)`}. The image opens when it is ready.
            </p>
            <progress aria-label="Generating the image" />
          </>
        )}
        {generation?.status === 'SUCCEEDED' && <p>Done: opening the new image…</p>}
      </div>
      {generation?.status === 'FAILED' && (
        <p className="error" role="alert">
          The generation failed: {sentence(generation.error ?? 'the AI provider gave no reason')}{' '}
          Change the prompt or try again later.
        </p>
      )}
    </section>
  );
}

/** Ends the text with a full stop when it has no closing punctuation. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
