#!/usr/bin/env python3
"""Soak run (issue 14): mixed member and hostile traffic against one `imagegraph serve`.

Starts the binary on a fresh DATA_DIR (its private PostgreSQL cluster; local storage, or
S3 on a moto server with --s3) with MEMORY_BUDGET_MB set, creates one user per client
with `imagegraph users create`, then for --minutes runs, in one asyncio loop:
  members  browse the feed (with comments), comment, upload base64 PNG/JPEG (small, 1 MP
           noise, 50 MP, thin 1x40,000 and 20,000x2), edit (NEW_VERSION) and preview, and
           hold a graphql-transport-ws socket subscribed to commentAdded;
  hostile  clients send odd operation names, thin 1x40,000,000 PNGs resized to 1000x1000
           FILL, deep/complex/batched queries, many sockets, slow-loris connections,
           oversized bodies and messages, bursts beyond the rate limits (16 x 50 MP
           uploads among them), and hold sockets of users whose tokens get revoked.
Every client has its own X-Forwarded-For address (TRUST_FORWARDED_FOR=true), so limits
per address apply per client. The service's RSS is sampled every 0.5 s, and read once more
--settle seconds after the traffic stops (what the allocator gave back). Then every
acknowledged image (upload or saved edit) is read back through GraphQL and its `url`
bytes fetched, and every acknowledged comment is read back by id; if the process died it
is restarted on the same data for that check.

Exits non-zero when the process died, on any HTTP 5xx other than SERVICE_UNAVAILABLE (or
an INTERNAL_SERVER_ERROR), when a revoked user's socket still ran a query, or when
anything acknowledged was lost.
Pillow is used for JPEGs when importable; otherwise the service converts PNGs to JPEG.

Run:  python3 scripts/soak.py --binary target/release/imagegraph [--minutes 10]
          [--clients 50] [--hostile 10] [--budget-mb 1024] [--s3] [--env KEY=VALUE] [--settle 30]
"""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing bench_feed
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_feed import Processes, free_port, http, log, wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FEED = (
    "query feed($after: String) { images(first: 10, after: $after) { edges { node { id "
    "thumbnailUrl commentCount comments(first: 5) { edges { node { id text author { name } } } } } } "
    "pageInfo { endCursor hasNextPage } } }"
)
UPLOAD = (
    "mutation upload($b: String!, $a: Boolean!) { uploadImage(input: {base64: $b, analyze: $a}) "
    "{ image { id byteSize width height } } }"
)
EDIT = (
    "mutation edit($id: ID!, $ins: [EditInstruction!]!, $save: SaveMode!, $f: ImageFormat) { editImage(input: "
    "{imageId: $id, instructions: $ins, save: $save, format: $f}) { image { id byteSize } preview } }"
)
COMMENT = "mutation comment($id: ID!, $t: String!) { addComment(input: {imageId: $id, text: $t}) { comment { id text } } }"
SUBSCRIBE = "subscription($id: ID!) { commentAdded(imageId: $id) { id text } }"


# ---------------------------------------------------------------- images


def png(width, height, blocks, level=6):
    """An 8-bit RGB PNG from `blocks` of raw scanlines (each with its filter byte)."""
    comp = zlib.compressobj(level)
    idat = b"".join(comp.compress(b) for b in blocks) + comp.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pattern_png(width, height, seed=0):
    base = bytes(range(256)) * (3 * width // 256 + 2)

    def blocks():
        for top in range(0, height, 64):
            yield b"".join(b"\x00" + base[(y * 7 + seed) % 256 :][: 3 * width] for y in range(top, min(top + 64, height)))

    return png(width, height, blocks())


def noise_png(width, height):
    return png(width, height, [b"".join(b"\x00" + os.urandom(3 * width) for _ in range(height))], level=1)


def column_png(height):
    """1 x `height`: the issue's one-request process killer at 40,000,000 (~160 KB)."""
    block = b"\x00\x80\x40\x20" * 1_000_000
    return png(1, height, [block] * (height // 1_000_000) + [b"\x00\x80\x40\x20" * (height % 1_000_000)], level=9)


def header_bomb_png():
    """Declares 100,000 x 100,000 pixels; the pixel cap must refuse it from the header."""
    return png(100_000, 100_000, [b"\x00" * 300_001 * 4])


def pillow_jpeg(width, height):
    try:
        from PIL import Image
    except ImportError:
        return None
    import io

    out = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


# ---------------------------------------------------------------- HTTP and WebSocket over asyncio


class Http:
    """One keep-alive HTTP/1.1 connection from one client address (reopened as needed)."""

    IDLE = 5.0  # reopen before HTTP_HEADER_READ_TIMEOUT_SECS closes an idle connection

    def __init__(self, ctx, address):
        self.ctx, self.address = ctx, address
        self.reader = self.writer = None
        self.used = 0.0

    async def close(self):
        if self.writer:
            self.writer.close()
            with suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, method, target, body=b"", headers=None, timeout=180.0):
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.ctx.host}:{self.ctx.port}\r\n"
        head += f"X-Forwarded-For: {self.address}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
        # No retries: a dropped connection is what a client of a dying service sees.
        if self.writer is None or time.monotonic() - self.used > self.IDLE:
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.ctx.host, self.ctx.port, limit=1 << 20)
        try:
            return await asyncio.wait_for(self._exchange(head.encode(), body), timeout)
        except BaseException:
            await self.close()
            raise

    async def _exchange(self, head, body):
        self.writer.write(head)
        try:
            self.writer.write(body)
            await self.writer.drain()
        except ConnectionError:
            pass  # the server may answer (413) and close before reading the whole body
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        keep = headers.get("connection", "").lower() != "close"
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            data = b"".join(parts)
        else:
            data, keep = await self.reader.read(), False
        if not keep:
            await self.close()
        self.used = time.monotonic()
        return status, data


