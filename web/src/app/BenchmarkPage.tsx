// The HPL benchmark: start a run (n, threads), follow it live over `benchmarkProgress`,
// read its result, and compare past runs in a chart of GFLOPS by date, one series per
// matrix order n (a table below holds the same figures).
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import type uPlot from 'uplot';
import { Chart, DASHES, PALETTE } from './Chart';
import { describeError } from './errors';
import {
  BENCHMARK_PROGRESS,
  BENCHMARK_RUN_BY_ID,
  BENCHMARK_RUNS,
  RUN_BENCHMARK,
  type BenchmarkRun,
  type Connection,
} from './queries';

/** Past runs shown: the service's largest page. */
const PAST = 30;
/** How often the run is asked for besides its events, in case one was missed. */
const POLL_MS = 2000;

function finished(run: BenchmarkRun): boolean {
  return run.status === 'SUCCEEDED' || run.status === 'FAILED';
}

const STATUS_WORDS: Record<BenchmarkRun['status'], string> = {
  PENDING: 'Waiting',
  RUNNING: 'Running',
  SUCCEEDED: 'Passed',
  FAILED: 'Failed',
};

function gflops(run: BenchmarkRun): string {
  return run.gflops === null ? '–' : run.gflops.toFixed(2);
}

function residual(run: BenchmarkRun): string {
  return run.residual === null ? '–' : run.residual.toPrecision(3);
}

