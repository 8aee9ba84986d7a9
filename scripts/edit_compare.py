#!/usr/bin/env python3
"""Compare the Rust edit engine with Pillow on a 4000x3000 photo-like JPEG.

    python scripts/edit_compare.py [--reps 5] [--threads 1]

Needs Pillow and numpy. Builds `crates/imaging/examples/edit_bench.rs` in release mode, times
Pillow (single-threaded, as Pillow is) and the Rust engine (RAYON_NUM_THREADS
= --threads) best-of-N, prints `op | Pillow ms | ours ms | ratio`, and the peak
RSS of one end-to-end edit in a fresh process. Keep --reps small on a shared
machine and repeat the run: the ratios are what matter.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
W, H = 4000, 3000


def make_photo(path: Path) -> None:
    """Smooth gradients, soft blobs, hard-edged shapes and sensor-like noise."""
    if path.exists():
        return
    rng = np.random.default_rng(20240607)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.zeros((H, W, 3), np.float32)
    img[..., 0] = 60 + 120 * x / W
    img[..., 1] = 40 + 150 * y / H
    img[..., 2] = 200 - 120 * (x + y) / (W + H)
    for _ in range(40):
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(80, 700)
        color = rng.uniform(-80, 80, 3).astype(np.float32)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * color
    for _ in range(30):
        x0, y0 = int(rng.uniform(0, W - 400)), int(rng.uniform(0, H - 300))
        w, h = int(rng.uniform(50, 400)), int(rng.uniform(30, 300))
        img[y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)


def best_ms(reps: int, fn) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t) * 1e3)
    return best


def pillow_ops():
    def resize(im):
        return im.resize((400, round(im.height * 400 / im.width)), Image.Resampling.LANCZOS)

    return {
        "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
        "contrast": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
        "saturation": lambda im: ImageEnhance.Color(im).enhance(1.3),
        "sharpness": lambda im: ImageEnhance.Sharpness(im).enhance(2.0),
        "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
        "resize": resize,
        "grayscale": lambda im: im.convert("L"),
        "rotate": lambda im: im.transpose(Image.Transpose.ROTATE_270),
    }


def pillow_times(path: Path, reps: int) -> dict[str, float]:
    data = path.read_bytes()

    def decode():
        im = Image.open(io.BytesIO(data))
        im.load()
        return im

    im = decode()
    out = {"decode": best_ms(reps, decode)}
    out["encode"] = best_ms(reps, lambda: im.save(io.BytesIO(), "JPEG", quality=90))
    ops = pillow_ops()
    for name, fn in ops.items():
        out[name] = best_ms(reps, lambda: fn(im))
    for name in ("brightness", "sharpness", "resize"):
        fn = ops[name]
        out[f"e2e_{name}"] = best_ms(
            reps, lambda: fn(decode()).save(io.BytesIO(), "JPEG", quality=90)
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--photo", type=Path, default=ROOT / "target" / "photo_4000x3000.jpg")
    args = ap.parse_args()

    args.photo.parent.mkdir(parents=True, exist_ok=True)
    make_photo(args.photo)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "imagegraph-imaging", "--example", "edit_bench"],
        cwd=ROOT,
        check=True,
    )
    exe = ROOT / "target" / "release" / "examples" / "edit_bench"
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))

    ours = json.loads(
        subprocess.run(
            [exe, "ops", args.photo, str(args.reps)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    pil = pillow_times(args.photo, args.reps)

    import PIL

    print(f"Pillow {PIL.__version__}, ours with {args.threads} thread(s), best of {args.reps}")
    print(f"{'op':<16} | {'Pillow ms':>9} | {'ours ms':>8} | {'ratio':>6}")
    print("-" * 48)
    for name in pil:
        print(f"{name:<16} | {pil[name]:9.1f} | {ours[name]:8.1f} | {pil[name] / ours[name]:5.1f}x")

    for op in ("brightness", "sharpness", "resize"):
        # The example reports its own VmHWM: getrusage(RUSAGE_CHILDREN) would
        # also count the cargo build above.
        run = subprocess.run(
            [exe, "once", args.photo, op], env=env, check=True, capture_output=True, text=True
        )
        print(f"peak RSS, end-to-end {op}: {json.loads(run.stdout)['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