class Ws:
    """A minimal RFC 6455 client: masked frames out, pings answered, close codes read."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, ctx, address, protocol="graphql-transport-ws"):
        """(HTTP status, socket or None)."""
        reader, writer = await asyncio.open_connection(ctx.host, ctx.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /graphql/ws HTTP/1.1\r\nHost: {ctx.host}:{ctx.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {protocol}\r\nX-Forwarded-For: {address}\r\n\r\n".encode()
        )
        await writer.drain()
        status = int((await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).split(b" ", 2)[1])
        if status != 101:
            writer.close()
            return status, None
        return status, cls(reader, writer)

    async def send(self, message, opcode=1):
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        n, mask = len(payload), os.urandom(4)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        keys = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        self.writer.write(header + mask + (int.from_bytes(payload, "big") ^ keys).to_bytes(n, "big"))
        await self.writer.drain()

    async def recv(self):
        """("text", message) or ("close", code, reason); a dropped connection is 1006."""
        data = b""
        try:
            while True:
                b0, b1 = await self.reader.readexactly(2)
                n = b1 & 0x7F
                if n >= 126:
                    n = int.from_bytes(await self.reader.readexactly(2 if n == 126 else 8), "big")
                payload = await self.reader.readexactly(n)
                opcode = b0 & 0x0F
                if opcode == 9:
                    await self.send(payload, 10)
                elif opcode == 8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return ("close", code, payload[2:].decode(errors="replace"))
                elif opcode in (0, 1, 2):
                    data += payload
                    if b0 & 0x80:
                        return ("text", json.loads(data))
        except (ConnectionError, asyncio.IncompleteReadError):
            return ("close", 1006, "connection dropped")

    async def close(self):
        with suppress(Exception):
            await self.send(struct.pack("!H", 1000), 8)
        self.writer.close()


async def ws_session(ctx, role, token, address):
    """An initialised graphql-transport-ws socket, or None (the outcome is counted)."""
    try:
        status, ws = await Ws.open(ctx, address)
        if ws is None:
            ctx.stats.ws[(role, f"upgrade refused {status}")] += 1
            return None
        await ws.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        reply = await asyncio.wait_for(ws.recv(), 30)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as err:
        ctx.stats.ws[(role, f"open failed: {type(err).__name__}")] += 1
        return None
    if reply[0] == "text" and reply[1].get("type") == "connection_ack":
        ctx.stats.ws[(role, "opened")] += 1
        return ws
    answer = f"close {reply[1]} {reply[2][:60]!r}" if reply[0] == "close" else reply[1].get("type")
    ctx.stats.ws[(role, f"connection_init answered {answer}")] += 1
    await ws.close()
    return None


# ---------------------------------------------------------------- recording


class Stats:
    def __init__(self):
        self.requests, self.codes, self.transport, self.ws, self.attacks = Counter(), Counter(), Counter(), Counter(), Counter()
        self.unavailable_5xx, self.other_5xx, self.unavailable_why = Counter(), Counter(), Counter()
        self.bad = []  # (role, action, status, body) of unexpected 5xx / INTERNAL_SERVER_ERROR
        self.first = {}  # (role, code) -> (action, message) of its first occurrence
        self.cut = deque(maxlen=5000)  # (when, what) of requests whose connection was dropped
        self.images, self.comments = {}, {}  # acknowledged: id -> byteSize / text

    def response(self, role, action, status, body):
        self.requests[role] += 1
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        errors = [e for a in (answer if isinstance(answer, list) else [answer]) if isinstance(a, dict) for e in a.get("errors") or []]
        codes = self.error_codes(role, action, errors)
        if status >= 500:
            (self.unavailable_5xx if "SERVICE_UNAVAILABLE" in codes else self.other_5xx)[role] += 1
        if (status >= 500 and "SERVICE_UNAVAILABLE" not in codes) or "INTERNAL_SERVER_ERROR" in codes:
            self.bad.append((role, action, status, body[:400]))
        return answer

    def error_codes(self, role, action, errors):
        codes = [(e.get("extensions") or {}).get("code", "NO_CODE") if isinstance(e, dict) else "NO_CODE" for e in errors]
        for error, code in zip(errors, codes):
            message = str(error.get("message") if isinstance(error, dict) else error)[:200]
            self.codes[(role, code)] += 1
            self.first.setdefault((role, code), (action, message))
            if code == "SERVICE_UNAVAILABLE":  # the memory budget's, or a timeout, or the database's?
                self.unavailable_why[message[:100]] += 1
        return codes

    def ws_message(self, role, message):
        """A graphql-transport-ws message from the server: events and errors counted."""
        kind, payload = message.get("type"), message.get("payload")
        errors = payload if kind == "error" else (payload or {}).get("errors") if kind == "next" else None
        if errors:
            self.error_codes(role, "subscription", errors if isinstance(errors, list) else [errors])
        self.ws[(role, "event" if kind == "next" and not errors else f"message {kind}{' with errors' if errors else ''}")] += 1

    def failure(self, role, action, err):
        self.transport[(role, f"{action}: {type(err).__name__}")] += 1
        if isinstance(err, (ConnectionResetError, asyncio.IncompleteReadError)):
            self.cut.append((time.monotonic(), f"{role} {action}"))


async def gql(ctx, conn, role, action, token, query=None, variables=None, op=None, raw=None, timeout=180.0):
    """The parsed answer (dict, or list for a batch), or None when no answer came."""
    body = raw if raw is not None else json.dumps({"query": query, "variables": variables or {}, "operationName": op}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    try:
        status, data = await conn.request("POST", "/graphql", body, headers, timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as err:
        ctx.stats.failure(role, action, err)
        return None
    return ctx.stats.response(role, action, status, data)


def dig(answer, *path):
    for key in path:
        answer = answer.get(key) if isinstance(answer, dict) else None
    return answer


async def get_media(ctx, conn, role, url):
    """(status, length) of a signed media URL, or (0, 0)."""
    parsed = urllib.parse.urlsplit(url)
    try:
        status, data = await conn.request("GET", f"{parsed.path}?{parsed.query}")
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as err:
        ctx.stats.failure(role, "media", err)
        return 0, 0
    ctx.stats.response(role, "media", status, data if status >= 500 else b"")
    return status, len(data)


# ---------------------------------------------------------------- shared client actions


async def upload(ctx, conn, role, user, kind, analyze=False):
    b64 = ctx.images[kind]() if callable(ctx.images[kind]) else ctx.images[kind]
    body = json.dumps({"query": UPLOAD, "variables": {"b": b64, "a": analyze}, "operationName": "upload"}).encode()
    image = dig(await gql(ctx, conn, role, f"upload {kind}", user["token"], raw=body), "data", "uploadImage", "image")
    if image:
        ctx.stats.images[image["id"]] = image["byteSize"]
        user["own"].append(image["id"])
        if image["width"] * image["height"] >= 40_000_000:
            ctx.big.append(image["id"])
    return image


async def edit(ctx, conn, role, user, image_id, instructions, save, fmt=None):
    variables = {"id": image_id, "ins": instructions, "save": save, "f": fmt}
    payload = dig(await gql(ctx, conn, role, f"edit {save}", user["token"], EDIT, variables, "edit"), "data", "editImage")
    if payload and payload.get("image"):
        ctx.stats.images[payload["image"]["id"]] = payload["image"]["byteSize"]
    return payload


async def comment(ctx, conn, role, user, image_id, text):
    made = dig(await gql(ctx, conn, role, "comment", user["token"], COMMENT, {"id": image_id, "t": text}, "comment"),
               "data", "addComment", "comment")
    if made:
        ctx.stats.comments[made["id"]] = made["text"]
    return made


def some_image(ctx, user):
    pool = list(user["own"][-20:]) + list(ctx.seen)[-50:]
    return random.choice(pool) if pool else None


async def guarded(ctx, role, action):
    """Runs one client action; a surprise in the client is counted, not fatal to the run."""
    try:
        await action
    except Exception as err:  # noqa: BLE001 (a soak run must outlast its own clients' bugs)
        ctx.stats.failure(role, "client action", err)


# ---------------------------------------------------------------- members


async def member_browse(ctx, conn, user):
    after = None
    for _ in range(random.randint(1, 3)):
        page = dig(await gql(ctx, conn, "member", "feed", user["token"], FEED, {"after": after}, "feed"), "data", "images")
        if not page:
            return
        for edge in page["edges"]:
            ctx.seen.append(edge["node"]["id"])
        if page["edges"]:
            await get_media(ctx, conn, "member", random.choice(page["edges"])["node"]["thumbnailUrl"])
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


async def member_comment(ctx, conn, user):
    if image_id := some_image(ctx, user):
        await comment(ctx, conn, "member", user, image_id, f"soak comment {random.randrange(10**9)} from {user['name']} ✓")


async def member_upload(ctx, conn, user):
    kind = random.choices(["small png", "small jpeg", "1 MP noise", "50 MP png", "50 MP jpeg", "1x40000", "20000x2"],
                          [30, 30, 10, 5, 5, 5, 5])[0]
    await upload(ctx, conn, "member", user, kind, analyze=random.random() < 0.2)


async def member_edit(ctx, conn, user, save):
    image_id = random.choice(user["own"][-10:]) if user["own"] else None
    if not image_id:
        return await member_upload(ctx, conn, user)
    box = {"width": random.choice([320, 640, 1200])}
    if save == "PREVIEW":
        box = {"width": 300, "height": 300, "fit": random.choice(["COVER", "CONTAIN", "FILL"])}
    await edit(ctx, conn, "member", user, image_id, [{"brightness": round(random.uniform(0.6, 1.6), 2)}, {"resize": box}], save)


MEMBER_ACTIONS = [
    (member_browse, 40),
    (member_comment, 25),
    (member_upload, 15),
    (lambda ctx, conn, user: member_edit(ctx, conn, user, "NEW_VERSION"), 8),
    (lambda ctx, conn, user: member_edit(ctx, conn, user, "PREVIEW"), 12),
]


async def member(ctx, user):
    conn = Http(ctx, user["address"])
    actions, weights = zip(*MEMBER_ACTIONS)
    while ctx.running():
        await guarded(ctx, "member", random.choices(actions, weights)[0](ctx, conn, user))
        await asyncio.sleep(random.uniform(0.2, 1.0))
    await conn.close()


async def member_subscriber(ctx, user):
    """A socket subscribed to commentAdded on a few images, renewed every 20-40 s."""
    while ctx.running():
        ws = await ws_session(ctx, "member", user["token"], user["address"])
        if ws is None:
            await asyncio.sleep(2)
            continue
        await guarded(ctx, "member", listen(ctx, user, ws))
        await ws.close()


async def listen(ctx, user, ws):
    targets = set(random.sample(list(ctx.seen), min(8, len(ctx.seen)))) | set(user["own"][-4:])
    for n, image_id in enumerate(targets):
        await ws.send({"id": str(n), "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": image_id}}})
    until = min(ctx.deadline, time.monotonic() + random.uniform(20, 40))
    while (left := until - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            return
        if message[0] == "close":
            ctx.stats.ws[("member", f"closed by server {message[1]}")] += 1
            return
        ctx.stats.ws_message("member", message[1])


# ---------------------------------------------------------------- hostile clients


async def hostile_names(ctx, conn, user):
    names = ["x\u0000y", "n" * 5000, "Ünïcødé", "a b", "", f"Q{random.randrange(10**6)}"]
    for name in names:
        await gql(ctx, conn, "hostile", "odd name", user["token"], f"query {name if name.isidentifier() else 'q'} {{ __typename }}", op=name)
    for _ in range(30):  # valid, distinct names: the label cap must hold them
        name = f"N{random.randrange(10**9)}"
        await gql(ctx, conn, "hostile", "many names", user["token"], f"query {name} {{ __typename }}", op=name)


async def hostile_thin(ctx, conn, user):
    kind = random.choice(["1x40000000", "1x40000000", "20000x2"])
    image = await upload(ctx, conn, "hostile", user, kind)
    target = image["id"] if image else (random.choice(ctx.big) if ctx.big else None)
    if target:
        fill = {"resize": {"width": 1000, "height": 1000, "fit": "FILL"}}
        await edit(ctx, conn, "hostile", user, target, [fill], "PREVIEW")
        await edit(ctx, conn, "hostile", user, target, [{"resize": {"width": 20000, "height": 20000, "fit": "FILL"}}], "PREVIEW")
        await edit(ctx, conn, "hostile", user, target, [{"blur": 100.0}, {"rotate": 90}, fill], "NEW_VERSION")


async def hostile_queries(ctx, conn, user):
    def deep(levels):  # 3: past MAX_QUERY_DEPTH; 10: past the parser's own recursion limit
        return "id" if not levels else f"comments(first: 1) {{ edges {{ node {{ image {{ {deep(levels - 1)} }} }} }} }}"

    complex_ = "{ images(first: 30) { edges { node { comments(first: 80) { edges { node { author { name } "
    complex_ += "image { comments(first: 80) { edges { node { id text } } } } } } } } } } }"
    aliases = "{ " + " ".join(f"a{n}: images(first: 30) {{ totalCount }}" for n in range(40)) + " }"
    cycle = "{ images { edges { node { ...A } } } } fragment A on Image { parent { ...B } } fragment B on Image { ...A }"
    shapes = {
        "depth": f"{{ images(first: 1) {{ edges {{ node {{ {deep(3)} }} }} }} }}",
        "parser depth": f"{{ image(id: \"x\") {{ {deep(10)} }} }}",
        "complexity": complex_, "aliases": aliases, "fragment cycle": cycle,
        "page size": "{ images(first: 100000) { totalCount } }",
        "document size": "{ __typename " + " " * 40_000 + "}", "syntax": "{ images(first: 1",
    }
    for shape, query in shapes.items():
        await gql(ctx, conn, "hostile", f"shape: {shape}", user["token"], query)
    batch = json.dumps([{"query": complex_}] * 50).encode()
    await gql(ctx, conn, "hostile", "batch", user["token"], raw=batch)


async def hostile_sockets(ctx, conn, user):
    opened = await asyncio.gather(*(ws_session(ctx, "hostile", user["token"], user["address"]) for _ in range(70)))
    live = [ws for ws in opened if ws]
    if live and (image_id := some_image(ctx, user)):  # beyond the subscriptions cap, then the size cap
        ws = live[0]
        for n in range(40):
            await ws.send({"id": str(n), "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": image_id}}})
        with suppress(asyncio.TimeoutError):
            while (message := await asyncio.wait_for(ws.recv(), 2))[0] == "text":
                ctx.stats.ws_message("hostile", message[1])
        if len(live) > 1:
            await live[1].send({"type": "ping", "payload": {"junk": "x" * 200_000}})
            ctx.stats.ws[("hostile", f"after oversized message: close {(await asyncio.wait_for(live[1].recv(), 10))[1]}")] += 1
    silent = []
    for _ in range(3):  # never initialised: closed after WS_CONNECTION_INIT_TIMEOUT_SECS
        with suppress(OSError, asyncio.TimeoutError, ValueError):
            silent.append((await Ws.open(ctx, user["address"]))[1])
    for ws in filter(None, silent):
        with suppress(asyncio.TimeoutError):
            ctx.stats.ws[("hostile", f"uninitialised socket: close {(await asyncio.wait_for(ws.recv(), 15))[1]}")] += 1
    await asyncio.gather(*(ws.close() for ws in live + [w for w in silent if w]))


async def hostile_slow_loris(ctx, conn, user):
    async def one():
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(ctx.host, ctx.port)
            writer.write(f"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {user['address']}\r\n".encode())
            while time.monotonic() - started < 40:
                try:
                    await asyncio.wait_for(reader.read(1024), 2)
                    break  # an answer (408) or EOF: the server dropped it
                except asyncio.TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
            writer.close()
        except OSError:
            pass
        held = time.monotonic() - started
        outcome = "dropped within 12 s" if held < 12 else "dropped later" if held < 40 else "held 40 s, never dropped"
        ctx.stats.ws[("hostile", f"slow-loris {outcome}")] += 1

    await asyncio.gather(*(one() for _ in range(25)))


async def hostile_oversized(ctx, conn, user):
    token = user["token"]
    filler = "A" * (ctx.max_upload * 4 // 3 + 2 * 1024 * 1024)
    raw = json.dumps({"query": UPLOAD, "variables": {"b": filler, "a": False}}).encode()
    await gql(ctx, conn, "hostile", "oversized body", token, raw=raw)
    await upload(ctx, conn, "hostile", user, "header bomb")
    await upload(ctx, conn, "hostile", user, "garbage")
    if image_id := some_image(ctx, user):
        await comment(ctx, conn, "hostile", user, image_id, "x" * 6000)
        await comment(ctx, conn, "hostile", user, image_id, "bell\u0007\u0000")


async def hostile_burst(ctx, conn, user):
    async def fresh(fn, *args):
        c = Http(ctx, user["address"])
        try:
            return await fn(ctx, c, "hostile", user, *args)
        finally:
            await c.close()

    kind = random.choice(["comments", "uploads", "50 MP", "bad token"])
    if kind == "comments" and (image_id := some_image(ctx, user)):
        await asyncio.gather(*(fresh(comment, image_id, f"burst {n}") for n in range(40)))
    elif kind == "uploads":
        await asyncio.gather(*(fresh(upload, "small png") for _ in range(40)))
    elif kind == "50 MP":
        await asyncio.gather(*(fresh(upload, random.choice(["50 MP png", "50 MP jpeg"])) for _ in range(16)))
    else:
        for _ in range(80):
            await gql(ctx, conn, "hostile", "bad token", "not-a-token", "{ __typename }")


async def hostile_revoke(ctx, conn, user):
    """A socket outliving its rights: a throwaway user's tokens are revoked while its
    socket is open; it must be closed (4403) and run nothing more."""
    name = f"revoked{random.randrange(10**9)}"
    token = await cli(ctx, "users", "create", name)
    ws = token and await ws_session(ctx, "hostile", token, user["address"])
    if not ws:
        return
    await cli(ctx, "users", "revoke", name)
    revoked, outcome = time.monotonic(), "still open 5 s after revocation"
    with suppress(asyncio.TimeoutError):
        message = await asyncio.wait_for(ws.recv(), 1.5)  # the issue's "within a second", with slack
        if message[0] == "close":
            outcome = f"closed {message[1]} within 1.5 s"
    if outcome.startswith("still"):
        with suppress(ConnectionError):
            await ws.send({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
        while (left := revoked + 5 - time.monotonic()) > 0 and outcome.startswith("still"):
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            if message[0] == "close":
                outcome = f"closed {message[1]} after 1.5 s"
            elif dig(message[1], "payload", "data", "viewer"):
                outcome = "ran a query 1.5 s after revocation"
                ctx.stats.bad.append(("hostile", "revoked socket", 101, f"a query ran as {name} after its tokens were revoked"))
            elif message[1].get("type") in ("next", "error"):
                outcome = "refused a query 1.5 s after revocation, but stayed open"
    ctx.stats.ws[("hostile", f"revoked user's socket {outcome}")] += 1
    await ws.close()


async def cli(ctx, *args):
    """`imagegraph ARGS` on the service's data; its last line of output, or None."""
    proc = await asyncio.create_subprocess_exec(str(ctx.binary), *args, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        ctx.stats.failure("hostile", f"imagegraph {args[0]} {args[1]}", RuntimeError(err.decode()[-200:]))
        return None
    return (out.decode().strip().splitlines() or [""])[-1]


HOSTILE_ACTIONS = {
    "names": (hostile_names, 15), "thin": (hostile_thin, 15), "queries": (hostile_queries, 15),
    "sockets": (hostile_sockets, 10), "slowloris": (hostile_slow_loris, 10),
    "oversized": (hostile_oversized, 10), "burst": (hostile_burst, 15), "revoke": (hostile_revoke, 5),
}


async def hostile(ctx, user):
    conn = Http(ctx, user["address"])
    actions = [HOSTILE_ACTIONS[name] for name in ctx.attacks]
    while ctx.running() and actions:
        fn = random.choices([a for a, _ in actions], [w for _, w in actions])[0]
        await guarded(ctx, "hostile", fn(ctx, conn, user))
        ctx.stats.attacks[fn.__name__.removeprefix("hostile_")] += 1
        await asyncio.sleep(random.uniform(0.5, 2.0))
    await conn.close()


# ---------------------------------------------------------------- the run and the check


class Context:
    def __init__(self, url, images, attacks, max_upload, binary, env):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.images, self.attacks, self.max_upload = images, attacks, max_upload
        self.stats, self.seen, self.big = Stats(), deque(maxlen=500), deque(maxlen=50)
        self.deadline, self.proc = 0.0, None
        self.binary, self.env = binary, env

    def running(self):
        """Until the deadline, or until the service has gone (nothing left to learn)."""
        return time.monotonic() < self.deadline and self.proc.poll() is None


async def soak(ctx, members, hostiles, minutes):
    ctx.deadline = time.monotonic() + minutes * 60
    tasks = [member(ctx, u) for u in members] + [member_subscriber(ctx, u) for u in members]
    tasks += [hostile(ctx, u) for u in hostiles]
    await asyncio.gather(*tasks)


async def verify(ctx, token):
    """(images found, comments found): in GraphQL, and image bytes in storage."""
    stats, conn = ctx.stats, Http(ctx, "10.250.0.1")
    found_images, found_comments, missing = 0, 0, []
    ids = list(stats.images)
    media = []
    for start in range(0, len(ids), 20):
        chunk = ids[start : start + 20]
        query = "{ " + " ".join(f"i{n}: image(id: {json.dumps(i)}) {{ id byteSize url }}" for n, i in enumerate(chunk)) + " }"
        data = dig(await gql(ctx, conn, "check", "check images", token, query), "data") or {}
        for n, image_id in enumerate(chunk):
            if node := data.get(f"i{n}"):
                media.append((image_id, node))
            else:
                missing.append(f"image {image_id}: not in GraphQL")
    queue = deque(media)

    async def fetch():
        nonlocal found_images
        c = Http(ctx, "10.250.0.2")
        while queue:
            image_id, node = queue.popleft()
            status, length = await get_media(ctx, c, "check", node["url"])
            if status == 200 and length == stats.images[image_id] == node["byteSize"]:
                found_images += 1
            else:
                missing.append(f"image {image_id}: media {status}, {length} bytes of {stats.images[image_id]}")
        await c.close()

    await asyncio.gather(*(fetch() for _ in range(4)))
    items = list(stats.comments.items())
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        query = "{ " + " ".join(f"c{n}: comment(id: {json.dumps(i)}) {{ id text }}" for n, (i, _) in enumerate(chunk)) + " }"
        data = dig(await gql(ctx, conn, "check", "check comments", token, query), "data") or {}
        for n, (comment_id, text) in enumerate(chunk):
            if (data.get(f"c{n}") or {}).get("text") == text:
                found_comments += 1
            else:
                missing.append(f"comment {comment_id}: {data.get(f'c{n}')!r}")
    await conn.close()
    return found_images, found_comments, missing


# ---------------------------------------------------------------- the service


class RssSampler(threading.Thread):
    """Peak and latest VmRSS (and VmHWM) of the service, read every 0.5 s, and when it
    disappeared."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.halt = pid, threading.Event()
        self.peak_kb = self.hwm_kb = self.last_kb = self.samples = 0
        self.died_at = None

    def field(self, name):
        with suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        return None

    def run(self):
        while not self.halt.wait(0.5):
            if (rss := self.field("VmRSS")) is None:
                self.died_at = time.monotonic()
                return
            self.peak_kb, self.last_kb, self.samples = max(self.peak_kb, rss), rss, self.samples + 1
            self.hwm_kb = self.field("VmHWM") or self.hwm_kb


def start_service(procs, binary, work, env, log_name="imagegraph.log"):
    """Serves on a fresh port with `env`; returns (process, base URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(env, LISTEN_ADDR=f"127.0.0.1:{port}", PUBLIC_URL=url)
    log_path = work / log_name
    proc = procs.start("imagegraph", [str(binary), "serve"], log_path, env=env, cwd=work)
    wait_until("imagegraph", lambda: http("GET", f"{url}/readyz", timeout=5)[0] == 200, proc, log_path, timeout=300)
    return proc, url


def start_s3(procs, work, moto):
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = procs.start("moto", [str(moto), "-H", "127.0.0.1", "-p", str(port)], work / "moto.log")
    wait_until("moto", lambda: http("GET", f"{endpoint}/", timeout=5)[0] == 200, proc, work / "moto.log", timeout=60)
    if http("PUT", f"{endpoint}/soak")[0] != 200:
        sys.exit("could not create the S3 bucket on moto")
    return {"STORAGE_URL": "s3://soak/media", "AWS_ENDPOINT": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def stop_cluster(data_dir):
    """The private cluster outlives a service that aborted: stop it (fast shutdown)."""
    with suppress(OSError, ValueError, IndexError):
        pid = int((data_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        for _ in range(120):
            os.kill(pid, 0)
            time.sleep(0.25)


def create_users(binary, env, names):
    def create(name):
        out = subprocess.run([str(binary), "users", "create", name], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"`users create {name}` failed: {out.stderr[-2000:]}")
        return out.stdout.strip().splitlines()[-1]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(create, names))


def admin_request(url, token, query, variables=None, timeout=600):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    status, answer = http("POST", f"{url}/graphql", body, headers, timeout)
    return json.loads(answer) if answer.startswith(b"{") else {"status": status}


def jpeg_via_service(url, token, png_bytes):
    """Without Pillow: the service converts a PNG to JPEG (an admin's NEW_VERSION)."""
    answer = admin_request(url, token, UPLOAD, {"b": base64.b64encode(png_bytes).decode(), "a": False})
    image_id = dig(answer, "data", "uploadImage", "image", "id")
    made = admin_request(url, token, EDIT, {"id": image_id, "ins": [{"brightness": 1.0}], "save": "NEW_VERSION", "f": "JPEG"})
    jpeg_id = dig(made, "data", "editImage", "image", "id")
    media = dig(admin_request(url, token, "query($id: ID!) { image(id: $id) { url } }", {"id": jpeg_id}), "data", "image", "url")
    status, data = http("GET", media) if media else (0, b"")
    if status != 200:
        log(f"could not make a JPEG through the service: {json.dumps(made)[:500]}")
        return None
    return data


def build_images(url, token):
    """Base64 bodies by kind; callables make a fresh image per upload."""
    started = time.monotonic()
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    big_png = pattern_png(7071, 7071)
    small_jpeg = pillow_jpeg(640, 480) or jpeg_via_service(url, token, pattern_png(640, 480))
    big_jpeg = pillow_jpeg(7071, 7071) or jpeg_via_service(url, token, big_png)
    images = {
        "small png": lambda: b64(pattern_png(random.randint(16, 400), random.randint(16, 300), random.randrange(256))),
        "small jpeg": b64(small_jpeg) if small_jpeg else None,
        "1 MP noise": b64(noise_png(1000, 1000)),
        "50 MP png": b64(big_png),
        "50 MP jpeg": b64(big_jpeg) if big_jpeg else None,
        "1x40000": b64(pattern_png(1, 40_000)),
        "20000x2": b64(pattern_png(20_000, 2)),
        "1x40000000": b64(column_png(40_000_000)),
        "header bomb": b64(header_bomb_png()),
        "garbage": b64(os.urandom(5000)),
    }
    for kind, fallback in (("small jpeg", "small png"), ("50 MP jpeg", "50 MP png")):
        images[kind] = images[kind] or images[fallback]
    sizes = ", ".join(f"{k} {len(v) * 3 // 4 / 1e6:.2f} MB" for k, v in images.items() if isinstance(v, str))
    log(f"images ready in {time.monotonic() - started:.1f} s: {sizes}")
    return images


def api_calls(url, token):
    answer = admin_request(url, token, "{ metricsSummary(scope: GLOBAL) { totalApiCalls } }", timeout=60)
    return dig(answer, "data", "metricsSummary", "totalApiCalls")


# ---------------------------------------------------------------- report


def report(args, stats, sampler, settled_kb, soak_started, up, found, missing, usage, log_path):
    def by_code(role):
        codes = sorted(((c, n) for (r, c), n in stats.codes.items() if r == role), key=lambda x: -x[1])
        return ", ".join(f"{c} {n}" for c, n in codes) or "none"

    def counter(counts, role):
        return ", ".join(f"{k} {n}" for (r, k), n in sorted(counts.items()) if r == role) or "none"

    unavailable = sum(stats.unavailable_5xx.values())
    peak_mb, hwm_mb = sampler.peak_kb / 1024, sampler.hwm_kb / 1024
    rows = [
        ("minutes", args.minutes),
        ("clients (members/hostile)", f"{args.clients}/{args.hostile}"),
        ("requests served (members/hostile/check)",
         f"{sum(stats.requests.values())} ({stats.requests['member']}/{stats.requests['hostile']}/{stats.requests['check']})"),
        ("HTTP 5xx SERVICE_UNAVAILABLE (members/hostile)", f"{unavailable} ({stats.unavailable_5xx['member']}/{stats.unavailable_5xx['hostile']})"),
        ("HTTP 5xx other, INTERNAL_SERVER_ERROR, or a revoked socket still served", f"**{len(stats.bad)}**" if stats.bad else "0"),
        ("SERVICE_UNAVAILABLE by message", "; ".join(f"{n} x {m}" for m, n in stats.unavailable_why.most_common(5)) or "none"),
        ("GraphQL errors by code, members", by_code("member")),
        ("GraphQL errors by code, hostile", by_code("hostile")),
        ("no answer (members)", counter(stats.transport, "member")),
        ("no answer (hostile)", counter(stats.transport, "hostile")),
        ("WebSocket and connections, members", counter(stats.ws, "member")),
        ("hostile attacks run", ", ".join(f"{k} {n}" for k, n in sorted(stats.attacks.items())) or "none"),
        ("WebSocket and connections, hostile", counter(stats.ws, "hostile")),
        ("peak RSS (0.5 s samples) / VmHWM vs budget",
         f"{peak_mb:.0f} MB / {hwm_mb:.0f} MB vs {args.budget_mb} MB ({'over' if max(peak_mb, hwm_mb) > args.budget_mb else 'within'})"),
        ("settled RSS (after --settle idle seconds)", f"{settled_kb / 1024:.0f} MB after {args.settle:.0f} s" if settled_kb else "n/a"),
        ("process up", "yes" if up else f"**no**: gone {(sampler.died_at or 0) - soak_started:.0f} s into the run (restarted on the same data for the check)"),
        ("acknowledged images (uploads + saved edits), found", f"{len(stats.images)}, {found[0]}"),
        ("acknowledged comments, found", f"{len(stats.comments)}, {found[1]}"),
        ("usage recorded (API calls counted during the run)", usage),
        ("this script's CPU (user + system)", f"{sum(resource.getrusage(resource.RUSAGE_SELF)[:2]):.0f} s"),
    ]
    print("\n| figure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    for (role, code), (action, message) in sorted(stats.first.items()):
        print(f"\nfirst {code} ({role} {action}): {message}")
    for role, action, status, body in stats.bad[:10]:
        print(f"\nunexpected answer ({role} {action}): HTTP {status}: {body!r}")
    for line in missing[:20]:
        print(f"lost: {line}")
    if not up or stats.other_5xx or stats.bad:
        notes = Counter()
        for line in log_path.read_text(errors="replace").splitlines():
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if re.search(r"panicked at|memory allocation of|fatal runtime error|Segmentation| ERROR ", line) and not line[:1].isspace():
                notes[re.sub(r"^\S+Z\s+|latency=\d+ ms", "", line)[:300]] += 1
        print("\nservice log lines of note (count x line):\n" + "\n".join(f"{n} x {line}" for line, n in notes.most_common(15)))
    if not up and sampler.died_at:
        cut = Counter(what for when, what in stats.cut if sampler.died_at - 2 <= when <= sampler.died_at + 0.5)
        print("requests cut off when it went: " + ", ".join(f"{k} {n}" for k, n in cut.most_common()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, required=True, help="the imagegraph binary")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=50, help="member clients (each also holds a WebSocket)")
    ap.add_argument("--hostile", type=int, default=10, help="hostile clients")
    ap.add_argument("--budget-mb", type=int, default=1024, help="MEMORY_BUDGET_MB given to the service")
    ap.add_argument("--attacks", default=",".join(HOSTILE_ACTIONS), help=f"hostile attacks to run, of {','.join(HOSTILE_ACTIONS)}")
    ap.add_argument("--s3", action="store_true", help="store objects on a moto S3 server instead of DATA_DIR")
    ap.add_argument("--moto", type=Path, default=ROOT / ".venv" / "bin" / "moto_server")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="another setting for the service")
    ap.add_argument("--keep", action="store_true", help="keep the data directory and the service log")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--settle", type=float, default=30, help="idle seconds after the traffic before the settled RSS is read")
    args = ap.parse_args()
    random.seed(args.seed)
    binary = args.binary.resolve()
    attacks = [a for a in args.attacks.split(",") if a]
    if unknown := set(attacks) - set(HOSTILE_ACTIONS):
        sys.exit(f"unknown attacks: {', '.join(sorted(unknown))}")

    work = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))
    work.chmod(0o755)  # as root the private cluster runs as `postgres`, who must enter it
    data_dir = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "STORAGE_URL", "MEDIA_SECRET", "OPENAI_", "AWS_"))}
    env.update(DATA_DIR=str(data_dir), MEMORY_BUDGET_MB=str(args.budget_mb), TRUST_FORWARDED_FOR="true",
               RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    env.update(kv.split("=", 1) for kv in args.env)
    procs = Processes()
    try:
        if args.s3:
            env.update(start_s3(procs, work, args.moto))
        proc, url = start_service(procs, binary, work, env)
        admin = (data_dir / "admin-token").read_text().strip()
        log(f"imagegraph at {url} (pid {proc.pid}), data in {work}")
        sampler = RssSampler(proc.pid)  # from the start: VmHWM covers the setup's work too
        sampler.start()
        started = time.monotonic()
        names = [f"member{n}" for n in range(args.clients)] + [f"hostile{n}" for n in range(args.hostile)]
        tokens = create_users(binary, env, names)
        users = [{"name": n, "token": t, "own": [], "address": f"10.{1 + i // 250}.{i % 250}.{7 + i % 200}"}
                 for i, (n, t) in enumerate(zip(names, tokens))]
        log(f"created {len(users)} users in {time.monotonic() - started:.1f} s")
        max_upload = int(env.get("MAX_UPLOAD_BYTES", 25 * 1024 * 1024))
        ctx = Context(url, build_images(url, admin), attacks, max_upload, binary, env)
        calls_before = api_calls(url, admin)
        ctx.proc = proc
        log(f"soaking for {args.minutes} min: {args.clients} members, {args.hostile} hostile ({','.join(attacks)})")
        asyncio.run(soak(ctx, users[: args.clients], users[args.clients :], args.minutes))
        # What the allocator gives back once traffic stops, before the check reads
        # everything again: the figure that says whether freed pixel buffers return.
        time.sleep(args.settle)
        settled_kb = sampler.last_kb if proc.poll() is None else None
        sampler.halt.set()
        sampler.join()
        up = proc.poll() is None
        if not up:
            log(f"the service exited ({proc.returncode}); restarting it on the same data for the check")
            stop_cluster(data_dir)
            proc, url = start_service(procs, binary, work, env, "imagegraph-restarted.log")
            ctx.host, ctx.port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
        log(f"checking {len(ctx.stats.images)} images and {len(ctx.stats.comments)} comments")
        images_found, comments_found, missing = asyncio.run(verify(ctx, admin))
        time.sleep(float(env.get("USAGE_FLUSH_INTERVAL_MS", 5000)) / 1000 + 2)
        calls_after = api_calls(url, admin)
        usage = f"{calls_after - calls_before}" if up and None not in (calls_before, calls_after) else "n/a"
    finally:
        procs.stop_all()
        stop_cluster(data_dir)
        log_copy = Path(tempfile.gettempdir()) / f"{work.name}.log"
        with suppress(OSError):
            shutil.copy(work / "imagegraph.log", log_copy)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(args, ctx.stats, sampler, settled_kb, ctx.deadline - args.minutes * 60, up, (images_found, comments_found), missing, usage, log_copy)
    log(f"service log: {log_copy}")
    lost = len(ctx.stats.images) - images_found + len(ctx.stats.comments) - comments_found
    return 1 if not up or ctx.stats.bad or lost else 0


if __name__ == "__main__":
    sys.exit(main())
