// The usage dashboard: the viewer's own figures (admins: everyone's, or one user's) from
// `metricsSummary`, `metrics` and `metricsSeries`. A chart of the chosen operations per
// bucket, with the same numbers in a table for screen readers; the top operations; the
// AI tokens spent.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useClient } from 'urql';
import type uPlot from 'uplot';
import { Chart, DASHES, PALETTE } from './Chart';
import { describeError } from './errors';
import {
  METRICS_SERIES,
  USAGE,
  USERS,
  type Connection,
  type Metric,
  type MetricBucket,
  type MetricKind,
  type MetricPoint,
  type MetricScope,
  type MetricsSummary,
  type User,
} from './queries';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const BUCKET_MS: Record<MetricBucket, number> = { MINUTE: 60_000, HOUR, DAY };
/** The service answers at most this many buckets per series. */
const MAX_POINTS = 2000;
/** Minute buckets are kept this long (USAGE_MINUTE_RETENTION_HOURS' default). */
const MINUTES_KEPT = 48 * HOUR;
const TOP = 20;
/** Operations charted at first: the most used. */
const CHARTED_AT_FIRST = 3;

const RANGES = [
  { key: '1h', label: 'Last hour', ms: HOUR },
  { key: '24h', label: 'Last 24 hours', ms: DAY },
  { key: '7d', label: 'Last 7 days', ms: 7 * DAY },
  { key: '30d', label: 'Last 30 days', ms: 30 * DAY },
  { key: '365d', label: 'Last year', ms: 365 * DAY },
] as const;
type RangeKey = (typeof RANGES)[number]['key'];

const BUCKETS: { value: MetricBucket; label: string }[] = [
  { value: 'MINUTE', label: 'minute' },
  { value: 'HOUR', label: 'hour' },
  { value: 'DAY', label: 'day' },
];

const KINDS: { value: MetricKind; label: string; top: string }[] = [
  { value: 'API', label: 'API operations', top: 'Top API operations' },
  { value: 'FUNCTION', label: 'Functions', top: 'Top functions' },
  { value: 'FIELD', label: 'Root fields', top: 'Top root fields' },
  { value: 'ERROR', label: 'Error codes', top: 'Top error codes' },
];

/** Whether the service keeps and answers that bucket size over that range. */
function bucketFits(bucket: MetricBucket, rangeMs: number): boolean {
  if (bucket === 'MINUTE' && rangeMs > MINUTES_KEPT) return false;
  return rangeMs / BUCKET_MS[bucket] <= MAX_POINTS;
}

const number = new Intl.NumberFormat();

