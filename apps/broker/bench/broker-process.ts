// One real broker process for the benchmark: the bundled build, loopback ports picked just
// before the start, ready when /readyz answers 200.
import { join } from 'node:path';
import { freePort, startProcess, type ProcessHandle } from '@streambus/testkit';
import { BROKER_NODE_FLAGS } from '../src/node-flags.js';
import { envArgs, keepBrokerOutput, sleep } from './util.js';

/** Bound on spawn → /readyz; far above the 1 s target, so a slow start is measured, not failed. */
const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 5;
const STOP_GRACE_MS = 10_000;
/** Broker output lines kept in memory (for failure messages and BENCH_BROKER_OUTPUT). */
const OUTPUT_LINES_MAX = 20_000;

export interface BrokerProcess {
  readonly pid: number;
  readonly clientAddress: string;
  readonly httpPort: number;
  /** Spawn → first 200 from /readyz. */
  readonly readyMs: number;
  readonly handle: ProcessHandle;
  stop(): Promise<void>;
}

export interface BrokerStartOptions {
  readonly mainJs: string;
  readonly dataDir: string;
  readonly flushMode: 'always' | 'interval';
  readonly extraArgs?: readonly string[];
}

export async function startBroker(options: BrokerStartOptions): Promise<BrokerProcess> {
  const [clientPort, peerPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  // e.g. BENCH_BROKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the broker under load.
  const nodeArgs = envArgs('BENCH_BROKER_NODE_ARGS');
  const args = [
    ...BROKER_NODE_FLAGS,
    ...nodeArgs,
    options.mainJs,
    ...['--broker-id', '1', '--data-dir', join(options.dataDir, 'broker')],
    ...['--client-host', '127.0.0.1', '--client-port', String(clientPort)],
    ...['--peer-host', '127.0.0.1', '--peer-port', String(peerPort)],
    ...['--http-host', '127.0.0.1', '--http-port', String(httpPort)],
    ...['--flush-mode', options.flushMode, '--log-level', 'warn'],
    ...(options.extraArgs ?? []),
  ];
  const t0 = performance.now();
  const handle = await startProcess({ command: process.execPath, args, name: 'broker', outputLinesMax: OUTPUT_LINES_MAX });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (handle.exitStatus !== undefined) throw new Error(`broker exited ${JSON.stringify(handle.exitStatus)}: ${handle.output(40)}`);
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`broker not ready within ${READY_TIMEOUT_MS} ms: ${handle.output(40)}`);
      await sleep(READY_POLL_MS);
    }
  } catch (error) {
    await handle.stop(1_000);
    throw error;
  }
  const readyMs = performance.now() - t0;
  return {
    pid: handle.pid,
    clientAddress: `127.0.0.1:${clientPort}`,
    httpPort,
    readyMs,
    handle,
    stop: async () => {
      await handle.stop(STOP_GRACE_MS);
      keepBrokerOutput(handle.output(OUTPUT_LINES_MAX));
    },
  };
}

export interface BrokerMemory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Buffers and other memory outside the V8 heap. */
  readonly externalBytes: number;
}

/** The broker's own view of its memory, from /metrics. */
export async function brokerMemory(httpPort: number): Promise<BrokerMemory> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const gauge = (name: string): number => Number(new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+?\\d+)?)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rssBytes: gauge('process_resident_memory_bytes'),
    heapUsedBytes: gauge('nodejs_heap_size_used_bytes'),
    heapTotalBytes: gauge('nodejs_heap_size_total_bytes'),
    externalBytes: gauge('nodejs_external_memory_bytes'),
  };
}
