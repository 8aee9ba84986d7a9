#!/usr/bin/env python3
"""Generate the Pillow reference fixtures for the edit engine's tests.

Run from the crate root with a Pillow install (the committed fixtures were made
with the version printed into crates/imaging/tests/fixtures/edit/PILLOW_VERSION):

    python scripts/make_edit_fixtures.py

Inputs are synthesised from a fixed seed so the fixtures can be regenerated
bit for bit; the random generator is Python's own (Mersenne Twister), which is
stable across Python versions for `random.Random(seed).randrange`.
"""

from __future__ import annotations

import random
from pathlib import Path

import PIL
from PIL import Image, ImageEnhance, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "crates" / "imaging" / "tests" / "fixtures" / "edit"
W, H = 64, 48
FACTORS = [0.0, 0.5, 1.3, 2.0]
ENHANCERS = {
    "brightness": ImageEnhance.Brightness,
    "contrast": ImageEnhance.Contrast,
    "saturation": ImageEnhance.Color,
    "sharpness": ImageEnhance.Sharpness,
}


def make_rgb(seed: int) -> Image.Image:
    rng = random.Random(seed)
    data = bytearray()
    for y in range(H):
        for x in range(W):
            # Gradients plus noise plus a hard-edged block: the block makes the
            # sharpness kernel overshoot so clipping is exercised.
            r = x * 255 // (W - 1)
            g = y * 255 // (H - 1)
            b = (x + y) * 255 // (W + H - 2)
            if 20 <= x < 40 and 12 <= y < 30:
                r, g, b = 250 - r // 4, 10 + g // 8, 240
            noise = [rng.randrange(-24, 25) for _ in range(3)]
            data += bytes(max(0, min(255, c + n)) for c, n in zip((r, g, b), noise))
    return Image.frombytes("RGB", (W, H), bytes(data))


def make_rgba(seed: int) -> Image.Image:
    rgb = make_rgb(seed)
    rng = random.Random(seed + 1)
    alpha = bytes(
        max(0, min(255, (x * 4 + y * 3) % 256 + rng.randrange(-10, 11)))
        for y in range(H)
        for x in range(W)
    )
    im = rgb.convert("RGBA")
    im.putalpha(Image.frombytes("L", (W, H), alpha))
    return im


def factor_name(f: float) -> str:
    return f"{f:.1f}".replace(".", "_")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    inputs = {"rgb": make_rgb(7), "rgba": make_rgba(11)}
    for kind, im in inputs.items():
        im.save(OUT / f"input_{kind}.png", optimize=True)
        for op, enh in ENHANCERS.items():
            for f in FACTORS:
                out = enh(im).enhance(f)
                out.save(OUT / f"{op}_{factor_name(f)}_{kind}.png", optimize=True)
        for sigma in (0.7, 2.0, 5.0):
            out = im.filter(ImageFilter.GaussianBlur(sigma))
            out.save(OUT / f"blur_{factor_name(sigma)}_{kind}.png", optimize=True)
        for w, h in ((40, 30), (25, 48), (100, 75)):
            out = im.resize((w, h), Image.Resampling.LANCZOS)
            out.save(OUT / f"resize_{w}x{h}_{kind}.png", optimize=True)
        im.convert("L").save(OUT / f"grayscale_{kind}.png", optimize=True)
    (OUT / "PILLOW_VERSION").write_text(PIL.__version__ + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, Pillow {PIL.__version__}")


if __name__ == "__main__":
    main()
