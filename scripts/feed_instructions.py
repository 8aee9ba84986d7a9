#!/usr/bin/env python3
"""Instructions per request (the feed, one image, a node), counted by callgrind, for one
or more builds.

Wall-clock benchmarks on these shared machines swing by 10-20% between identical runs;
callgrind counts instructions, the same for the same binary and input whatever else the
machine is doing, so two builds compare to within a fraction of a percent (issue 20:
traces switched off must cost at most 2% on the feed).

    python3 scripts/feed_instructions.py BINARY [BINARY ...] [--requests 200] [--images 1000]
        [--query feed|image|node]

For each binary: `imagegraph serve` in zero-setup mode under valgrind with collection
off, seeded like scripts/bench_feed.py, 20 warm-up requests, then collection on for
--requests sequential requests, and off. The request is --query: `feed`, page 1 of the
bench's feed query; `image`, `image(id)` of the newest image with its first 20 comments
(15 added to its seeded 5 before warming up); `node`, `node(id)` of that image.
Prints the instructions per request and each build's ratio to the first. Needs
valgrind (callgrind_control); the server's own PostgreSQL is not counted.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_feed as bf  # noqa: E402 - the bench's server start and seed, shared


def request_body(query, url, headers):
    """The JSON body of the request to count."""
    if query == "feed":
        return json.dumps({"query": bf.OURS_FEED, "variables": {"after": None}}).encode()
    return bf.lookup_body(query, url, headers)


def instructions_per_request(binary, requests, images, query):
    work = Path(tempfile.mkdtemp(prefix="feed-instructions-"))
    work.chmod(0o755)  # the private cluster runs as `postgres`, who must reach it
    out = work / "callgrind.out"
    wrapper = work / "imagegraph-under-callgrind"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file={out} {binary} "$@"\n'
    )
    wrapper.chmod(0o755)
    procs = bf.Processes()
    try:
        url, data_dir, pid = bf.start_imagegraph(procs, work, wrapper)
        bf.seed_database(bf.cluster_socket_dir(data_dir), images)
        token = (data_dir / "admin-token").read_text().strip()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        body = request_body(query, url, headers)

        def feed():
            status, answer = bf.http("POST", f"{url}/graphql", body, headers, timeout=120)
            if status != 200 or b'"errors"' in answer:
                sys.exit(f"{binary}: the {query} request failed ({status}): {answer[:400]!r}")

        for _ in range(20):
            feed()
        subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
        for _ in range(requests):
            feed()
        subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
    finally:
        procs.stop_all()
    text = out.read_text()
    totals = [int(m.group(1)) for m in re.finditer(r"^totals: (\d+)", text, re.M)]
    totals = totals or [int(m.group(1)) for m in re.finditer(r"^summary: (\d+)", text, re.M)]
    if not totals:
        sys.exit(f"{binary}: callgrind wrote no totals in {out}")
    return sum(totals) / requests


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--query", choices=("feed", "image", "node"), default="feed")
    args = ap.parse_args()
    rows = []
    for binary in args.binaries:
        per_request = instructions_per_request(Path(binary).resolve(), args.requests, args.images, args.query)
        rows.append((binary, per_request))
        bf.log(f"{binary}: {per_request:,.0f} instructions per {args.query} request")
    base = rows[0][1]
    what = {
        "feed": "feed page 1 (10 images x 5 comments)",
        "image": "image(id) with 20 comments",
        "node": "node(id) of an image",
    }[args.query]
    print(f"\n{what}, {args.requests} requests after 20 warm-up, callgrind\n")
    print("| binary | instructions per request | ratio to the first |")
    print("|---|---:|---:|")
    for binary, per_request in rows:
        print(f"| {binary} | {per_request:,.0f} | {per_request / base:.4f} |")


if __name__ == "__main__":
    main()
