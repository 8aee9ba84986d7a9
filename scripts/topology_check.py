"""The client side of the container topology test (scripts/container.sh test).

Against two `serve` replicas (A and B, HTTP only) and one `worker` sharing a database
and an object store, it checks:

1. an upload on A waits while no worker runs (the replicas run no job workers), is
   analysed once the worker starts and announced on B's `analysisCompleted`
   subscription (graphql-transport-ws), and the media URL A signed is served by B
   (shared object store, shared MEDIA_SECRET);
2. A stopped with SIGTERM while a large upload to it is still being sent: A stops
   accepting connections, closes its WebSockets as going away (1001), and still answers
   the upload in flight without an error; the image is then visible on B.

Each check prints `ok ...`; any failure raises, and the exit status is non-zero.
"""

import argparse
import asyncio
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zlib

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

OFFLINE_MODEL = "imagegraph-offline-1"
UPLOAD = "mutation($f: Upload!) { uploadImage(input: {file: $f}) { image { id url } } }"


def fail(message):
    raise SystemExit(f"FAILED: {message}")


def png(width, height, noise):
    """An RGB PNG; with noise its pixels do not compress, so its size is ~3 * w * h."""
    row = width * 3
    if noise:
        pixels = os.urandom(row * height)
    else:
        pixels = bytes((x * 7 + y * 3) % 256 for y in range(height) for x in range(row))
    raw = b"".join(b"\x00" + pixels[y * row : (y + 1) * row] for y in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def multipart(file_bytes):
    boundary = "topology" + os.urandom(8).hex()
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    parts = [
        ("operations", None, operations.encode()),
        ("map", None, json.dumps({"0": ["variables.f"]}).encode()),
        ("0", "image.png", file_bytes),
    ]
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"\r\nContent-Type: image/png'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def answer(response):
    raw = response.read()
    if response.status != 200:
        fail(f"HTTP {response.status}: {raw[:500]!r}")
    body = json.loads(raw)
    if body.get("errors"):
        fail(f"GraphQL errors: {body['errors']}")
    return body["data"]


def upload(base, token, file_bytes):
    body, content_type = multipart(file_bytes)
    host = urllib.parse.urlsplit(base).netloc
    conn = http.client.HTTPConnection(host, timeout=60)
    conn.request(
        "POST",
        "/graphql",
        body,
        {"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    return answer(conn.getresponse())["uploadImage"]["image"]


def query(base, token, text, variables=None):
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": text, "variables": variables or {}}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return answer(response)


async def socket_on(base, token):
    url = base.replace("http://", "ws://") + "/graphql/ws"
    ws = await connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if ack.get("type") != "connection_ack":
        fail(f"expected connection_ack from {url}, got {ack}")
    return ws


async def next_event(ws, wanted_id, seconds):
    """The `analysisCompleted` event for `wanted_id`; asyncio.TimeoutError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError
        message = json.loads(await asyncio.wait_for(ws.recv(), left))
        if message.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        if message.get("type") != "next":
            fail(f"unexpected message on the subscription: {message}")
        if message["payload"].get("errors"):
            fail(f"subscription error: {message['payload']['errors']}")
        image = message["payload"]["data"]["analysisCompleted"]
        if image["id"] == wanted_id:
            return image


async def upload_on_a_announced_on_b(a, b, token, start_worker):
    ws = await socket_on(b, token)
    subscription = "subscription { analysisCompleted { id description analysis { status model } } }"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
    # graphql-transport-ws does not acknowledge a subscribe; give B a moment to start it.
    await asyncio.sleep(1.0)
    file_bytes = png(320, 200, noise=False)
    image = await asyncio.to_thread(upload, a, token, file_bytes)

    # The replicas run no job workers: nothing may analyse the upload until the worker
    # is there.
    try:
        early = await next_event(ws, image["id"], 4)
        fail(f"the upload was analysed with no worker running (by a replica?): {early}")
    except asyncio.TimeoutError:
        pass
    print("ok   with no worker running, the upload on A stays unanalysed for 4 s")

    run(start_worker)
    started = time.monotonic()
    try:
        event = await next_event(ws, image["id"], 60)
    except asyncio.TimeoutError:
        fail(f"no analysisCompleted for {image['id']} on B within 60 s of starting the worker")
    seconds = time.monotonic() - started
    await ws.close()
    analysis = event["analysis"]
    if analysis["status"] != "SUCCEEDED" or analysis["model"] != OFFLINE_MODEL:
        fail(f"analysis should have SUCCEEDED with {OFFLINE_MODEL}: {event}")
    if not event["description"]:
        fail(f"the analysis has no description: {event}")
    print(
        f"ok   upload on A ({image['id']}) analysed by the worker ({analysis['model']}) and "
        f"announced on B's subscription {seconds:.2f} s after the worker was started"
    )

    # A signed the URL with its PUBLIC_URL; B must serve the same path and signature.
    signed = urllib.parse.urlsplit(image["url"])
    on_b = f"{b}{signed.path}?{signed.query}"
    with urllib.request.urlopen(on_b, timeout=30) as response:
        served = response.read()
    if served != file_bytes:
        fail(f"B served {len(served)} bytes for A's media URL, not the {len(file_bytes)} uploaded")
    print("ok   the media URL signed by A is served by B (shared object store and MEDIA_SECRET)")


def run(command):
    """Runs a podman command; its stderr is shown only when it fails (podman without
    systemd logs harmless errors about healthcheck timers on every run)."""
    done = subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        fail(f"`{command}` exited with {done.returncode}: {done.stderr}")


def refused(base):
    host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except (ConnectionRefusedError, socket.timeout):
        return True


async def sigterm_mid_upload(a, b, token, stop_a):
    ws = await socket_on(a, token)
    file_bytes = png(1000, 1000, noise=True)
    body, content_type = multipart(file_bytes)
    host = urllib.parse.urlsplit(a).netloc
    conn = http.client.HTTPConnection(host, timeout=60)
    conn.putrequest("POST", "/graphql")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", content_type)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    first = 256 * 1024
    conn.send(body[:first])

    run(stop_a)
    # A has the signal; the upload is a tenth sent. A must stop accepting at once.
    deadline = time.monotonic() + 10
    while not refused(a):
        if time.monotonic() > deadline:
            fail("A still accepts connections 10 s after SIGTERM")
        await asyncio.sleep(0.1)
    print("ok   A stopped accepting connections after SIGTERM, with an upload half-sent")

    # Its WebSockets are closed as going away, so clients reconnect elsewhere.
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        if code != 1001:
            fail(f"A closed its WebSocket with {code}, not 1001 (going away)")
    except asyncio.TimeoutError:
        fail("A did not close its WebSocket within 10 s of SIGTERM")
    print("ok   A closed its WebSocket with 1001 (going away)")

    def finish():
        for at in range(first, len(body), 64 * 1024):
            conn.send(body[at : at + 64 * 1024])
            time.sleep(0.02)
        return answer(conn.getresponse())["uploadImage"]["image"]

    started = time.monotonic()
    image = await asyncio.to_thread(finish)
    print(
        f"ok   the {len(body) / 1e6:.1f} MB upload in flight at SIGTERM was answered without "
        f"an error ({image['id']}, rest sent in {time.monotonic() - started:.1f} s)"
    )

    found = query(b, token, "query($id: ID!) { node(id: $id) { id } }", {"id": image["id"]})
    if not found["node"] or found["node"]["id"] != image["id"]:
        fail(f"B does not see the image A accepted while stopping: {found}")
    print("ok   B sees the image A accepted while stopping")


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--a", required=True, help="replica A's base URL")
    parser.add_argument("--b", required=True, help="replica B's base URL")
    parser.add_argument("--token", required=True)
    parser.add_argument("--start-worker", required=True, help="command that starts the worker")
    parser.add_argument("--stop-a", required=True, help="command that sends A SIGTERM")
    args = parser.parse_args()
    await upload_on_a_announced_on_b(args.a, args.b, args.token, args.start_worker)
    await sigterm_mid_upload(args.a, args.b, args.token, args.stop_a)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - any surprise is a failure, said loudly
        print(f"FAILED: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
