// Small PNG images made on the spot, so the tests need no fixture files: a gradient in
// a colour of its own for each seed, so the thumbnails in the screenshots differ.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGB PNG whose pixel (x, y) is `pixel(x, y)` = [r, g, b]. */
export function png(width, height, pixel) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1); // filter byte 0 (none) first
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Seed number `n`'s picture: a diagonal gradient around a hue of its own. */
export function seedPng(n, width = 160, height = 120) {
  const hue = (n * 47) % 360;
  const [r, g, b] = hueToRgb(hue);
  return png(width, height, (x, y) => {
    const t = 0.35 + 0.65 * ((x / width + y / height) / 2);
    return [Math.round(r * t), Math.round(g * t), Math.round(b * t)];
  });
}

function hueToRgb(hue) {
  const f = (k) => {
    const h = (k + hue / 60) % 6;
    return 255 * (1 - Math.max(0, Math.min(h, 4 - h, 1)));
  };
  return [f(5), f(3), f(1)];
}
