// One real broker process for the SDK benchmark: apps/broker bundled with its own build
// script into a directory of ours under apps/broker/dist (its npm imports resolve from the
// node_modules above it), started on loopback ports picked just before, ready when /readyz
// answers 200. Removed again (bundle and data) when stopped.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, tempDir } from '@streambus/testkit';

const BROKER_APP_DIR = fileURLToPath(new URL('../../../apps/broker/', import.meta.url));
const BUILD_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_LINES_MAX = 400;

export interface RealBroker {
  readonly clientAddress: string;
  readonly pid: number;
  /** Spawn → first 200 from /readyz. */
  readonly readyMs: number;
  /** The broker's last output (for failure reports), and how it exited if it did. */
  output(): string;
  stop(): Promise<void>;
}

/** True when this checkout has the broker's build script (the bench runs in the monorepo). */
export function realBrokerAvailable(): boolean {
  return existsSync(join(BROKER_APP_DIR, 'build.mjs'));
}

export async function startRealBroker(): Promise<RealBroker> {
  const outdir = join(BROKER_APP_DIR, 'dist', `bench-client-${process.pid}`);
  const removeBundle = (): void => rmSync(outdir, { recursive: true, force: true });
  process.once('exit', removeBundle);
  const build = spawnSync(process.execPath, [join(BROKER_APP_DIR, 'build.mjs'), outdir], { encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  if (build.status !== 0) throw new Error(`building the broker failed (exit ${build.status ?? build.signal}): ${build.stderr}`);
  const dataDir = await tempDir('streambus-client-bench-');
  const [clientPort, peerPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  // The node flags the broker's own launchers pass (V8 heap sizing), from the bundle just built.
  const { BROKER_NODE_FLAGS } = (await import(join(outdir, 'node-flags.js'))) as { BROKER_NODE_FLAGS: readonly string[] };
  const args = [
    ...BROKER_NODE_FLAGS,
    join(outdir, 'main.js'),
    ...['--broker-id', '1', '--data-dir', dataDir.path],
    ...['--client-host', '127.0.0.1', '--client-port', String(clientPort)],
    ...['--peer-host', '127.0.0.1', '--peer-port', String(peerPort)],
    ...['--http-host', '127.0.0.1', '--http-port', String(httpPort)],
    ...['--log-level', 'warn'],
  ];
  const started = performance.now();
  const child = await startProcess({ command: process.execPath, args, name: 'broker', outputLinesMax: OUTPUT_LINES_MAX });
  const output = (): string => `broker ${child.exitStatus === undefined ? 'running' : `exited ${JSON.stringify(child.exitStatus)}`}\n${child.output(OUTPUT_LINES_MAX)}`;
  const stop = async (): Promise<void> => {
    await child.stop(STOP_GRACE_MS);
    await dataDir.cleanup();
    removeBundle();
  };
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (child.exitStatus !== undefined) throw new Error(`broker exited: ${output()}`);
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`broker not ready within ${READY_TIMEOUT_MS} ms: ${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { clientAddress: `127.0.0.1:${clientPort}`, pid: child.pid, readyMs: performance.now() - started, output, stop };
}
