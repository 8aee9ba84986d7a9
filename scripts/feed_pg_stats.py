#!/usr/bin/env python3
"""What PostgreSQL does for one feed request: imagegraph against PostGraphile 5.

Issue 16 asks for the statements each server sends per feed request, their plans and
buffers, and PostgreSQL's CPU per request. scripts/bench_feed.py measures the CPU under
load; this script shows where it goes. In one run it
  1. starts a PostgreSQL cluster of its own (under a temporary directory, unix socket
     only) with pg_stat_statements (planning tracked) and auto_explain loaded;
  2. starts `imagegraph serve` on it (DATABASE_URL), seeds benches/seed.sql exactly as
     bench_feed.py does (same plain index for PostGraphile, VACUUM ANALYZE), and starts
     PostGraphile 5.1.5 on the same database;
  3. for each server and each page (1, and 52 through a keyset cursor): sends --requests
     feed requests one after another on fresh pg_stat_statements, then prints per
     statement: calls per request, plans per request (a prepared statement reused with
     its generic plan is planned once; one planned every time shows plans = calls),
     planning and execution ms per call, shared buffers hit per call, and the sum per
     request; and the CPU the backends used (utime+stime of the cluster's processes)
     per request, measured sequentially and so without contention;
  4. with auto_explain on (log_analyze, buffers), one more request each, and prints the
     plans PostgreSQL logged: the `EXPLAIN (ANALYZE, BUFFERS)` of every statement as
     it really ran, parameters and prepared-statement state included.

Needs what bench_feed.py installs (run it once, or this script installs the same) and
a built binary: target/release/imagegraph by default (--binary).

Run:  python3 scripts/feed_pg_stats.py [--binary target/release/imagegraph] [--requests 300]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_feed as bench  # noqa: E402 (the same installs, seed, queries and checks)

PG_BIN = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip() or "/usr/bin")


def as_postgres(cmd):
    """PostgreSQL refuses to run as root: as root, run its programs as `postgres`."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_cluster(work):
    data, sock = work / "pgdata", work / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(
        as_postgres([str(PG_BIN / "initdb"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "-D", str(data)]),
        check=True,
        capture_output=True,
    )
    # The private cluster's settings (crates/db/src/local_cluster.rs), plus the two
    # extensions that tell what each statement costs.
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            "\nlisten_addresses = ''\nmax_connections = 200\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\nshared_preload_libraries = 'pg_stat_statements,auto_explain'\n"
            "pg_stat_statements.track_planning = on\npg_stat_statements.max = 1000\n"
            "auto_explain.log_min_duration = -1\nauto_explain.log_analyze = on\n"
            "auto_explain.log_buffers = on\nauto_explain.log_timing = on\nauto_explain.log_nested_statements = on\n"
            "auto_explain.log_parameter_max_length = -1\nlog_line_prefix = '%m [%p] %a '\n"
        )
    log_path = work / "postgres.log"
    subprocess.run(
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log_path), "-o", f"-k {sock} -p 5432", "-w", "start"]),
        check=True,
        capture_output=True,
    )
    return data, sock, log_path


def stop_cluster(data):
    subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True)


