import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_NODE_FLAGS } from './node-flags.js';

/**
 * The broker as a real OS process: run from source through tsx (no build needed) and as
 * the esbuild bundle. Ports are all 0; the startup log line says which one was bound.
 */
const APP_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCE_CMD = ['--conditions=@streambus/source', '--import', 'tsx', join(APP_DIR, 'src/main.ts')];
const STARTUP_TIMEOUT_MS = 20_000;
const SHUTDOWN_TIMEOUT_MS = 5_000;

interface Running {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly stdout: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'streambus-proc-'));
  dirs.push(dir);
  return join(dir, 'data');
}

function brokerArgs(dataDir: string, extra: string[] = []): string[] {
  return ['--data-dir', dataDir, '--http-host', '127.0.0.1', '--http-port', '0', '--shutdown-timeout-ms', String(SHUTDOWN_TIMEOUT_MS), ...extra];
}

function launch(nodeArgs: string[], args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: { stdout: string; stderr: string }; exited: Running['exited'] } {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: APP_DIR, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

async function startBroker(nodeArgs: string[], args: string[]): Promise<Running> {
  const { child, output, exited } = launch(nodeArgs, args);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const line = output.stdout.split('\n').find((l) => l.includes('"msg":"broker started"'));
    if (line !== undefined) {
      const parsed = JSON.parse(line) as { http: { port: number } };
      return { child, httpPort: parsed.http.port, stdout: () => output.stdout, exited };
    }
    if (child.exitCode !== null) throw new Error(`broker exited ${child.exitCode}: ${output.stdout}${output.stderr}`);
    if (Date.now() > deadline) throw new Error(`broker did not start within ${STARTUP_TIMEOUT_MS} ms: ${output.stdout}${output.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

async function stopWithSigterm(running: Running): Promise<{ code: number | null; elapsedMs: number }> {
  const sentAt = performance.now();
  running.child.kill('SIGTERM');
  const { code } = await running.exited;
  return { code, elapsedMs: performance.now() - sentAt };
}

describe('broker process (from source)', () => {
  it('serves health and metrics, becomes ready once it leads its own metadata log, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDataDir();
    const broker = await startBroker(SOURCE_CMD, brokerArgs(dataDir, ['--broker-id', '4']));

    expect(await get(broker.httpPort, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    // A lone broker elects itself, initializes the cluster and registers; until then /readyz says why not.
    let ready = await get(broker.httpPort, '/readyz');
    const readyDeadline = Date.now() + 10_000;
    while (ready.status !== 200 && Date.now() < readyDeadline) {
      expect(ready.status).toBe(503);
      expect(typeof (JSON.parse(ready.body) as { reason: unknown }).reason).toBe('string');
      await new Promise((resolve) => setTimeout(resolve, 50));
      ready = await get(broker.httpPort, '/readyz');
    }
    expect(ready).toEqual({ status: 200, body: '{"status":"ready"}' });
    const metrics = (await get(broker.httpPort, '/metrics')).body;
    for (const name of ['streambus_request_duration_seconds histogram', 'streambus_bytes_in_total counter', 'streambus_partitions gauge', 'streambus_raft_term gauge', 'nodejs_eventloop_lag_p99_seconds gauge', 'process_resident_memory_bytes gauge']) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
    expect(metrics).toContain('streambus_broker_info{broker_id="4"');

    const startLine = JSON.parse(broker.stdout().split('\n').find((l) => l.includes('broker started')) ?? '{}') as Record<string, unknown>;
    expect(startLine).toMatchObject({ level: 'info', brokerId: 4 });
    expect(startLine).toHaveProperty('readiness.ready');
    // Started without BROKER_NODE_FLAGS: one warning names what is missing.
    const flagWarning = JSON.parse(broker.stdout().split('\n').find((l) => l.includes('node started without')) ?? '{}') as Record<string, unknown>;
    expect(flagWarning).toMatchObject({ level: 'warn', missing: [...BROKER_NODE_FLAGS] });

    // A second broker on the same data dir is refused with the lock error.
    const second = launch(SOURCE_CMD, brokerArgs(dataDir, ['--broker-id', '4']));
    const secondExit = await second.exited;
    expect(secondExit.code).toBe(3);
    expect(second.output.stdout).toContain('DATA_DIR_LOCKED');
    expect(second.output.stdout).toContain('two brokers must never share a data dir');
    expect((await get(broker.httpPort, '/healthz')).status).toBe(200);

    const stop = await stopWithSigterm(broker);
    expect(stop.code).toBe(0);
    expect(stop.elapsedMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(broker.stdout()).toContain('"msg":"stopped cleanly"');
    expect(existsSync(join(dataDir, '.lock'))).toBe(false);
  });

  it('restarts on the same data dir after SIGKILL (stale lock taken over)', async () => {
    const dataDir = tempDataDir();
    const first = await startBroker(SOURCE_CMD, brokerArgs(dataDir));
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(join(dataDir, '.lock'))).toBe(true);
    const second = await startBroker(SOURCE_CMD, brokerArgs(dataDir));
    expect((await get(second.httpPort, '/healthz')).status).toBe(200);
    expect((await stopWithSigterm(second)).code).toBe(0);
  });

  it('exits 2 on bad flags, env vars and unknown options, naming each', async () => {
    const badFlag = launch(SOURCE_CMD, ['--client-port', 'ninety', '--log-level=loud']);
    const unknown = launch(SOURCE_CMD, ['--clinet-port', '1']);
    const badEnv = launch(SOURCE_CMD, [], { STREAMBUS_SESSION_TIMEOUT_MS: '-5' });
    const [badFlagExit, unknownExit, badEnvExit] = await Promise.all([badFlag.exited, unknown.exited, badEnv.exited]);

    expect(badFlagExit.code).toBe(2);
    expect(badFlag.output.stderr).toContain('--client-port="ninety" is invalid');
    expect(badFlag.output.stderr).toContain('--log-level="loud" is invalid');
    expect(unknownExit.code).toBe(2);
    expect(unknown.output.stderr).toContain('unknown option --clinet-port');
    expect(badEnvExit.code).toBe(2);
    expect(badEnv.output.stderr).toContain('STREAMBUS_SESSION_TIMEOUT_MS="-5" (env, for --session-timeout-ms)');
  });

  it('prints help and exits 0', async () => {
    const help = launch(SOURCE_CMD, ['--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.output.stdout).toContain('--replica-lag-ms-max');
  });
});

describe('broker process (esbuild bundle)', () => {
  // Inside apps/broker so the bundle finds its npm dependencies in node_modules above it.
  const outDir = join(APP_DIR, 'dist', `test-${process.pid}`);
  beforeAll(() => {
    const build = spawnSync(process.execPath, [join(APP_DIR, 'build.mjs'), outDir], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('starts from dist/main.js with a YAML config file, serves /healthz and stops on SIGTERM', async () => {
    const dataDir = tempDataDir();
    const configFile = join(dirname(dataDir), 'broker.yaml');
    // The file sets the http host; the flags from brokerArgs override its port.
    writeFileSync(configFile, 'brokerId: 5\nlisteners:\n  http: { host: 127.0.0.1, port: 1 }\n');
    const broker = await startBroker([...BROKER_NODE_FLAGS, join(outDir, 'main.js')], brokerArgs(dataDir, ['--config', configFile]));
    expect(broker.stdout()).toContain('"brokerId":5');
    expect(broker.stdout()).not.toContain('node started without');
    expect((await get(broker.httpPort, '/healthz')).status).toBe(200);
    expect((await get(broker.httpPort, '/readyz')).status).toBe(503);
    expect((await stopWithSigterm(broker)).code).toBe(0);
  });
});
