// `npm start`: a local 3-broker StreamBus cluster on loopback for development. Bundled as
// dist/dev-cluster.js next to dist/main.js, which it spawns once per broker; run from source
// (tsx) it spawns src/main.ts the same way. Data stays under .streambus/dev at the repo root,
// so a restart keeps every topic and record.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKER_NODE_FLAGS } from './node-flags.js';

/** Exit codes of the launcher (the broker's own codes are in errors.ts). */
export const DevExitCode = { ok: 0, failure: 1, badArgs: 2 } as const;

export interface DevClusterOptions {
  /** Broker processes; ids 1..brokers, the first min(brokers, 3) are Raft voters. */
  readonly brokers: number;
  readonly host: string;
  /** Client port of broker 1; broker n uses basePort + (n-1) * portStep, peer +1, http +2. */
  readonly basePort: number;
  readonly portStep: number;
  /** Parent of broker-N data dirs and broker-N.log files. */
  readonly dataDir: string;
  /** Give up when not every broker is ready after this long. */
  readonly readyTimeoutMs: number;
  /** Budget for all brokers' graceful stop; past it they are killed and the exit code is 1. */
  readonly stopTimeoutMs: number;
  /** Extra flags for every broker (after `--`). */
  readonly brokerArgs: readonly string[];
}

export interface DevBroker {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly logFile: string;
}

const BROKERS_MAX = 9;
const VOTERS_MAX = 3;
const READY_POLL_MS = 200;
const READY_PROBE_TIMEOUT_MS = 1_000;

export const DEV_CLUSTER_HELP = `Usage: dev-cluster [options] [-- broker flags...]

Starts a local StreamBus cluster on loopback and keeps it running until Ctrl-C.
Data persists under the data dir; delete it to start fresh.

  --brokers <n>            Broker processes, 1-${BROKERS_MAX} (env STREAMBUS_DEV_BROKERS)      [default: 3]
  --host <addr>            Bind and advertised host (env STREAMBUS_DEV_HOST)       [default: 127.0.0.1]
  --base-port <port>       Client port of broker 1 (env STREAMBUS_DEV_BASE_PORT)  [default: 9092]
  --port-step <n>          Port distance between brokers (env STREAMBUS_DEV_PORT_STEP) [default: 100]
                           Broker n: client base+(n-1)*step, peer +1, http +2.
  --data-dir <dir>         Parent of broker-N dirs (env STREAMBUS_DEV_DATA_DIR)    [default: <repo>/.streambus/dev]
  --ready-timeout-ms <ms>  Wait this long for every /readyz                       [default: 60000]
  --stop-timeout-ms <ms>   Graceful stop budget after Ctrl-C                      [default: 30000]
  --help                   Show this help
`;

export class DevClusterArgsError extends Error {
  override readonly name = 'DevClusterArgsError';
  readonly code = 'DEV_ARGS_INVALID';
  readonly retriable = false;
}

