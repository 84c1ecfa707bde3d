// A real StreamBus cluster for end-to-end tests: N broker processes on random loopback ports
// with temp data dirs, started from the esbuild bundle (a bundle starts several times faster
// than tsx compiling the sources in every process), with short timeouts so elections and
// fencing happen within a test's budget.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type StreamBusClient } from '@streambus/protocol';
import { freePort, startProcess, tempDir, type ExitStatus, type ProcessHandle, type TempDir } from '@streambus/testkit';
import { beforeEach } from 'vitest';
import { sleep, waitFor } from './wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BROKER_APP_DIR = join(REPO_ROOT, 'apps/broker');

/**
 * Broker flags that shorten every failure-detection timeout for tests, and make WAL segments
 * small: each broker start zero-fills a spare segment (ADR 0010), and a suite starts many.
 */
export const TEST_BROKER_ARGS: readonly string[] = [
  '--wal-segment-bytes', '16MiB',
  '--raft-tick-ms', '50',
  '--raft-election-ticks', '10',
  '--heartbeat-interval-ms', '200',
  '--session-timeout-ms', '1000',
  '--replica-fetch-wait-ms-max', '200',
  '--shutdown-timeout-ms', '10000',
];

const BUILD_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS_DEFAULT = 30_000;
const STOP_GRACE_MS = 10_000;

let bundle: Promise<string> | undefined;

/**
 * Builds apps/broker into a directory of its own under apps/broker/dist (gitignored; the
 * bundle's npm imports resolve from node_modules above it) once per test process, and
 * removes it when the process exits. Resolves with the directory holding main.js.
 */
export function brokerBundle(): Promise<string> {
  bundle ??= buildBundle();
  return bundle;
}

