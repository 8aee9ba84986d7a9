// The browser tests' PNG maker (pure node:zlib, no dependencies), shared rather than copied.
export { png, seedPng } from '../../web/tests/support/png.mjs';
