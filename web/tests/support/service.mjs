// Starts the real imagegraph binary for a test run, in zero-setup mode: its own private
// PostgreSQL cluster in a temporary DATA_DIR, the offline AI provider (unless the caller
// names another), the built front end from web/dist, on a free port of 127.0.0.1.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const WEB = resolve(import.meta.dirname, '../..');

export const BINARY = resolve(WEB, process.env.IMAGEGRAPH_BIN ?? '../target/debug/imagegraph');
export const WEB_DIR = join(WEB, 'dist');

async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/**
 * Runs the service until `stop()`; its log goes to `logFile`. Resolves once `/readyz`
 * answers 200, with the origin and the admin token the first start wrote. `env` is set
 * on top of the cleaned environment (e.g. OPENAI_BASE_URL for a fake provider).
 */
export async function startService({ logFile, env: extra = {} }) {
  if (!existsSync(BINARY)) {
    throw new Error(
      `no imagegraph binary at ${BINARY}: build it (cargo build --bin imagegraph) or set IMAGEGRAPH_BIN`,
    );
  }
  if (!existsSync(join(WEB_DIR, 'index.html'))) {
    throw new Error(
      `no built front end in ${WEB_DIR}: run npm run build (or scripts/web.sh build)`,
    );
  }
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // The private cluster runs as the `postgres` user when we are root: it must be able
  // to enter the data directory.
  const dataDir = mkdtempSync(join(tmpdir(), 'imagegraph-web-'));
  chmodSync(dataDir, 0o755);

  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('OPENAI_') || name === 'DATABASE_URL' || name === 'STORAGE_URL')
      delete env[name];
  }
  Object.assign(env, {
    DATA_DIR: dataDir,
    LISTEN_ADDR: `127.0.0.1:${port}`,
    PUBLIC_URL: origin,
    WEB_DIR,
    RUST_LOG: process.env.RUST_LOG ?? 'info',
    ...extra,
  });

  const log = createWriteStream(logFile);
  const child = spawn(BINARY, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  let running = true;
  exited.then(() => (running = false));
  // If the test process exits or is interrupted, do not leave the service (and its
  // cluster) behind: SIGTERM makes it stop the cluster too.
  const killOnExit = () => running && child.kill('SIGTERM');
  const onSignal = (signal) => {
    killOnExit();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  async function stop() {
    process.removeListener('exit', killOnExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (running) {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited, sleep(30_000).then(() => null)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
    return exited;
  }

  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (!running)
        throw new Error(
          `imagegraph exited before it was ready (${JSON.stringify(await exited)}); see ${logFile}`,
        );
      if (Date.now() > deadline)
        throw new Error(`imagegraph was not ready within 180 s; see ${logFile}`);
      try {
        const response = await fetch(`${origin}/readyz`);
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    return { origin, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