/** Bundles left by test processes that are gone (vitest may end a worker without 'exit' hooks). */
function removeStaleBundles(): void {
  const dist = join(BROKER_APP_DIR, 'dist');
  let names: string[];
  try {
    names = readdirSync(dist);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^e2e-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    rmSync(join(dist, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildBundle(): Promise<string> {
  removeStaleBundles();
  const outdir = join(BROKER_APP_DIR, 'dist', `e2e-${process.pid}-${randomBytes(4).toString('hex')}`);
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [join(BROKER_APP_DIR, 'build.mjs'), outdir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`building the broker bundle failed (exit ${code}):\n${stderr}`);
  return outdir;
}

export interface ClusterOptions {
  /** Broker processes; ids are 1..brokers. */
  readonly brokers?: number;
  /** The first `voters` brokers are Raft voters, the rest learners (default: min(brokers, 3)). */
  readonly voters?: number;
  readonly env?: Record<string, string | undefined>;
  /** Extra broker flags, after TEST_BROKER_ARGS (a later flag wins). */
  readonly args?: readonly string[];
  /** Node flags of the broker processes (default: the broker's own BROKER_NODE_FLAGS). */
  readonly nodeArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** Prefix of the temp dir, for finding it with STREAMBUS_KEEP_TMP=1. */
  readonly name?: string;
}

export interface BrokerNode {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly httpPort: number;
  /** host:port for createClient. */
  readonly clientAddress: string;
  readonly dataDir: string;
  readonly voter: boolean;
  /** The running process, undefined while the broker is down. */
  readonly process: ProcessHandle | undefined;
}

interface MutableNode {
  id: number;
  clientPort: number;
  peerPort: number;
  httpPort: number;
  clientAddress: string;
  dataDir: string;
  voter: boolean;
  process: ProcessHandle | undefined;
  /** Output of earlier incarnations, kept for failure reports. */
  pastOutput: string[];
}

export interface TestCluster {
  readonly brokers: readonly BrokerNode[];
  /** Client addresses of all brokers (a bootstrap list). */
  readonly addresses: readonly string[];
  readonly root: string;
  /** Broker by id (1-based). */
  broker(id: number): BrokerNode;
  /** A cached protocol client for broker `id`. */
  client(id: number): StreamBusClient;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(id: number, signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Starts a stopped broker again with the same data dir and ports; waits for /readyz. */
  restart(id: number): Promise<void>;
  /** SIGSTOP. */
  pause(id: number): void;
  /** SIGCONT. */
  resume(id: number): void;
  /** Id of the Raft metadata leader, as DescribeCluster on a running broker reports it. */
  leaderOfMetadata(options?: { timeoutMs?: number; exclude?: readonly number[] }): Promise<number>;
  /** Waits until /readyz of broker `id` answers 200. */
  waitReady(id: number, timeoutMs?: number): Promise<void>;
  /** Last lines of a broker's output (all incarnations). */
  logs(id: number, lines?: number): string;
  /** Every broker's last lines, for failure reports. */
  allLogs(lines?: number): string;
  /** Stops every broker (SIGTERM, then SIGKILL), closes clients, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Attempts at starting a cluster when a port picked by freePort was taken meanwhile. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Starts a cluster and waits until every broker is ready; cleans up whatever started on
 * failure. freePort's ports come from the ephemeral range, so another process (a parallel
 * test file, an outgoing connection) can take one before the broker binds it: such a start
 * is retried on fresh ports.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (err) {
      const portRace = err instanceof Error && err.message.includes('EADDRINUSE');
      if (!portRace || attempt >= PORT_RACE_ATTEMPTS) throw err;
    }
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port p from freePort with p+1 and p+2 free too. Brokers use client, peer = client+1,
 * http = client+2, as the dev cluster does: a learner's peer port is derived from its
 * registered client port by the same offset the other brokers use.
 */
async function freePortTriple(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const p = await freePort();
    if (p + 2 <= 65_535 && (await portFree(p + 1)) && (await portFree(p + 2))) return p;
  }
  throw new Error('no three consecutive free ports found');
}

async function startClusterOnce(options: ClusterOptions): Promise<TestCluster> {
  const count = options.brokers ?? 3;
  const voterCount = options.voters ?? Math.min(count, 3);
  if (!(Number.isInteger(count) && count >= 1 && count <= 9)) throw new Error(`brokers must be 1..9, got ${count}`);
  if (!(Number.isInteger(voterCount) && voterCount >= 1 && voterCount <= count)) throw new Error(`voters must be 1..${count}, got ${voterCount}`);
  const [dir, outdir] = await Promise.all([tempDir(`${options.name ?? 'e2e'}-`), brokerBundle()]);
  const nodes: MutableNode[] = [];
  for (let id = 1; id <= count; id++) {
    const clientPort = await freePortTriple();
    const [peerPort, httpPort] = [clientPort + 1, clientPort + 2];
    nodes.push({ id, clientPort, peerPort, httpPort, clientAddress: `127.0.0.1:${clientPort}`, dataDir: join(dir.path, `broker-${id}`), voter: id <= voterCount, process: undefined, pastOutput: [] });
  }
  // The flags every launcher passes (V8 heap sizing), read from the bundle just built.
  const nodeArgs = options.nodeArgs ?? ((await import(join(outdir, 'node-flags.js'))) as { BROKER_NODE_FLAGS: readonly string[] }).BROKER_NODE_FLAGS;
  const cluster = new Cluster(nodes, dir, join(outdir, 'main.js'), { ...options, nodeArgs });
  try {
    await Promise.all(nodes.map((n) => cluster.spawn(n)));
    await Promise.all(nodes.map((n) => cluster.waitReady(n.id, options.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT)));
  } catch (err) {
    const logs = cluster.allLogs(60);
    await cluster.stop();
    throw new Error(`cluster did not start: ${err instanceof Error ? err.message : String(err)}\n${logs}`, { cause: err });
  }
  return cluster;
}

class Cluster implements TestCluster {
  private readonly clients = new Map<number, StreamBusClient>();
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly nodes: MutableNode[],
    private readonly dir: TempDir,
    private readonly mainJs: string,
    private readonly options: ClusterOptions,
  ) {}

  get brokers(): readonly BrokerNode[] {
    return this.nodes;
  }

  get addresses(): readonly string[] {
    return this.nodes.map((n) => n.clientAddress);
  }

  get root(): string {
    return this.dir.path;
  }

  broker(id: number): BrokerNode {
    return this.node(id);
  }

  private node(id: number): MutableNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no broker ${id} in a cluster of ${this.nodes.length}`);
    return n;
  }

  async spawn(n: MutableNode): Promise<void> {
    if (n.process !== undefined && n.process.exitStatus === undefined) throw new Error(`broker ${n.id} is already running`);
    const voters = this.nodes.filter((v) => v.voter).map((v) => `${v.id}@127.0.0.1:${v.peerPort}`).join(',');
    const args = [
      ...(this.options.nodeArgs ?? []),
      '--enable-source-maps',
      this.mainJs,
      '--broker-id', String(n.id),
      '--cluster-id', 'e2e',
      '--data-dir', n.dataDir,
      '--client-host', '127.0.0.1', '--client-port', String(n.clientPort),
      '--peer-host', '127.0.0.1', '--peer-port', String(n.peerPort),
      '--http-host', '127.0.0.1', '--http-port', String(n.httpPort),
      '--bootstrap-voters', voters,
      ...TEST_BROKER_ARGS,
      ...(this.options.args ?? []),
    ];
    if (n.process !== undefined) n.pastOutput.push(n.process.output(200));
    n.process = await startProcess({ command: process.execPath, args, env: this.options.env ?? {}, cwd: REPO_ROOT, name: `broker-${n.id}`, outputLinesMax: 2_000 });
  }

  client(id: number): StreamBusClient {
    let c = this.clients.get(id);
    if (c === undefined) {
      // Fast keepalive so a killed broker's channel notices quickly.
      c = createClient(this.node(id).clientAddress, { keepaliveTimeMs: 2_000, keepaliveTimeoutMs: 1_000 });
      this.clients.set(id, c);
    }
    return c;
  }

  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
    const p = this.node(id).process;
    if (p === undefined) throw new Error(`broker ${id} was never started`);
    if (p.paused && signal !== 'SIGKILL') p.resume();
    p.kill(signal);
    this.dropClient(id);
    return p.waitExit(STOP_GRACE_MS * 2);
  }

  async restart(id: number): Promise<void> {
    const n = this.node(id);
    if (n.process !== undefined && n.process.exitStatus === undefined) throw new Error(`broker ${id} is still running; kill it first`);
    this.dropClient(id);
    // The old ports come from the ephemeral range: an outgoing connection may hold one for a
    // moment. Bounded retries on EADDRINUSE only.
    for (let attempt = 1; ; attempt++) {
      await this.spawn(n);
      try {
        await this.waitReady(id);
        return;
      } catch (err) {
        const portRace = err instanceof Error && err.message.includes('EADDRINUSE');
        if (!portRace || attempt >= PORT_RACE_ATTEMPTS) throw err;
        await sleep(500);
      }
    }
  }

  pause(id: number): void {
    this.requireProcess(id).pause();
  }

  resume(id: number): void {
    this.requireProcess(id).resume();
  }

  private requireProcess(id: number): ProcessHandle {
    const p = this.node(id).process;
    if (p === undefined || p.exitStatus !== undefined) throw new Error(`broker ${id} is not running`);
    return p;
  }

  private dropClient(id: number): void {
    this.clients.get(id)?.close();
    this.clients.delete(id);
  }

  async leaderOfMetadata(options: { timeoutMs?: number; exclude?: readonly number[] } = {}): Promise<number> {
    const exclude = new Set(options.exclude ?? []);
    let leader = 0;
    await waitFor(
      async () => {
        for (const n of this.nodes) {
          if (exclude.has(n.id) || n.process === undefined || n.process.exitStatus !== undefined || n.process.paused) continue;
          try {
            const r = await this.client(n.id).describeCluster({ includeFenced: true }, { timeoutMs: 1_000 });
            const id = r.metadataLeaderId;
            if (id !== undefined && id !== 0 && !exclude.has(id)) {
              leader = id;
              return true;
            }
          } catch {
            // This broker is not answering; ask the next.
          }
        }
        return false;
      },
      { timeoutMs: options.timeoutMs ?? 15_000, what: 'a metadata leader' },
    );
    return leader;
  }

  async waitReady(id: number, timeoutMs = READY_TIMEOUT_MS_DEFAULT): Promise<void> {
    const n = this.node(id);
    let last = 'no answer yet';
    await waitFor(
      async () => {
        const p = n.process;
        if (p === undefined) throw new Error(`broker ${id} is not started`);
        if (p.exitStatus !== undefined) throw new Error(`broker ${id} exited (${JSON.stringify(p.exitStatus)}) before it was ready\n${p.output(60)}`);
        try {
          const res = await fetch(`http://127.0.0.1:${n.httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
          last = `${res.status} ${await res.text()}`;
          return res.status === 200;
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
          return false;
        }
      },
      { timeoutMs, intervalMs: 50, what: () => `broker ${id} /readyz (last: ${last})` },
    );
  }

  logs(id: number, lines = 80): string {
    const n = this.node(id);
    const current = n.process?.output(lines) ?? '';
    return [...n.pastOutput, current].join('\n--- restarted ---\n').split('\n').slice(-lines).join('\n');
  }

  allLogs(lines = 80): string {
    return this.nodes.map((n) => `===== broker ${n.id} (${n.process?.exitStatus === undefined ? 'running' : `exited ${JSON.stringify(n.process.exitStatus)}`}) =====\n${this.logs(n.id, lines)}`).join('\n');
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    for (const id of [...this.clients.keys()]) this.dropClient(id);
    await Promise.all(
      this.nodes.map(async (n) => {
        const p = n.process;
        if (p === undefined || p.exitStatus !== undefined) return;
        await p.stop(STOP_GRACE_MS).catch(() => p.kill('SIGKILL'));
      }),
    );
    // Give the OS a moment to release the data dir lock files before removing the dir.
    await sleep(10);
    if (process.env.STREAMBUS_KEEP_TMP !== '1') await this.dir.cleanup();
  }
}

/**
 * Prints every broker's last log lines when a test of the enclosing suite fails, so a CI
 * failure shows what the brokers saw. Call at suite level.
 */
export function printLogsOnFailure(get: () => TestCluster | undefined, lines = 60): void {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const cluster = get();
      if (cluster !== undefined) process.stderr.write(`\n--- broker logs (last ${lines} lines each) ---\n${cluster.allLogs(lines)}\n`);
    });
  });
}