/** Flags > env > defaults. Throws DevClusterArgsError naming the bad value. */
export function parseDevClusterArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, repoRoot: string): DevClusterOptions | 'help' {
  const split = argv.indexOf('--');
  const own = split === -1 ? [...argv] : argv.slice(0, split);
  const brokerArgs = split === -1 ? [] : argv.slice(split + 1);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: own,
      strict: true,
      allowPositionals: false,
      options: {
        brokers: { type: 'string' },
        host: { type: 'string' },
        'base-port': { type: 'string' },
        'port-step': { type: 'string' },
        'data-dir': { type: 'string' },
        'ready-timeout-ms': { type: 'string' },
        'stop-timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new DevClusterArgsError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (values.help === true) return 'help';
  const pick = (flag: string, envName: string, fallback: string): string => {
    const v = values[flag];
    return typeof v === 'string' ? v : (env[envName] ?? fallback);
  };
  const int = (flag: string, envName: string, fallback: number, min: number, max: number): number => {
    const text = pick(flag, envName, String(fallback));
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new DevClusterArgsError(`--${flag} (or ${envName}) must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return n;
  };
  const brokers = int('brokers', 'STREAMBUS_DEV_BROKERS', 3, 1, BROKERS_MAX);
  const basePort = int('base-port', 'STREAMBUS_DEV_BASE_PORT', 9092, 1, 65_535);
  const portStep = int('port-step', 'STREAMBUS_DEV_PORT_STEP', 100, 3, 10_000);
  const highest = basePort + (brokers - 1) * portStep + 2;
  if (highest > 65_535) throw new DevClusterArgsError(`ports run past 65535 (broker ${brokers} http port would be ${highest}); lower --base-port or --port-step`);
  const host = pick('host', 'STREAMBUS_DEV_HOST', '127.0.0.1');
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw new DevClusterArgsError(`--host must be a host name or IP address, got ${JSON.stringify(host)}`);
  const dataDirText = pick('data-dir', 'STREAMBUS_DEV_DATA_DIR', join(repoRoot, '.streambus', 'dev'));
  return {
    brokers,
    host,
    basePort,
    portStep,
    dataDir: isAbsolute(dataDirText) ? dataDirText : resolve(dataDirText),
    readyTimeoutMs: int('ready-timeout-ms', 'STREAMBUS_DEV_READY_TIMEOUT_MS', 60_000, 1, 3_600_000),
    stopTimeoutMs: int('stop-timeout-ms', 'STREAMBUS_DEV_STOP_TIMEOUT_MS', 30_000, 1, 3_600_000),
    brokerArgs,
  };
}

/** Ports, dirs and log files of each broker. */
export function planBrokers(options: DevClusterOptions): DevBroker[] {
  return Array.from({ length: options.brokers }, (_, i) => {
    const id = i + 1;
    const clientPort = options.basePort + i * options.portStep;
    return { id, clientPort, peerPort: clientPort + 1, httpPort: clientPort + 2, dataDir: join(options.dataDir, `broker-${id}`), logFile: join(options.dataDir, `broker-${id}.log`) };
  });
}

/** Broker flags for one broker of the plan. */
export function brokerFlags(options: DevClusterOptions, plan: readonly DevBroker[], broker: DevBroker): string[] {
  const voters = plan
    .slice(0, VOTERS_MAX)
    .map((b) => `${b.id}@${options.host}:${b.peerPort}`)
    .join(',');
  return [
    '--broker-id', String(broker.id),
    '--cluster-id', 'streambus-dev',
    '--data-dir', broker.dataDir,
    '--client-host', options.host, '--client-port', String(broker.clientPort),
    '--peer-host', options.host, '--peer-port', String(broker.peerPort),
    '--http-host', options.host, '--http-port', String(broker.httpPort),
    '--bootstrap-voters', voters,
    ...options.brokerArgs,
  ];
}

/**
 * A broker log line worth showing on the terminal: warnings and worse, or anything that is
 * not a JSON log line (a crash trace). Returns the text to print, or undefined.
 */
export function forwardedLine(line: string): string | undefined {
  if (line.trim() === '') return undefined;
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
    const level = entry.level;
    const serious = level === 'warn' || level === 'error' || level === 'fatal' || (typeof level === 'number' && level >= 40);
    if (!serious) return undefined;
    const msg = typeof entry.msg === 'string' ? entry.msg : '';
    const err = typeof entry.err?.message === 'string' ? `: ${entry.err.message}` : '';
    return `${typeof level === 'string' ? level.toUpperCase() : `level ${String(level)}`} ${msg}${err}`;
  } catch {
    return line;
  }
}

interface Running {
  readonly broker: DevBroker;
  readonly child: ChildProcess;
  readonly log: WriteStream;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface DevClusterIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The command that starts one broker: the bundle's main.js, or src/main.ts through tsx. */
function brokerCommand(here: string): string[] {
  if (import.meta.url.endsWith('.ts')) return [...BROKER_NODE_FLAGS, '--conditions=@streambus/source', '--import', 'tsx', join(here, 'main.ts')];
  return [...BROKER_NODE_FLAGS, '--enable-source-maps', join(here, 'main.js')];
}

/**
 * Runs the cluster until SIGINT/SIGTERM (or a broker dies), then stops every broker with
 * SIGTERM and resolves with the exit code: 0 when every broker stopped cleanly.
 */
export async function runDevCluster(options: DevClusterOptions, io: DevClusterIo): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const plan = planBrokers(options);
  mkdirSync(options.dataDir, { recursive: true });
  const running: Running[] = plan.map((broker) => startBroker(here, options, plan, broker, io));
  // Brokers are detached; never leave them behind when the launcher exits some other way.
  const killLeftovers = (): void => {
    for (const r of running) if (r.exit === undefined) r.child.kill('SIGKILL');
  };
  process.once('exit', killLeftovers);

  let stopRequested: (reason: string) => void = () => undefined;
  const stopSignal = new Promise<string>((r) => (stopRequested = r));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      io.stderr(`dev-cluster: second ${signal}: killing brokers\n`);
      for (const r of running) if (r.exit === undefined) r.child.kill('SIGKILL');
      return;
    }
    stopRequested(`received ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  for (const r of running) {
    void r.exited.then((e) => {
      if (signals === 0) stopRequested(`broker ${r.broker.id} exited unexpectedly (${e.signal ?? `code ${e.code}`}); see ${r.broker.logFile}`);
    });
  }

  let failed = false;
  try {
    const polling = new AbortController();
    const ready = await Promise.race([waitAllReady(options, running, polling.signal), stopSignal.then((reason) => ({ stopped: reason }))]).finally(() => polling.abort());
    if ('stopped' in ready) {
      failed = !ready.stopped.startsWith('received');
      io.stderr(`dev-cluster: stopping before ready: ${ready.stopped}\n`);
    } else if (!ready.ok) {
      failed = true;
      io.stderr(`dev-cluster: not every broker became ready within ${options.readyTimeoutMs} ms:\n${ready.reasons.map((r) => `  ${r}`).join('\n')}\n`);
    } else {
      io.stdout(readyBanner(options, plan));
      const reason = await stopSignal;
      failed = !reason.startsWith('received');
      io.stderr(`dev-cluster: ${reason}; stopping brokers\n`);
    }
  } finally {
    const clean = await stopAll(running, options.stopTimeoutMs);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killLeftovers);
    if (!clean) failed = true;
  }
  io.stdout(failed ? 'dev-cluster: stopped with errors\n' : 'dev-cluster: stopped cleanly; data kept in ' + options.dataDir + '\n');
  return failed ? DevExitCode.failure : DevExitCode.ok;
}

function startBroker(here: string, options: DevClusterOptions, plan: readonly DevBroker[], broker: DevBroker, io: DevClusterIo): Running {
  mkdirSync(broker.dataDir, { recursive: true });
  const log = createWriteStream(broker.logFile, { flags: 'a' });
  // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops each
  // broker exactly once (a broker treats a second signal as "force exit").
  const child = spawn(process.execPath, [...brokerCommand(here), ...brokerFlags(options, plan, broker)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = `[broker-${broker.id}] `;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('error', (err) => {
      io.stderr(`${prefix}could not start: ${err.message}\n`);
      resolveExit({ code: DevExitCode.failure, signal: null });
    });
    child.once('close', (code, signal) => resolveExit({ code, signal }));
  });
  const r: Running = { broker, child, log, exited, exit: undefined };
  void exited.then((e) => {
    r.exit = e;
    log.end();
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      log.write(`${line}\n`);
      const shown = forwardedLine(line);
      if (shown !== undefined) io.stderr(`${prefix}${shown}\n`);
    });
  }
  return r;
}

/** Polls every /readyz until all answer 200, the deadline passes, or `signal` aborts (a stop won the race). */
async function waitAllReady(options: DevClusterOptions, running: readonly Running[], signal: AbortSignal): Promise<{ ok: true } | { ok: false; reasons: string[] }> {
  const deadline = Date.now() + options.readyTimeoutMs;
  const last = new Map<number, string>();
  while (!signal.aborted) {
    const states = await Promise.all(
      running.map(async (r) => {
        if (r.exit !== undefined) return false;
        try {
          const res = await fetch(`http://${options.host}:${r.broker.httpPort}/readyz`, { signal: AbortSignal.timeout(READY_PROBE_TIMEOUT_MS) });
          last.set(r.broker.id, `${res.status} ${await res.text()}`);
          return res.status === 200;
        } catch (err) {
          last.set(r.broker.id, err instanceof Error ? err.message : String(err));
          return false;
        }
      }),
    );
    if (states.every(Boolean)) return { ok: true };
    if (Date.now() >= deadline) return { ok: false, reasons: running.map((r) => `broker ${r.broker.id}: ${last.get(r.broker.id) ?? 'no answer'} (log: ${r.broker.logFile})`) };
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  return { ok: false, reasons: ['stopped while waiting'] };
}

function readyBanner(options: DevClusterOptions, plan: readonly DevBroker[]): string {
  const lines = [
    `StreamBus dev cluster ready: ${plan.length} broker(s), data in ${options.dataDir}`,
    `  bootstrap: ${plan.map((b) => `${options.host}:${b.clientPort}`).join(',')}`,
    ...plan.map((b) => `  broker ${b.id}: client ${options.host}:${b.clientPort}  peer ${options.host}:${b.peerPort}  metrics http://${options.host}:${b.httpPort}/metrics  log ${b.logFile}`),
    'Press Ctrl-C to stop; data is kept for the next start.',
    '',
  ];
  return lines.join('\n');
}

/** SIGTERM to every running broker; SIGKILL past the budget. True when all exited with 0. */
async function stopAll(running: readonly Running[], stopTimeoutMs: number): Promise<boolean> {
  for (const r of running) if (r.exit === undefined) r.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const r of running) if (r.exit === undefined) r.child.kill('SIGKILL');
  }, stopTimeoutMs);
  try {
    const exits = await Promise.all(running.map((r) => r.exited));
    return exits.every((e) => e.code === 0);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  let options: DevClusterOptions | 'help';
  try {
    options = parseDevClusterArgs(process.argv.slice(2), process.env, repoRoot);
  } catch (err) {
    if (!(err instanceof DevClusterArgsError)) throw err;
    process.stderr.write(`dev-cluster: ${err.message}\nRun with --help to list options.\n`);
    process.exitCode = DevExitCode.badArgs;
    return;
  }
  if (options === 'help') {
    process.stdout.write(DEV_CLUSTER_HELP);
    return;
  }
  process.exitCode = await runDevCluster(options, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
}

// Runs only as the entry point (dist/dev-cluster.js or src/dev-cluster.ts), not when imported by tests.
const entry = process.argv[1] === undefined ? '' : resolve(process.argv[1]);
if (entry === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`dev-cluster: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(DevExitCode.failure);
  });
}
