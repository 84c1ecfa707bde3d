import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { FakeBroker } from '@streambus/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Io } from './io.js';
import { runCli } from './program.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'busctl-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], options: { env?: Record<string, string>; stdin?: string | Readable; tty?: boolean; signal?: AbortSignal } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: async (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stdin: options.stdin instanceof Readable ? options.stdin : Readable.from([options.stdin ?? '']),
    env: { BUSCTL_CONFIG: join(dir, 'busctl.yaml'), ...options.env },
    stdoutIsTty: options.tty ?? false,
    stderrIsTty: options.tty ?? false,
    signal: options.signal ?? new AbortController().signal,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

describe('usage errors exit 2 with a hint', () => {
  it.each([
    [['frobnicate']],
    [['topic']],
    [['topic', 'create']],
    [['topic', 'create', 'x', '--partitions', 'many']],
    [['topic', 'add-partitions', 'x']],
    [['consume', 't', '--fetch-mode', 'carrier-pigeon']],
    [['produce', 't', '--acks', '2']],
    [['cluster', 'info', '--format', 'xml']],
    [['cluster', 'info', '--brokers', 'no-port']],
    [['cluster', 'info', '--unknown-flag']],
    [['consume', 't', '--from', 'yesterday', '--brokers', '127.0.0.1:1']],
    [['bench', 'produce', '--record-size', '2', '--brokers', '127.0.0.1:1']],
    [['topic', 'alter-config', 'x', '--brokers', '127.0.0.1:1']],
    [['profile', 'set', 'bad name', '--profile-brokers', 'h:1']],
  ])('%j', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^busctl: .+\nRun 'busctl --help'/);
    expect(r.stdout).toBe('');
  });
});

describe('profiles (no cluster needed)', () => {
  it('set, list as json and yaml, use, delete', async () => {
    expect((await run(['profile', 'set', 'a', '--profile-brokers', 'h1:1,h2:2'])).code).toBe(0);
    expect((await run(['profile', 'set', 'b', '--profile-brokers', 'h3:3', '--use'])).code).toBe(0);
    const listed = JSON.parse((await run(['profile', 'list', '--format', 'json'])).stdout) as { current: string; profiles: { name: string; brokers: string[] }[] };
    expect(listed.current).toBe('b');
    expect(listed.profiles).toEqual([
      { name: 'a', brokers: ['h1:1', 'h2:2'], current: false },
      { name: 'b', brokers: ['h3:3'], current: true },
    ]);
    expect((await run(['profile', 'list', '--format', 'yaml'])).stdout).toContain('current: b');
    expect((await run(['profile', 'list'])).stdout).toMatch(/\*\s+b\s+h3:3/);
    expect((await run(['profile', 'use', 'a'])).code).toBe(0);
    expect((await run(['profile', 'delete', 'a'])).code).toBe(0);
    expect((await run(['profile', 'use', 'a'])).code).toBe(2);
  });
});

describe('against the SDK fake cluster', () => {
  let fake: FakeBroker;
  const env = (): Record<string, string> => ({ BUSCTL_BROKERS: fake.brokers.join(',') });

  beforeAll(async () => {
    fake = await FakeBroker.start({ brokerCount: 2, clusterId: 'fake', topics: [{ name: 'existing', partitions: 2 }] });
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('cluster info and health', async () => {
    const info = JSON.parse((await run(['cluster', 'info', '--format', 'json'], { env: env() })).stdout) as { clusterId: string; brokers: unknown[] };
    expect(info.clusterId).toBe('fake');
    expect(info.brokers).toHaveLength(2);
    const health = await run(['cluster', 'health'], { env: env() });
    expect(health.stdout).toMatch(/status:\s+(healthy|unhealthy)/);
  });

  it('creates a topic, produces lines with keys and reads them back', async () => {
    expect((await run(['topic', 'create', 'lines', '--partitions', '2'], { env: env() })).code).toBe(0);
    const produced = await run(['produce', 'lines', '-K', '\\t', '--format', 'json'], { env: env(), stdin: 'k1\tv1\nk2\tv2\n\nk1\tv3\n' });
    expect(produced.stderr).toBe('');
    expect(JSON.parse(produced.stdout)).toMatchObject({ topic: 'lines', count: 3 });
    const consumed = await run(['consume', 'lines', '--format', 'json', '--fetch-mode', 'poll'], { env: env() });
    expect(consumed.code).toBe(0);
    const records = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string; partition: number });
    expect(records.map((r) => r.value).sort()).toEqual(['v1', 'v2', 'v3']);
    const k1 = records.filter((r) => r.key === 'k1');
    expect(new Set(k1.map((r) => r.partition)).size).toBe(1);
    const keyed = await run(['consume', 'lines', '--print-key', '--key-separator', '='], { env: env() });
    expect(keyed.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(['k1=v1', 'k1=v3', 'k2=v2']);
  });

  it('a line without the separator fails the produce with exit 1 naming the line', async () => {
    const r = await run(['produce', 'existing', '--key-separator', ':'], { env: env(), stdin: 'a:1\nbroken\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("busctl: line 2 has no key separator ':'\n");
  });

  it('Ctrl-C ends an interactive produce and still delivers what was read', async () => {
    const stdin = new PassThrough();
    const interrupt = new AbortController();
    stdin.write('first\nsecond\n');
    const pending = run(['produce', 'existing', '--partition', '0', '--format', 'json'], { env: env(), stdin, signal: interrupt.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    interrupt.abort();
    const r = await pending;
    stdin.destroy();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ topic: 'existing', count: 2 });
  });

  it('prints the produce summary on a terminal, and nothing on stderr otherwise', async () => {
    const tty = await run(['produce', 'existing', '--partition', '1'], { env: env(), stdin: 'x\ny\n', tty: true });
    expect(tty.stderr).toMatch(/^produced 2 records to existing in \d+ ms \(p1: \d+\.\.\d+\)\n$/);
    const piped = await run(['produce', 'existing', '--partition', '1'], { env: env(), stdin: 'z\n' });
    expect(piped).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('describes, alters and grows topics; unknown topics fail with exit 1', async () => {
    const described = JSON.parse((await run(['topic', 'describe', 'existing', '--offsets', '--format', 'json'], { env: env() })).stdout) as { partitions: unknown[]; offsets: { partition: number; highWatermark: number }[] };
    expect(described.partitions).toHaveLength(2);
    expect(described.offsets.map((o) => o.partition)).toEqual([0, 1]);
    expect((await run(['topic', 'describe', 'existing', '--offsets'], { env: env() })).stdout).toContain('HIGH WATERMARK');
    expect((await run(['topic', 'alter-config', 'existing', '--set', 'retention.ms=1000'], { env: env() })).code).toBe(0);
    expect((await run(['topic', 'add-partitions', 'existing', '--count', '3'], { env: env() })).code).toBe(0);
    const list = JSON.parse((await run(['topic', 'list', '--format', 'json'], { env: env() })).stdout) as { name: string; partitions: number }[];
    expect(list.find((t) => t.name === 'existing')?.partitions).toBe(3);
    const missing = await run(['consume', 'missing'], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("topic 'missing' does not exist");
  });
});

describe('unreachable brokers', () => {
  it('exit 1 with one line naming the brokers tried', async () => {
    const r = await run(['topic', 'list', '--brokers', '127.0.0.1:1', '--timeout-ms', '2000']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([expect.stringContaining('cannot reach the StreamBus cluster at 127.0.0.1:1')]);
  });
});
