import type { Analysis } from './queries';

const LABELS: Record<Analysis['status'], string> = {
  NOT_REQUESTED: 'not analysed',
  PENDING: 'analysis queued',
  RUNNING: 'analysing…',
  SUCCEEDED: 'described',
  FAILED: 'analysis failed',
};

/** Where an image's AI description stands, as a small coloured label. */
export function AnalysisBadge({ analysis }: { analysis: Analysis }) {
  return (
    <span
      className={`badge badge-${analysis.status.toLowerCase()}`}
      data-status={analysis.status}
      title={analysis.error ?? analysis.model ?? undefined}
    >
      {LABELS[analysis.status]}
    </span>
  );
}
