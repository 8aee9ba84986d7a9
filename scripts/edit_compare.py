#!/usr/bin/env python3
"""Ours against Pillow and libvips on a 4000 x 3000 photo-like JPEG q90, in one run.

    python3 scripts/edit_compare.py [--reps 5] [--threads 1,2] [--skip-build] [--cpu]

Runs itself in .venv-bench (created on first use, with scripts/requirements-edit.txt:
Pillow, numpy, and libvips through pyvips-binary, all pinned). Builds
`crates/imaging/examples/edit_bench.rs` in release mode and prints, best of --reps:

* each operation on decoded pixels, and whole requests (`e2e_*`: JPEG bytes in, JPEG q90
  bytes out; ours takes them as the service does: shrink-on-load, lossless rotation
  where the JPEG allows it);
* Pillow (single-threaded, as Pillow is), and libvips and ours with each thread count
  in --threads (VIPS_CONCURRENCY, RAYON_NUM_THREADS), with the ratios
  `their ms / our ms` (above 1: we are faster);
* the lossless quarter turn alone (JPEG bytes in and out, no thumbnail), ours against
  libjpeg-turbo's transform (what `jpegtran -rotate 270 -perfect` runs), each thread count;
* the peak RSS of each of our whole requests in a fresh process.

libvips runs its own idioms for each operation (`thumbnail_buffer` for the
thumbnail, `linear` for brightness, a 3 x 3 convolution blended for sharpness...), with
its operation cache off and the input decoded to memory first for the pixel rows. Keep
--reps small on a shared machine and repeat the run: the ratios are what matter.
With --cpu every figure is the process's CPU time (all threads, page faults included)
instead of wall time: on a loaded machine wall times swing by 2x between runs, CPU
times far less; on more than one thread it is work, not latency.
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

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-bench"
W, H = 4000, 3000
NEEDED = "import numpy, PIL, pyvips"


def in_venv() -> None:
    """Re-runs this script under .venv-bench unless its packages import here."""
    if subprocess.run([sys.executable, "-c", NEEDED], capture_output=True).returncode == 0:
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(python), "-c", NEEDED], capture_output=True).returncode != 0:
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "scripts" / "requirements-edit.txt")], check=True)
    os.execv(str(python), [str(python), *sys.argv])


def make_photo(path: Path) -> None:
    """Smooth gradients, soft blobs, hard-edged shapes and sensor-like noise."""
    if path.exists():
        return
    import numpy as np
    from PIL import Image

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


CLOCK = time.process_time if os.environ.get("EDIT_BENCH_CPU") else time.perf_counter


def best_ms(reps: int, fn) -> float:
    best = float("inf")
    for _ in range(reps):
        t = CLOCK()
        fn()
        best = min(best, (CLOCK() - t) * 1e3)
    return best


def pillow_times(path: Path, reps: int) -> dict[str, float]:
    from PIL import Image, ImageEnhance, ImageFilter

    def resize(im):
        return im.resize((400, round(im.height * 400 / im.width)), Image.Resampling.LANCZOS)

    ops = {
        "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
        "contrast": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
        "saturation": lambda im: ImageEnhance.Color(im).enhance(1.3),
        "sharpness": lambda im: ImageEnhance.Sharpness(im).enhance(2.0),
        "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
        "resize": resize,
        "grayscale": lambda im: im.convert("L"),
        "rotate": lambda im: im.transpose(Image.Transpose.ROTATE_270),
    }
    data = path.read_bytes()

    def decode():
        im = Image.open(io.BytesIO(data))
        im.load()
        return im

    def jpeg(im):
        im.save(io.BytesIO(), "JPEG", quality=90)

    def thumbnail():
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", (400, 300))  # Pillow's own shrink-on-load
        jpeg(resize(im))

    im = decode()
    out = {"decode": best_ms(reps, decode), "encode": best_ms(reps, lambda: jpeg(im))}
    for name, fn in ops.items():
        out[name] = best_ms(reps, lambda: fn(im))
    out["e2e_thumbnail"] = best_ms(reps, thumbnail)
    for name in ("brightness", "sharpness", "resize", "rotate"):
        out[f"e2e_{name}"] = best_ms(reps, lambda: jpeg(ops[name](decode())))
    out["e2e_rotate270"] = best_ms(reps, lambda: jpeg(decode().transpose(Image.Transpose.ROTATE_90)))
    return out


def vips_times(path: Path, reps: int) -> dict[str, float]:
    """Run in a child with VIPS_CONCURRENCY set before libvips starts."""
    import pyvips

    pyvips.cache_set_max(0)
    data = path.read_bytes()
    sharpen_mask = pyvips.Image.new_from_array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], scale=13)

    def blend(a, b, f):  # Pillow's ImageEnhance: b + f * (a - b)
        return (a * f + b * (1 - f)).cast("uchar")

    ops = {
        "brightness": lambda im: (im * 1.2).cast("uchar"),
        "contrast": lambda im: blend(im, im.colourspace("b-w").avg(), 1.2),
        "saturation": lambda im: blend(im, im.colourspace("b-w").bandjoin([im.colourspace("b-w")] * 2), 1.3),
        "sharpness": lambda im: blend(im, im.conv(sharpen_mask, precision="integer"), 2.0),
        "blur": lambda im: im.gaussblur(2),
        "resize": lambda im: im.resize(400 / im.width, kernel="lanczos3"),
        "grayscale": lambda im: im.colourspace("b-w"),
        "rotate": lambda im: im.rot90(),
    }

    def decode(access="random"):
        return pyvips.Image.new_from_buffer(data, "", access=access)

    def jpeg(im):
        return im.write_to_buffer(".jpg[Q=90]")

    decoded = decode().copy_memory()
    out = {
        "decode": best_ms(reps, lambda: decode().copy_memory()),
        "encode": best_ms(reps, lambda: jpeg(decoded)),
    }
    for name, fn in ops.items():
        out[name] = best_ms(reps, lambda: fn(decoded).copy_memory())
    out["e2e_thumbnail"] = best_ms(reps, lambda: jpeg(pyvips.Image.thumbnail_buffer(data, 400)))
    for name in ("brightness", "sharpness", "resize"):
        out[f"e2e_{name}"] = best_ms(reps, lambda: jpeg(ops[name](decode("sequential"))))
    out["e2e_rotate"] = best_ms(reps, lambda: jpeg(decode().rot90()))
    out["e2e_rotate270"] = best_ms(reps, lambda: jpeg(decode().rot270()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts for libvips and ours")
    ap.add_argument("--photo", type=Path, default=ROOT / "target" / "photo_4000x3000.jpg")
    ap.add_argument("--skip-build", action="store_true", help="use the edit_bench example as it is")
    ap.add_argument("--cpu", action="store_true", help="CPU time of each process instead of wall time")
    ap.add_argument("--vips-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.vips_child:
        print(json.dumps(vips_times(args.photo, args.reps)))
        return
    in_venv()
    if args.cpu and not os.environ.get("EDIT_BENCH_CPU"):
        # Set before CLOCK is read: re-run with it, so Pillow here and the children
        # (ours, libvips) all see it.
        os.environ["EDIT_BENCH_CPU"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    threads = [int(t) for t in args.threads.split(",")]
    args.photo.parent.mkdir(parents=True, exist_ok=True)
    make_photo(args.photo)
    if not args.skip_build:
        subprocess.run(
            ["cargo", "build", "--release", "--quiet", "-p", "imagegraph-imaging", "--example", "edit_bench"],
            cwd=ROOT,
            check=True,
        )
    exe = ROOT / "target" / "release" / "examples" / "edit_bench"

    def child(cmd, **env):
        run = subprocess.run(cmd, env=dict(os.environ, **env), check=True, capture_output=True, text=True)
        return json.loads(run.stdout)

    ours, vips = {}, {}
    for t in threads:
        ours[t] = child([exe, "ops", args.photo, str(args.reps)], RAYON_NUM_THREADS=str(t))
        vips[t] = child(
            [sys.executable, __file__, "--vips-child", "--photo", str(args.photo), "--reps", str(args.reps)],
            VIPS_CONCURRENCY=str(t),
        )
    pil = pillow_times(args.photo, args.reps)

    import PIL
    import pyvips

    print(
        f"Pillow {PIL.__version__} (1 thread), libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
        f" and ours with {'/'.join(map(str, threads))} thread(s); best of {args.reps},"
        f" ms of {'CPU' if args.cpu else 'wall'} time;"
        " ratios are their ms / our ms"
    )
    header = f"{'op':<15} | {'Pillow':>7}"
    for t in threads:
        header += f" | {f'vips {t}t':>8} | {f'ours {t}t':>8} | {'xPillow':>7} | {'xvips':>6}"
    print(header)
    print("-" * len(header))
    for name in pil:
        row = f"{name:<15} | {pil[name]:7.1f}"
        for t in threads:
            o, v = ours[t][name], vips[t][name]
            row += f" | {v:8.1f} | {o:8.1f} | {pil[name] / o:6.2f}x | {v / o:5.2f}x"
        print(row)

    print()
    for t in threads:
        turn = child([exe, "lossless", args.photo, str(args.reps)], RAYON_NUM_THREADS=str(t))
        print(
            f"lossless rotate 270 alone, {t} thread(s): ours {turn['ours']:.1f} ms,"
            f" libjpeg-turbo's transform {turn['libjpeg_turbo']:.1f} ms"
            f" (x{turn['libjpeg_turbo'] / turn['ours']:.2f}); goal: under 30 ms"
        )
    print()
    for name in (n for n in ours[threads[-1]] if n.startswith("e2e_")):
        rss = child([exe, "once", args.photo, name.removeprefix("e2e_")], RAYON_NUM_THREADS=str(threads[-1]))
        print(f"peak RSS, ours, {name}: {rss['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