function when(value: string): string {
  return new Date(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function BenchmarkPage({ admin }: { admin: boolean }) {
  const client = useClient();
  const [n, setN] = useState('2000');
  const [threads, setThreads] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [current, setCurrent] = useState<BenchmarkRun | null>(null);
  const [fraction, setFraction] = useState(0);
  const [past, setPast] = useState<BenchmarkRun[] | null>(null);
  const [total, setTotal] = useState(0);
  const [pastError, setPastError] = useState('');
  const resultHeading = useRef<HTMLHeadingElement>(null);

  const loadPast = useCallback(async () => {
    const result = await client
      .query<{ benchmarkRuns: Connection<BenchmarkRun> }>(BENCHMARK_RUNS, { first: PAST })
      .toPromise();
    if (!result.data) {
      setPastError(describeError(result.error));
      return;
    }
    setPastError('');
    setPast(result.data.benchmarkRuns.nodes);
    setTotal(result.data.benchmarkRuns.totalCount);
  }, [client]);

  useEffect(() => {
    void loadPast();
  }, [loadPast]);

  const runId = current?.id;
  const running = !!current && !finished(current);

  // Live progress of the run started here, until it is done.
  useEffect(() => {
    if (!runId || !running) return;
    const settle = (run: BenchmarkRun) => {
      setCurrent(run);
      if (finished(run)) setFraction(1);
    };
    const subscription = client
      .subscription<{
        benchmarkProgress: { fraction: number; done: boolean; run: BenchmarkRun };
      }>(BENCHMARK_PROGRESS, { runId })
      .subscribe((result) => {
        const progress = result.data?.benchmarkProgress;
        if (!progress) return;
        setFraction((prev) => Math.max(prev, progress.fraction));
        settle(progress.run);
      });
    // The events start when the subscription does: a run that finished before (a small
    // n) is found by asking for it.
    const poll = setInterval(() => {
      void client
        .query<{ benchmarkRun: BenchmarkRun | null }>(BENCHMARK_RUN_BY_ID, { id: runId })
        .toPromise()
        .then((result) => {
          const run = result.data?.benchmarkRun;
          if (run && finished(run)) settle(run);
        });
    }, POLL_MS);
    return () => {
      subscription.unsubscribe();
      clearInterval(poll);
    };
  }, [client, runId, running]);

  // Once done: the result gets the focus (it is what the person waited for), and the
  // run joins the past ones.
  const done = !!current && finished(current);
  useEffect(() => {
    if (!done) return;
    resultHeading.current?.focus();
    void loadPast();
  }, [done, loadPast]);

  async function start(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError('');
    const input: { n: number; threads?: number } = { n: Number(n) };
    if (threads.trim()) input.threads = Number(threads);
    const result = await client
      .mutation<{ runBenchmark: { run: BenchmarkRun } }>(RUN_BENCHMARK, { input })
      .toPromise();
    setBusy(false);
    const run = result.data?.runBenchmark.run;
    if (!run) {
      setError(describeError(result.error));
      return;
    }
    setFraction(0);
    setCurrent(run);
  }

  const percent = Math.round(fraction * 100);

  return (
    <section className="benchmark-page">
      <h1>Benchmark</h1>
      <p className="hint">
        HPL (Linpack) solves a dense n × n system by LU factorisation on this node, one run at a
        time, and reports the speed in GFLOPS. Larger n takes longer (the work grows as n³);{' '}
        {admin
          ? 'admins may go up to HPL_MAX_N.'
          : 'members are held to a smaller n than admins: the service says which if n is too large.'}
      </p>
      <form className="inline-form" onSubmit={start} aria-label="New benchmark run">
        <label>
          Matrix order n
          <input
            name="n"
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            value={n}
            onChange={(e) => setN(e.target.value)}
            required
          />
        </label>
        <label>
          Threads (empty: all cores)
          <input
            name="threads"
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            value={threads}
            onChange={(e) => setThreads(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy || running}>
          {running ? 'Running…' : 'Run benchmark'}
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {current && (
        <section className="current-run" data-run-id={current.id} data-status={current.status}>
          <h2 ref={resultHeading} tabIndex={-1}>
            {done ? 'Result' : 'Progress'}: n = {current.n}, {current.threads}{' '}
            {current.threads === 1 ? 'thread' : 'threads'}
          </h2>
          <div className="progress-row">
            <progress
              max={1}
              value={fraction}
              aria-label="Progress of the run"
              aria-valuetext={`${percent} %`}
            />
            <span aria-hidden="true">{percent} %</span>
          </div>
          <p role="status" className="run-status">
            {current.status === 'PENDING'
              ? 'Waiting for the node…'
              : current.status === 'RUNNING'
                ? `Running: ${percent} % done.`
                : current.status === 'SUCCEEDED'
                  ? 'Done: the residual check passed.'
                  : `Failed: ${current.error ?? 'the residual check did not pass.'}`}
          </p>
          {done && (
            <dl className="figures">
              <div data-figure="gflops">
                <dt>GFLOPS</dt>
                <dd>{gflops(current)}</dd>
              </div>
              <div data-figure="residual">
                <dt>Scaled residual</dt>
                <dd>{residual(current)}</dd>
              </div>
              <div data-figure="passed">
                <dt>Check</dt>
                <dd>
                  {current.passed ? 'Passed' : 'Failed'}
                  <span className="figure-detail">the scaled residual must be below 16</span>
                </dd>
              </div>
              <div data-figure="seconds">
                <dt>Time</dt>
                <dd>{current.seconds === null ? '–' : `${current.seconds.toFixed(2)} s`}</dd>
              </div>
              {current.host && (
                <div data-figure="host">
                  <dt>Node</dt>
                  <dd>
                    {current.host.name}
                    <span className="figure-detail">
                      {current.host.cpuModel}, {current.host.cores} cores
                    </span>
                  </dd>
                </div>
              )}
            </dl>
          )}
        </section>
      )}
      <section aria-labelledby="past-runs-title">
        <h2 id="past-runs-title">
          Past runs{' '}
          {past && (
            <span className="count">
              ({total}
              {total > past.length ? `, the latest ${past.length} shown` : ''})
            </span>
          )}
        </h2>
        {pastError && (
          <p className="error" role="alert">
            {pastError}
          </p>
        )}
        {past && past.length === 0 && <p className="hint">No run yet.</p>}
        {past && past.some((run) => run.gflops !== null) && <PastChart runs={past} />}
        {past && past.length > 0 && <PastTable runs={past} admin={admin} />}
      </section>
    </section>
  );
}

/** GFLOPS by date, a series (colour and dash) per n, each run a point. */
function PastChart({ runs }: { runs: BenchmarkRun[] }) {
  const measured = runs
    .filter((run) => run.gflops !== null)
    .map((run) => ({ run, t: Date.parse(run.finishedAt ?? run.createdAt) / 1000 }))
    .sort((a, b) => a.t - b.t);
  const orders = [...new Set(measured.map(({ run }) => run.n))].sort((a, b) => a - b);
  const key = orders.join(',');
  const ids = measured.map(({ run }) => run.id).join();
  const data = useMemo((): uPlot.AlignedData => {
    const xs = measured.map(({ t }) => t);
    return [xs, ...orders.map((n) => measured.map(({ run }) => (run.n === n ? run.gflops : null)))];
    // The runs (their ids) decide the data.
  }, [ids]);
  const options = useMemo(
    (): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: {
        // At least an hour wide, so that runs close together are not drawn against
        // ticks of milliseconds, and the first and last points are not cut in half.
        x: {
          time: true,
          range: (_u, min, max) => {
            const pad = Math.max(1800 - (max - min) / 2, (max - min) * 0.05);
            return [min - pad, max + pad];
          },
        },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      series: [
        {},
        ...orders.map((n, i) => ({
          label: `n = ${n}`,
          stroke: PALETTE[i % PALETTE.length],
          dash: DASHES[i % DASHES.length],
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 8, fill: PALETTE[i % PALETTE.length] },
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${v.toFixed(2)} GFLOPS`),
        })),
      ],
      axes: [{}, { size: 48, label: 'GFLOPS' }],
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
    }),
    // A new chart only when the set of n changes.
    [key],
  );
  return (
    <Chart
      className="past-chart"
      options={options}
      data={data}
      height={240}
      label={`Chart of GFLOPS by date for ${measured.length} runs, one series per matrix order n (${orders.join(', ')}); the same figures are in the table of past runs.`}
    />
  );
}

function PastTable({ runs, admin }: { runs: BenchmarkRun[]; admin: boolean }) {
  return (
    <div className="table-scroll">
      <table className="runs stacking">
        <thead>
          <tr>
            <th scope="col">Finished</th>
            <th scope="col">n</th>
            <th scope="col">Threads</th>
            <th scope="col">GFLOPS</th>
            <th scope="col">Residual</th>
            <th scope="col">Result</th>
            {admin && <th scope="col">By</th>}
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run-id={run.id}>
              <th scope="row">{run.finishedAt ? when(run.finishedAt) : when(run.createdAt)}</th>
              <td data-label="n" data-field="n">
                {run.n}
              </td>
              <td data-label="Threads">{run.threads}</td>
              <td data-label="GFLOPS" data-field="gflops">
                {gflops(run)}
              </td>
              <td data-label="Residual" data-field="residual">
                {residual(run)}
              </td>
              <td data-label="Result" data-field="status">
                {STATUS_WORDS[run.status]}
                {run.error && <span className="row-error">{run.error}</span>}
              </td>
              {admin && <td data-label="By">{run.owner.name}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
