// One real broker process for the SDK benchmark: apps/broker bundled with its own build
// script into a directory of ours under apps/broker/dist (its npm imports resolve from the
// node_modules above it), started on loopback ports picked just before, ready when /readyz
// answers 200. Removed again (bundle and data) when stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BROKER_APP_DIR = fileURLToPath(new URL('../../../apps/broker/', import.meta.url));
const BUILD_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_CHARS_MAX = 20_000;

export interface RealBroker {
  readonly clientAddress: string;
  readonly pid: number;
  /** Spawn → first 200 from /readyz. */
  readonly readyMs: number;
  /** The broker's last output (for failure reports), and how it exited if it did. */
  output(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** True when this checkout has the broker's build script (the bench runs in the monorepo). */
export function realBrokerAvailable(): boolean {
  return existsSync(join(BROKER_APP_DIR, 'build.mjs'));
}

async function buildBundle(outdir: string): Promise<void> {
  const child = spawn(process.execPath, [join(BROKER_APP_DIR, 'build.mjs'), outdir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = await waitExit(child, BUILD_TIMEOUT_MS);
  if (!done) child.kill('SIGKILL');
  if (child.exitCode !== 0) throw new Error(`building the broker failed (exit ${child.exitCode}): ${stderr}`);
}

export async function startRealBroker(): Promise<RealBroker> {
  const outdir = join(BROKER_APP_DIR, 'dist', `bench-client-${process.pid}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'streambus-client-bench-'));
  const cleanup = (): void => {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  await buildBundle(outdir);
  const [clientPort, peerPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  // The node flags the broker's own launchers pass (V8 heap sizing), from the bundle just built.
  const { BROKER_NODE_FLAGS } = (await import(join(outdir, 'index.js'))) as { BROKER_NODE_FLAGS: readonly string[] };
  const args = [
    ...BROKER_NODE_FLAGS,
    join(outdir, 'main.js'),
    ...['--broker-id', '1', '--data-dir', dataDir],
    ...['--client-host', '127.0.0.1', '--client-port', String(clientPort)],
    ...['--peer-host', '127.0.0.1', '--peer-port', String(peerPort)],
    ...['--http-host', '127.0.0.1', '--http-port', String(httpPort)],
    ...['--log-level', 'warn'],
  ];
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-OUTPUT_CHARS_MAX));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A bench that dies must not leave its broker running.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, STOP_GRACE_MS))) {
        child.kill('SIGKILL');
        await waitExit(child, STOP_GRACE_MS);
      }
    }
    process.off('exit', killOnExit);
    cleanup();
  };
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`broker exited (${child.exitCode ?? child.signalCode}): ${output}`);
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`broker not ready within ${READY_TIMEOUT_MS} ms: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const exitNote = (): string => (child.exitCode === null && child.signalCode === null ? 'running' : `exited ${child.exitCode ?? child.signalCode}`);
  return { clientAddress: `127.0.0.1:${clientPort}`, pid: child.pid ?? -1, readyMs: performance.now() - started, output: () => `broker ${exitNote()}\n${output}`, stop };
}
