// busctl end to end: the real CLI bundle as a process against a real 3-broker cluster.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure, startCluster, type TestCluster } from '../../../../test/helpers/cluster.js';
import { waitFor } from '../../../../test/helpers/wait.js';

const APP_DIR = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cluster: TestCluster | undefined;
let bundle = '';
let scratch = '';
let outdir = '';

function env(extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: scratch, BUSCTL_CONFIG: join(scratch, 'busctl.yaml'), NO_COLOR: '1' };
  if (cluster !== undefined) base.BUSCTL_BROKERS = cluster.addresses.join(',');
  return { ...base, ...extra };
}

function busctl(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { env: env(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Runs busctl and parses its stdout as JSON, failing with its stderr when it did not exit 0. */
async function json<T>(args: readonly string[], options: { input?: string } = {}): Promise<T> {
  const r = await busctl([...args, '--format', 'json'], options);
  if (r.code !== 0) throw new Error(`busctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'busctl-e2e-'));
  outdir = join(APP_DIR, 'dist', `e2e-${process.pid}-${randomBytes(4).toString('hex')}`);
  const built = spawnSync(process.execPath, [join(APP_DIR, 'build.mjs'), outdir], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`build failed: ${built.stderr}`);
  bundle = join(outdir, 'busctl.js');
  cluster = await startCluster({ brokers: 3, name: 'busctl-e2e' });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  if (outdir !== '') rmSync(outdir, { recursive: true, force: true });
}, 60_000);

printLogsOnFailure(() => cluster);

describe('busctl against a real cluster', () => {
  it('cluster info lists the three brokers and the metadata leader', async () => {
    const info = await json<{ clusterId: string; metadataLeaderId: number; brokers: { brokerId: number; port: number; fenced: boolean }[] }>(['cluster', 'info']);
    expect(info.clusterId).toBe('e2e');
    expect(info.brokers.map((b) => b.brokerId)).toEqual([1, 2, 3]);
    expect(info.brokers.every((b) => !b.fenced)).toBe(true);
    expect([1, 2, 3]).toContain(info.metadataLeaderId);
    const table = await busctl(['cluster', 'info']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('metadata leader');
  });

  it('topic create, list, describe, alter-config, add-partitions and delete', async () => {
    const created = await json<{ name: string; numPartitions: number; replicationFactor: number }>(['topic', 'create', 'orders', '--partitions', '3', '--replication-factor', '3', '--config', 'retention.ms=3600000']);
    expect(created).toMatchObject({ name: 'orders', numPartitions: 3, replicationFactor: 3 });
    const again = await busctl(['topic', 'create', 'orders', '--partitions', '3']);
    expect(again.code).toBe(1);
    expect(lines(again.stderr)).toHaveLength(1);
    expect(again.stderr).toContain('TOPIC_ALREADY_EXISTS');
    expect((await busctl(['topic', 'create', 'orders', '--if-not-exists'])).code).toBe(0);

    const listed = await json<{ name: string; partitions: number; replicationFactor: number }[]>(['topic', 'list']);
    expect(listed.find((t) => t.name === 'orders')).toMatchObject({ partitions: 3, replicationFactor: 3 });

    await waitFor(async () => (await json<{ partitions: { isr: number[] }[] }>(['topic', 'describe', 'orders'])).partitions.every((p) => p.isr.length === 3), { timeoutMs: 20_000, what: 'full ISR' });
    const described = await json<{ name: string; partitions: { partition: number; leaderId: number; replicas: number[]; isr: number[] }[]; configs: { name: string; value: string; source: string }[] }>(['topic', 'describe', 'orders']);
    expect(described.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    for (const p of described.partitions) {
      expect(p.replicas).toHaveLength(3);
      expect(p.replicas).toContain(p.leaderId);
    }
    expect(described.configs.find((c) => c.name === 'retention.ms')?.value).toBe('3600000');

    const altered = await json<{ configs: { name: string; value: string }[] }>(['topic', 'alter-config', 'orders', '--set', 'retention.ms=7200000']);
    expect(altered.configs.find((c) => c.name === 'retention.ms')?.value).toBe('7200000');

    await json(['topic', 'add-partitions', 'orders', '--count', '4']);
    expect((await json<{ partitions: unknown[] }>(['topic', 'describe', 'orders'])).partitions).toHaveLength(4);

    await json(['topic', 'create', 'doomed']);
    expect(await json<{ deleted: string[] }>(['topic', 'delete', 'doomed'])).toEqual({ deleted: ['doomed'] });
    await waitFor(async () => !(await json<{ name: string }[]>(['topic', 'list'])).some((t) => t.name === 'doomed'), { timeoutMs: 10_000, what: 'doomed to disappear' });
  });

  it('produce from stdin with keys and headers, then consume every record back as JSON', async () => {
    await json(['topic', 'create', 'events', '--partitions', '3', '--replication-factor', '3']);
    const input = Array.from({ length: 60 }, (_, i) => `user-${i % 7}:payload ${i}`).join('\n') + '\n';
    const summary = await json<{ count: number; partitions: { partition: number; count: number; firstOffset: number; lastOffset: number }[] }>(
      ['produce', 'events', '--key-separator', ':', '--header', 'source=e2e', '--header', 'kind=test'],
      { input },
    );
    expect(summary.count).toBe(60);
    expect(summary.partitions.reduce((n, p) => n + p.count, 0)).toBe(60);
    for (const p of summary.partitions) expect(p.lastOffset - p.firstOffset + 1).toBe(p.count);

    const out = await busctl(['consume', 'events', '--format', 'json']);
    expect(out.code).toBe(0);
    const records = lines(out.stdout).map((l) => JSON.parse(l) as JsonRecord);
    expect(records).toHaveLength(60);
    expect(new Set(records.map((r) => r.value))).toEqual(new Set(Array.from({ length: 60 }, (_, i) => `payload ${i}`)));
    for (const r of records) {
      expect(r.topic).toBe('events');
      expect(r.key).toBe(`user-${Number(r.value?.split(' ')[1]) % 7}`);
      expect(r.headers).toEqual({ source: 'e2e', kind: 'test' });
    }
    // Same key, same partition; offsets dense from 0 per partition.
    const partitionOfKey = new Map<string, number>();
    for (const r of records) {
      expect(partitionOfKey.get(r.key!) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(r.key!, r.partition);
    }
    for (const p of summary.partitions) {
      const offsets = records.filter((r) => r.partition === p.partition).map((r) => r.offset);
      expect(offsets).toEqual(Array.from({ length: p.count }, (_, i) => i));
    }
  });

  it('consume --partition, --from offset and timestamp, --max-messages, --binary, table output', async () => {
    await json(['topic', 'create', 'single', '--partitions', '1', '--replication-factor', '3']);
    writeFileSync(join(scratch, 'first.txt'), 'a\nb\nc\n');
    expect((await json<{ count: number }>(['produce', 'single', '--file', join(scratch, 'first.txt'), '--acks', '1', '--compression', 'lz4'])).count).toBe(3);
    const between = Date.now() + 1;
    await new Promise((r) => setTimeout(r, 20));
    expect((await json<{ count: number }>(['produce', 'single', '--partition', '0'], { input: 'd\ne\n' })).count).toBe(2);

    const all = await busctl(['consume', 'single', '--partition', '0']);
    expect(all.stdout).toBe('a\nb\nc\nd\ne\n');
    expect((await busctl(['consume', 'single', '--from', '3'])).stdout).toBe('d\ne\n');
    expect((await busctl(['consume', 'single', '--from', `@${between}`])).stdout).toBe('d\ne\n');
    expect((await busctl(['consume', 'single', '--from', `@${new Date(between).toISOString()}`])).stdout).toBe('d\ne\n');
    expect((await busctl(['consume', 'single', '--max-messages', '2'])).stdout).toBe('a\nb\n');
    expect((await busctl(['consume', 'single', '--from', 'latest'])).stdout).toBe('');
    const bin = lines((await busctl(['consume', 'single', '--binary', '--format', 'json', '--max-messages', '1'])).stdout).map((l) => JSON.parse(l) as JsonRecord);
    expect(bin[0]?.value).toBe(Buffer.from('a').toString('base64'));
    const yaml = await busctl(['consume', 'single', '--format', 'yaml', '--max-messages', '1']);
    expect(yaml.stdout).toContain('value: a');
  });

  it('pipes consume --format json into another tool', async () => {
    const script = `let n=0,sum=0;require('readline').createInterface({input:process.stdin}).on('line',l=>{const r=JSON.parse(l);n++;sum+=Number(r.value.split(' ')[1]);}).on('close',()=>console.log(n+' '+sum))`;
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bundle}" consume events --format json | "${process.execPath}" -e "${script.replace(/"/g, '\\"')}"`], { env: env(), encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`60 ${(59 * 60) / 2}`);
  });

  it('exits cleanly when the reader of its output goes away (EPIPE)', async () => {
    const input = Array.from({ length: 5_000 }, (_, i) => `line ${i} ${'x'.repeat(100)}`).join('\n');
    await json(['topic', 'create', 'big', '--partitions', '1']);
    await json(['produce', 'big'], { input });
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bundle}" consume big --format json | head -n 1`], { env: env(), encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stderr).toBe('');
  });

  it('consume --follow tails new records until interrupted', async () => {
    await json(['topic', 'create', 'tail', '--partitions', '2']);
    const child = spawn(process.execPath, [bundle, 'consume', 'tail', '--follow', '--from', 'latest', '--format', 'json'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      await json(['produce', 'tail'], { input: 'one\ntwo\nthree\n' });
      await waitFor(() => lines(stdout).length === 3, { timeoutMs: 15_000, what: 'three tailed records' });
      expect(lines(stdout).map((l) => (JSON.parse(l) as JsonRecord).value).sort()).toEqual(['one', 'three', 'two']);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  it('bench produce, consume and e2e print a JSON summary with HDR percentiles', async () => {
    const common = ['--topic', 'bench', '--partitions', '3', '--replication-factor', '3', '--record-size', '256'];
    const produced = await busctl(['bench', 'produce', ...common, '--records', '3000', '--rate', '5000']);
    expect(produced.code).toBe(0);
    const p = JSON.parse(lines(produced.stdout).at(-1)!) as { mode: string; records: number; errors: number; recordsPerSec: number; mbPerSec: number; latencyMs: { p50: number; p99: number; p999: number; max: number } };
    expect(p).toMatchObject({ mode: 'produce', records: 3000, errors: 0 });
    expect(p.recordsPerSec).toBeGreaterThan(0);
    expect(p.latencyMs.p50).toBeLessThanOrEqual(p.latencyMs.p99);
    expect(p.latencyMs.p99).toBeLessThanOrEqual(p.latencyMs.p999);
    expect(p.latencyMs.p999).toBeLessThanOrEqual(p.latencyMs.max);

    const consumed = await busctl(['bench', 'consume', ...common]);
    expect(consumed.code).toBe(0);
    expect(JSON.parse(lines(consumed.stdout).at(-1)!)).toMatchObject({ mode: 'consume', records: 3000, bytes: 3000 * 256 });

    const e2e = await busctl(['bench', 'e2e', ...common, '--records', '1000', '--rate', '2000']);
    expect(e2e.code).toBe(0);
    const e = JSON.parse(lines(e2e.stdout).at(-1)!) as { records: number; errors: number; latencyMs: { p50: number; max: number }; ackLatencyMs: { p50: number } };
    expect(e).toMatchObject({ records: 1000, errors: 0 });
    expect(e.latencyMs.p50).toBeGreaterThan(0);
    expect(e.ackLatencyMs.p50).toBeGreaterThan(0);
  });

  it('profiles: set, list, use, and --profile picks the broker list', async () => {
    const cfg = { BUSCTL_BROKERS: '' };
    const set = await busctl(['profile', 'set', 'local', '--profile-brokers', cluster!.addresses.join(','), '--format', 'json'], { env: cfg });
    expect(set.code).toBe(0);
    await busctl(['profile', 'set', 'nowhere', '--profile-brokers', '127.0.0.1:1'], { env: cfg });
    const listed = JSON.parse((await busctl(['profile', 'list', '--format', 'json'], { env: cfg })).stdout) as { current: string; profiles: { name: string; brokers: string[] }[] };
    expect(listed.current).toBe('local');
    expect(listed.profiles.map((p) => p.name).sort()).toEqual(['local', 'nowhere']);
    expect(readFileSync(join(scratch, 'busctl.yaml'), 'utf8')).toContain('profiles:');
    expect((await busctl(['cluster', 'info', '--format', 'json'], { env: cfg })).code).toBe(0);
    const bad = await busctl(['cluster', 'info', '--profile', 'nowhere'], { env: cfg });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('cannot reach the StreamBus cluster at 127.0.0.1:1');
    expect((await busctl(['cluster', 'info', '--profile', 'missing'], { env: cfg })).code).toBe(2);
    expect((await busctl(['profile', 'use', 'nowhere'], { env: cfg })).code).toBe(0);
    expect((await busctl(['cluster', 'info'], { env: cfg })).code).toBe(1);
    expect((await busctl(['profile', 'delete', 'nowhere'], { env: cfg })).code).toBe(0);
  });

  it('fails with one helpful line: unknown topic, unreachable brokers; bad flags exit 2', async () => {
    const unknown = await busctl(['consume', 'no-such-topic']);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual([expect.stringContaining("topic 'no-such-topic' does not exist")]);
    const describeUnknown = await busctl(['topic', 'describe', 'no-such-topic']);
    expect(describeUnknown.code).toBe(1);
    expect(describeUnknown.stderr).toContain('does not exist');

    const unreachable = await busctl(['cluster', 'health', '--brokers', '127.0.0.1:1']);
    expect(unreachable.code).toBe(1);
    expect(lines(unreachable.stderr)).toHaveLength(1);
    expect(unreachable.stderr).toContain('cannot reach');
    expect(unreachable.stderr).not.toContain('    at ');

    for (const args of [['topic', 'create', 'x', '--partitions', 'many'], ['consume', 'events', '--from', 'yesterday'], ['produce', 'events', '--acks', '2'], ['frobnicate'], ['topic'], ['topic', 'create']]) {
      const r = await busctl(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('busctl');
    }
    const completion = await busctl(['completion']);
    expect(completion.code).toBe(0);
    expect(completion.stdout).toContain('busctl');
  });

  it('cluster health is healthy, then exits 1 once a broker is down', async () => {
    const healthy = await json<{ healthy: boolean; brokers: { live: number } }>(['cluster', 'health']);
    expect(healthy).toMatchObject({ healthy: true, brokers: { live: 3 } });
    await cluster!.kill(3);
    await waitFor(async () => (await busctl(['cluster', 'health'])).code === 1, { timeoutMs: 20_000, intervalMs: 500, what: 'health to turn unhealthy' });
    const r = await busctl(['cluster', 'health', '--format', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { healthy: boolean; problems: string[] };
    expect(report.healthy).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
  });
});