def psql(sock, sql, database=bench.DATABASE):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-p", "5432", "-U", "postgres", "-d", database, "-c", sql]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def start_imagegraph(procs, work, binary, sock):
    data_dir = work / "data"
    data_dir.mkdir(mode=0o755)
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"postgres:///{bench.DATABASE}?host={sock}&port=5432&user=postgres",
        LISTEN_ADDR=f"127.0.0.1:{port}",
        PUBLIC_URL=url,
        WORKERS="0",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    for name in ("STORAGE_URL", "MEDIA_SECRET", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    log_path = work / "imagegraph.log"
    proc = procs.start("imagegraph", [str(binary), "serve"], log_path, env=env, cwd=work)
    bench.wait_until("imagegraph", lambda: bench.http("GET", f"{url}/readyz", timeout=5)[0] == 200, proc, log_path, 180)
    return url, data_dir, proc.pid


def cluster_cpu(data):
    """CPU seconds of the postmaster and its children (the backends)."""
    return bench.cpu_seconds(bench.cluster_pids(data))


STATS = """
SELECT calls, plans, round(total_plan_time::numeric, 4), round(total_exec_time::numeric, 4),
       shared_blks_hit, shared_blks_read, rows, regexp_replace(query, '\\s+', ' ', 'g')
FROM pg_stat_statements
WHERE query !~* 'pg_stat_statements|^(BEGIN|COMMIT|ROLLBACK|SET |SHOW |DISCARD)|auto_explain'
ORDER BY calls DESC, total_exec_time DESC
"""


def profile(target, after, label, sock, data, n):
    body = target.feed_body(after)
    for _ in range(20):  # warm: statements prepared, generic plans chosen, caches filled
        bench.http("POST", target.endpoint, body, target.headers())
    psql(sock, "SELECT pg_stat_statements_reset()")
    cpu = cluster_cpu(data)
    started = time.monotonic()
    for _ in range(n):
        status, answer = bench.http("POST", target.endpoint, body, target.headers())
        assert status == 200 and b'"errors"' not in answer, answer[:500]
    wall = time.monotonic() - started
    cpu = cluster_cpu(data) - cpu
    rows = [line.split("|", 7) for line in psql(sock, STATS).splitlines() if line.strip()]
    print(f"\n### {target.name}, {label}: {n} requests one at a time")
    print(f"PostgreSQL CPU {cpu * 1000 / n:.3f} ms/req (all cluster processes); wall {wall * 1000 / n:.2f} ms/req")
    print("| calls/req | plans/req | plan ms/call | exec ms/call | buffers hit/call | rows/call | statement |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    plan_sum = exec_sum = 0.0
    for calls, plans, plan_ms, exec_ms, hit, read, nrows, query in rows:
        calls, plans = int(calls), int(plans)
        plan_sum += float(plan_ms) / n
        exec_sum += float(exec_ms) / n
        print(
            f"| {calls / n:.2f} | {plans / n:.2f} | {float(plan_ms) / max(plans, 1):.4f} | {float(exec_ms) / calls:.4f} "
            f"| {int(hit) / calls:.1f} | {int(nrows) / calls:.1f} | `{query[:400]}` |"
        )
    print(f"per request: planning {plan_sum:.4f} ms, execution {exec_sum:.4f} ms")


def explain_once(target, after, label, sock, log_path):
    psql(sock, "ALTER SYSTEM SET auto_explain.log_min_duration = 0")
    psql(sock, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    start = log_path.stat().st_size
    bench.http("POST", target.endpoint, target.feed_body(after), target.headers())
    time.sleep(0.5)
    psql(sock, "ALTER SYSTEM SET auto_explain.log_min_duration = -1")
    psql(sock, "SELECT pg_reload_conf()")
    with open(log_path) as f:
        f.seek(start)
        text = f.read()
    print(f"\n### auto_explain (ANALYZE, BUFFERS): {target.name}, {label}\n```")
    print(text.strip())
    print("```")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=bench.BINARY)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=300, help="feed requests per server and page")
    ap.add_argument("--no-explain", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    bin_dir = bench.ensure_bench_venv()
    bench.ensure_postgraphile(bin_dir)
    binary = args.binary.resolve()
    if not binary.exists():
        sys.exit(f"{binary} is missing")
    work = Path(tempfile.mkdtemp(prefix="feed-pg-stats-", dir="/tmp"))
    work.chmod(0o755)
    procs = bench.Processes()
    data = None
    try:
        data, sock, log_path = start_cluster(work)
        psql(sock, f"CREATE DATABASE {bench.DATABASE}", database="postgres")
        psql(sock, "CREATE EXTENSION pg_stat_statements")
        ours_url, data_dir, ours_pid = start_imagegraph(procs, work, binary, sock)
        token = (data_dir / "admin-token").read_text().strip()
        bench.seed_database(sock, args.images)
        pg_url, pg_pid = bench.start_postgraphile(procs, work, bin_dir, sock)
        ours = bench.Target("imagegraph", ours_url, token, bench.OURS_FEED, ours_pid)
        theirs = bench.Target("PostGraphile", pg_url, None, bench.POSTGRAPHILE_FEED, pg_pid)
        bench.check_same_answers(ours.feed(), theirs.feed(), "page 1")
        deep = bench.DEEP_PAGE
        deep_ours, deep_theirs = bench.cursor_before_page(ours, deep), bench.cursor_before_page(theirs, deep)
        bench.check_same_answers(ours.feed(deep_ours), theirs.feed(deep_theirs), f"page {deep}")
        for label, a, b in (("page 1", None, None), (f"page {deep} (keyset)", deep_ours, deep_theirs)):
            profile(ours, a, label, sock, data, args.requests)
            profile(theirs, b, label, sock, data, args.requests)
        if not args.no_explain:
            for label, a, b in (("page 1", None, None), (f"page {deep} (keyset)", deep_ours, deep_theirs)):
                explain_once(ours, a, label, sock, log_path)
                explain_once(theirs, b, label, sock, log_path)
    finally:
        procs.stop_all()
        if data is not None:
            stop_cluster(data)
        if args.keep:
            bench.log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