function bucketTime(iso: string, bucket: MetricBucket): string {
  const date = new Date(iso);
  return bucket === 'DAY'
    ? date.toLocaleDateString(undefined, { dateStyle: 'medium' })
    : date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

interface Props {
  viewerId: string;
  admin: boolean;
}

export function UsagePage({ viewerId, admin }: Props) {
  const client = useClient();
  const [scope, setScope] = useState<MetricScope>('VIEWER');
  const [userId, setUserId] = useState('');
  const [users, setUsers] = useState<User[]>([]);
  const [rangeKey, setRangeKey] = useState<RangeKey>('24h');
  const [bucket, setBucket] = useState<MetricBucket>('HOUR');
  const [kind, setKind] = useState<MetricKind>('API');
  // The end of the range, moved on by "Refresh".
  const [now, setNow] = useState(() => Date.now());
  const [summary, setSummary] = useState<MetricsSummary | null>(null);
  const [top, setTop] = useState<Metric[] | null>(null);
  const [charted, setCharted] = useState<string[]>([]);
  const [series, setSeries] = useState<Record<string, MetricPoint[]>>({});
  const [error, setError] = useState('');

  const rangeMs = RANGES.find((r) => r.key === rangeKey)!.ms;
  // Bucket-aligned, so the first bucket is whole; `to` takes in the current bucket.
  const span = useMemo(() => {
    const width = BUCKET_MS[bucket];
    const to = Math.ceil((now + 1) / 60_000) * 60_000;
    const from = Math.floor((to - rangeMs) / width) * width;
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  }, [now, rangeMs, bucket]);

  // Which user's figures: the admin's pick when the scope is one user.
  const whose = useMemo(() => {
    if (scope === 'USER') return userId ? { scope, userId } : null;
    return { scope, userId: null };
  }, [scope, userId]);

  // Admins pick a user from every user, a page at a time until the end.
  useEffect(() => {
    if (!admin || scope !== 'USER' || users.length > 0) return;
    let cancelled = false;
    void (async () => {
      const all: User[] = [];
      let after: string | null = null;
      for (let page = 0; page < 50; page++) {
        const result = await client
          .query<{ users: Connection<User> }>(USERS, { first: 30, after })
          .toPromise();
        if (!result.data) {
          if (!cancelled) setError(describeError(result.error));
          return;
        }
        all.push(...result.data.users.nodes);
        after = result.data.users.pageInfo.endCursor;
        if (!result.data.users.pageInfo.hasNextPage) break;
      }
      if (cancelled) return;
      all.sort((a, b) => a.name.localeCompare(b.name));
      setUsers(all);
      setUserId((current) => current || (all.find((u) => u.id !== viewerId) ?? all[0])?.id || '');
    })();
    return () => {
      cancelled = true;
    };
  }, [admin, scope, users.length, client, viewerId]);

  // The summary and the top operations of the chosen kind.
  useEffect(() => {
    if (!whose) return;
    let cancelled = false;
    void client
      .query<{ metricsSummary: MetricsSummary; metrics: Connection<Metric> }>(USAGE, {
        ...whose,
        kind,
        from: span.from,
        to: span.to,
        first: TOP,
      })
      .toPromise()
      .then((result) => {
        if (cancelled) return;
        if (!result.data) {
          setError(describeError(result.error));
          setSummary(null);
          setTop(null);
          return;
        }
        setError('');
        setSummary(result.data.metricsSummary);
        const nodes = result.data.metrics.nodes;
        setTop(nodes);
        // Keep the operations charted that are still in the list; else the most used.
        setCharted((prev) => {
          const kept = prev.filter((name) => nodes.some((m) => m.name === name));
          return kept.length > 0 ? kept : nodes.slice(0, CHARTED_AT_FIRST).map((m) => m.name);
        });
      });
    return () => {
      cancelled = true;
    };
  }, [client, whose, kind, span]);

  // One series per charted operation.
  useEffect(() => {
    if (!whose) return;
    let cancelled = false;
    void Promise.all(
      charted.map((name) =>
        client
          .query<{ metricsSeries: MetricPoint[] }>(METRICS_SERIES, {
            ...whose,
            name,
            kind,
            bucket,
            from: span.from,
            to: span.to,
          })
          .toPromise()
          .then((result) => ({ name, result })),
      ),
    ).then((answers) => {
      if (cancelled) return;
      const next: Record<string, MetricPoint[]> = {};
      for (const { name, result } of answers) {
        if (!result.data) {
          setError(describeError(result.error));
          return;
        }
        next[name] = result.data.metricsSeries;
      }
      setSeries(next);
    });
    return () => {
      cancelled = true;
    };
  }, [client, whose, kind, bucket, charted, span]);

  const chooseRange = (key: RangeKey) => {
    setRangeKey(key);
    const ms = RANGES.find((r) => r.key === key)!.ms;
    // Keep the bucket if it still fits, else the finest that does.
    if (!bucketFits(bucket, ms)) {
      setBucket(BUCKETS.find((b) => bucketFits(b.value, ms))!.value);
    }
  };

  // Another person's figures: nothing of the last one's stays on screen meanwhile.
  const chooseScope = (next: MetricScope) => {
    setScope(next);
    setSummary(null);
    setTop(null);
  };

  const chooseKind = (next: MetricKind) => {
    setKind(next);
    setCharted([]);
    setSeries({});
  };

  const toggle = (name: string, on: boolean) =>
    setCharted((prev) => (on ? [...prev, name] : prev.filter((other) => other !== name)));

  const shown = charted.filter((name) => series[name]);
  // Every bucket of the range on the x axis, at zero where nothing happened.
  const { data, rows } = useMemo(() => {
    const width = BUCKET_MS[bucket];
    const from = Date.parse(span.from);
    const to = Date.parse(span.to);
    const times = new Set<number>();
    for (let t = from; t < to; t += width) times.add(t);
    const byName = shown.map((name) => {
      const counts = new Map<number, number>();
      for (const point of series[name]) {
        const t = Date.parse(point.bucketStart);
        counts.set(t, point.count);
        times.add(t);
      }
      return counts;
    });
    const xs = [...times].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [
      xs.map((t) => t / 1000),
      ...byName.map((counts) => xs.map((t) => counts.get(t) ?? 0)),
    ];
    // The table: only the buckets that saw use.
    const rows = xs
      .filter((t) => byName.some((counts) => counts.has(t)))
      .map((t) => ({
        iso: new Date(t).toISOString(),
        counts: byName.map((counts) => counts.get(t) ?? 0),
      }));
    return { data, rows };
    // `shown` is derived from `charted` and `series`.
  }, [series, charted, bucket, span]);

  const shownKey = shown.join('\n');
  const options = useMemo(
    (): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      series: [
        {},
        ...shown.map((name, i) => ({
          label: name,
          stroke: PALETTE[i % PALETTE.length],
          dash: DASHES[i % DASHES.length],
          width: 2,
          points: { show: false },
        })),
      ],
      axes: [{}, { size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4] }],
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
    }),
    // A new chart only when the operations charted change, not for every fetch.
    [shownKey],
  );

  const bucketLabel = BUCKETS.find((b) => b.value === bucket)!.label;
  const tokens = summary ? summary.promptTokens + summary.completionTokens : 0;
  const whoseLabel =
    scope === 'GLOBAL'
      ? 'everyone'
      : scope === 'USER'
        ? (users.find((u) => u.id === userId)?.name ?? 'one user')
        : 'you';
  const refresh = useCallback(() => setNow(Date.now()), []);

  return (
    <section className="usage-page">
      <h1>Usage</h1>
      <form
        className="inline-form usage-controls"
        aria-label="What to show"
        onSubmit={(e) => e.preventDefault()}
      >
        {admin && (
          <label>
            Whose usage
            <select
              name="scope"
              value={scope}
              onChange={(e) => chooseScope(e.target.value as MetricScope)}
            >
              <option value="VIEWER">Mine</option>
              <option value="GLOBAL">Everyone's</option>
              <option value="USER">One user's</option>
            </select>
          </label>
        )}
        {admin && scope === 'USER' && (
          <label>
            User
            <select
              name="user"
              value={userId}
              onChange={(e) => {
                setUserId(e.target.value);
                setSummary(null);
                setTop(null);
              }}
            >
              {users.map((user) => (
                <option key={user.id} value={user.id}>
                  {user.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Time
          <select
            name="range"
            value={rangeKey}
            onChange={(e) => chooseRange(e.target.value as RangeKey)}
          >
            {RANGES.map((range) => (
              <option key={range.key} value={range.key}>
                {range.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Per
          <select
            name="bucket"
            value={bucket}
            onChange={(e) => setBucket(e.target.value as MetricBucket)}
          >
            {BUCKETS.map((b) => (
              <option key={b.value} value={b.value} disabled={!bucketFits(b.value, rangeMs)}>
                {b.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Count
          <select
            name="kind"
            value={kind}
            onChange={(e) => chooseKind(e.target.value as MetricKind)}
          >
            {KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {summary && (
        <dl className="figures" aria-label={`Totals for ${whoseLabel}`}>
          <div data-figure="totalApiCalls">
            <dt>API calls</dt>
            <dd>{number.format(summary.totalApiCalls)}</dd>
          </div>
          <div data-figure="totalFunctionCalls">
            <dt>Function calls</dt>
            <dd>{number.format(summary.totalFunctionCalls)}</dd>
          </div>
          {scope === 'GLOBAL' && (
            <div data-figure="uniqueUsers">
              <dt>Users who called</dt>
              <dd>{number.format(summary.uniqueUsers)}</dd>
            </div>
          )}
          <div data-figure="aiTokens">
            <dt>AI tokens spent</dt>
            <dd>
              {number.format(tokens)}
              <span className="figure-detail">
                {number.format(summary.promptTokens)} prompt +{' '}
                {number.format(summary.completionTokens)} completion
              </span>
            </dd>
          </div>
        </dl>
      )}
      <section className="usage-chart" aria-labelledby="usage-chart-title">
        <h2 id="usage-chart-title">Calls per {bucketLabel}</h2>
        {top && top.length > 0 && (
          <fieldset className="charted">
            <legend>Operations charted</legend>
            {top.map((metric) => (
              <label key={metric.name} className="check">
                <input
                  type="checkbox"
                  checked={charted.includes(metric.name)}
                  onChange={(e) => toggle(metric.name, e.target.checked)}
                />
                {metric.name}
              </label>
            ))}
          </fieldset>
        )}
        {top && top.length === 0 && <p className="hint">Nothing counted in this time.</p>}
        {shown.length > 0 && (
          <>
            <Chart
              options={options}
              data={data}
              label={`Line chart of calls per ${bucketLabel} for ${shown.join(', ')}; the same figures are in the table that follows.`}
            />
            {/* A table cannot be narrowed to nothing: its box is hidden, not the table. */}
            <div className="visually-hidden">
              <table className="series-table">
                <caption>Calls per {bucketLabel}, buckets that saw use</caption>
                <thead>
                  <tr>
                    <th scope="col">{bucketLabel} from</th>
                    {shown.map((name) => (
                      <th key={name} scope="col">
                        {name}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => (
                    <tr key={row.iso} data-bucket={row.iso}>
                      <th scope="row">{bucketTime(row.iso, bucket)}</th>
                      {row.counts.map((count, i) => (
                        <td key={shown[i]} data-name={shown[i]}>
                          {count}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
      {top && top.length > 0 && (
        <section aria-labelledby="usage-top-title">
          <h2 id="usage-top-title">{KINDS.find((k) => k.value === kind)!.top}</h2>
          <div className="table-scroll">
            <table className="top-metrics stacking">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Calls</th>
                  <th scope="col">Errors</th>
                  <th scope="col">Average</th>
                  <th scope="col">AI tokens</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                {top.map((metric) => (
                  <tr key={metric.name} data-metric-name={metric.name}>
                    <th scope="row">{metric.name}</th>
                    <td data-label="Calls" data-field="count">
                      {number.format(metric.count)}
                    </td>
                    <td data-label="Errors" data-field="errorCount">
                      {number.format(metric.errorCount)}
                    </td>
                    <td data-label="Average">{metric.avgDurationMs.toFixed(1)} ms</td>
                    <td data-label="AI tokens" data-field="tokens">
                      {number.format(metric.promptTokens + metric.completionTokens)}
                    </td>
                    <td data-label="Last used">
                      {new Date(metric.lastUsedAt).toLocaleString(undefined, {
                        dateStyle: 'short',
                        timeStyle: 'short',
                      })}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </section>
  );
}
