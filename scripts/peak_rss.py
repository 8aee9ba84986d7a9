#!/usr/bin/env python3
"""Peak memory of concurrent 50 MP uploads under each memory budget (issue 14).

For every budget in --budgets this script starts `imagegraph serve` (the --binary) with a
fresh DATA_DIR (its private PostgreSQL cluster), WORKERS=0, upload rate limits off and
MEMORY_BUDGET_MB set; sends --clients concurrent uploads of one generated 50 MP PNG
(7071 x 7071, a gradient that compresses to a few MB) as the admin; then reads the
server's peak resident set (VmHWM in /proc/PID/status) and stops it. It prints one row
per budget: peak RSS, wall time and how the uploads were answered.

Run:  python3 scripts/peak_rss.py --binary target/release/imagegraph [--budgets 1024,512,100000]
      [--clients 16] [--wait-ms 120000]
"""

import argparse
import concurrent.futures
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDE = 7071  # 7071^2 = 49,999,041 pixels: just under the default 50 MP cap
UPLOAD = "mutation($file: Upload!) { uploadImage(input: {file: $file, analyze: false}) { image { id width height } } }"


def log(message):
    print(f"peak_rss: {message}", file=sys.stderr, flush=True)


def png_50mp():
    """An RGB PNG of SIDE x SIDE: rows of a shifted gradient, so zlib keeps it small."""
    row_len = SIDE * 3
    base = bytes(i % 251 for i in range(row_len + 256))
    raw = b"".join(b"\x00" + base[y % 256 : y % 256 + row_len] for y in range(SIDE))
    chunk = lambda kind, data: (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def multipart(png):
    boundary = "imagegraph-peak-rss"
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    parts = [
        (b'Content-Disposition: form-data; name="operations"\r\nContent-Type: application/json', operations.encode()),
        (b'Content-Disposition: form-data; name="map"\r\nContent-Type: application/json', b'{"0": ["variables.file"]}'),
        (b'Content-Disposition: form-data; name="0"; filename="big.png"\r\nContent-Type: image/png', png),
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts)
    return body + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None


def vm_hwm_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def upload(url, token, body, content_type):
    request = urllib.request.Request(
        f"{url}/graphql",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            answer = json.loads(err.read())
        except ValueError:
            return f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return f"connection: {err}"
    if answer.get("errors"):
        return answer["errors"][0].get("extensions", {}).get("code", "error")
    return "ok"


def run_budget(binary, budget_mb, clients, wait_ms, body, content_type):
    work = Path(tempfile.mkdtemp(prefix="peak-rss-", dir="/tmp"))
    # As root the private cluster runs as `postgres`, who must be able to enter the tree.
    work.chmod(0o755)
    data_dir = work / "data"
    data_dir.mkdir(mode=0o755)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DATA_DIR=str(data_dir),
        LISTEN_ADDR=f"127.0.0.1:{port}",
        PUBLIC_URL=url,
        WORKERS="0",
        RATE_LIMIT_COSTLY_PER_MINUTE="0",
        RATE_LIMIT_UPLOADS_PER_MINUTE="0",
        MEMORY_BUDGET_MB=str(budget_mb),
        MEMORY_BUDGET_WAIT_MS=str(wait_ms),
        REQUEST_TIMEOUT_SECS="900",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    for name in ("DATABASE_URL", "STORAGE_URL", "MEDIA_SECRET", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    log_file = open(work / "imagegraph.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "serve"], env=env, cwd=work, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while get_status(f"{url}/readyz") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"imagegraph did not start; see {work / 'imagegraph.log'}")
            time.sleep(0.25)
        token = (data_dir / "admin-token").read_text().strip()
        idle_kib = vm_hwm_kib(proc.pid)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(lambda _: upload(url, token, body, content_type), range(clients)))
        wall = time.monotonic() - started
        alive = proc.poll() is None
        peak_kib = vm_hwm_kib(proc.pid) if alive else None
        counts = {}
        for answer in answers:
            counts[answer] = counts.get(answer, 0) + 1
        return {"budget": budget_mb, "idle": idle_kib, "peak": peak_kib, "wall": wall, "alive": alive, "answers": counts}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log_file.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "imagegraph")
    ap.add_argument("--budgets", default="1024,512,100000", help="MEMORY_BUDGET_MB values, comma-separated")
    ap.add_argument("--clients", type=int, default=16, help="concurrent uploads")
    ap.add_argument("--wait-ms", type=int, default=120_000, help="MEMORY_BUDGET_WAIT_MS (long: measure, not refuse)")
    args = ap.parse_args()
    if not args.binary.exists():
        sys.exit(f"no binary at {args.binary}")
    started = time.monotonic()
    png = png_50mp()
    log(f"generated a {SIDE}x{SIDE} PNG of {len(png)} bytes in {time.monotonic() - started:.1f} s")
    body, content_type = multipart(png)
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        log(f"budget {budget} MB: {args.clients} concurrent uploads")
        row = run_budget(args.binary, budget, args.clients, args.wait_ms, body, content_type)
        log(f"  {row}")
        rows.append(row)
    print(f"\n{args.clients} concurrent uploads of a {SIDE}x{SIDE} PNG ({len(png)} bytes), binary {args.binary}\n")
    print("| MEMORY_BUDGET_MB | peak RSS (VmHWM) | idle RSS | wall time | answers | process up |")
    print("|---:|---:|---:|---:|---|---|")
    for row in rows:
        peak = f"{row['peak'] / 1024:.0f} MB" if row["peak"] is not None else "n/a"
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(row["answers"].items()))
        print(
            f"| {row['budget']} | {peak} | {row['idle'] / 1024:.0f} MB | {row['wall']:.1f} s | {answers} | "
            f"{'yes' if row['alive'] else 'NO'} |"
        )
    if not all(row["alive"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
