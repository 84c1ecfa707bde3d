// Cross-check of our RecordBatch codecs against Apache Kafka's own Java client
// (test/kafka-interop). Kafka writes batches that our TypeScript and Go decoders must read
// exactly; our TypeScript and Go encoders write batches that Kafka's reader must accept
// (CRC included) and decode to the records we put in. Needs java, mvn and go on PATH.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchView, type CompressionName, decodeRecords, encodeBatch, type RecordInput } from '@streambus/record';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const javaProject = join(repoRoot, 'test/kafka-interop');
const goModule = join(repoRoot, 'packages/sdk-go');
const committedVectors = join(repoRoot, 'test/vectors');
const classpath = [join(javaProject, 'target/classes'), join(javaProject, 'target/lib/*')].join(':');
const mainClass = 'io.streambus.interop.KafkaInterop';

const buildTimeoutMs = 300_000;
const commandTimeoutMs = 120_000;
const outputBytesMax = 64 * 1024 * 1024;

interface HeaderJson {
  key: string;
  value: string | null;
}
interface RecordJson {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: HeaderJson[];
}
interface BatchJson {
  baseOffset: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: CompressionName;
  timestampType: 'create' | 'log-append';
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  records: RecordJson[];
}
interface VectorJson {
  name: string;
  description: string;
  hex: string;
  batch: BatchJson;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? commandTimeoutMs, maxBuffer: outputBytesMax },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
        else resolve(stdout);
      },
    );
  });
}

function newestMtimeMs(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, entry)));
  return newest;
}

/** Builds the Java program unless target/ is newer than its sources; offline first, then from Maven Central. */
async function buildJava(): Promise<void> {
  const marker = join(javaProject, 'target/classes/io/streambus/interop/KafkaInterop.class');
  const lib = join(javaProject, 'target/lib');
  const sourcesMtime = Math.max(newestMtimeMs(join(javaProject, 'src')), newestMtimeMs(join(javaProject, 'pom.xml')));
  if (existsSync(marker) && existsSync(lib) && statSync(marker).mtimeMs >= sourcesMtime) return;
  const args = ['-q', '-B', '-Dstyle.color=never', '-f', join(javaProject, 'pom.xml'), 'package'];
  try {
    await run('mvn', ['-o', ...args], { timeoutMs: buildTimeoutMs });
  } catch {
    await run('mvn', args, { timeoutMs: buildTimeoutMs });
  }
}

function kafka(...args: string[]): Promise<string> {
  return run('java', ['-cp', classpath, mainClass, ...args]);
}

const hexOf = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
const bufOf = (h: string | null): Buffer | null => (h === null ? null : Buffer.from(h, 'hex'));

/** Reads a batch with our TypeScript decoder into the vector JSON shape. */
async function decodeWithTs(hex: string): Promise<BatchJson> {
  const bytes = Buffer.from(hex, 'hex');
  const view = BatchView.parse(bytes);
  expect(view.sizeInBytes).toBe(bytes.length);
  expect(view.verifyCrc()).toBe(true);
  view.validate();
  const records = await decodeRecords(view);
  return {
    baseOffset: view.baseOffset,
    partitionLeaderEpoch: view.partitionLeaderEpoch,
    magic: view.magic,
    crc: view.crc,
    attributes: view.attributes,
    compression: view.compression,
    timestampType: view.timestampType,
    isTransactional: view.isTransactional,
    isControl: view.isControl,
    lastOffsetDelta: view.lastOffsetDelta,
    baseTimestamp: view.baseTimestamp,
    maxTimestamp: view.maxTimestamp,
    producerId: view.producerId,
    producerEpoch: view.producerEpoch,
    baseSequence: view.baseSequence,
    recordCount: view.recordCount,
    records: records.map((r) => ({
      offset: r.offset,
      timestamp: r.timestamp,
      key: hexOf(r.key),
      value: hexOf(r.value),
      headers: r.headers.map((h) => ({ key: h.key, value: hexOf(h.value) })),
    })),
  };
}

const t0 = 1_700_000_000_000;
const codecs: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function sampleRecords(large: boolean): RecordInput[] {
  const records: RecordInput[] = [
    { key: Buffer.from('k0'), value: Buffer.from('hello'), timestamp: t0 },
    { key: null, value: Buffer.from('null key'), timestamp: t0 + 5 },
    { key: Buffer.from('tombstone'), value: null, timestamp: t0 + 3 },
    {
      key: Buffer.alloc(0),
      value: Buffer.alloc(0),
      timestamp: t0 + 9,
      headers: [
        { key: 'trace-id', value: Buffer.from('abc') },
        { key: 'null', value: null },
        { key: 'empty', value: Buffer.alloc(0) },
      ],
    },
    { key: Buffer.from('ключ-🔑'), value: Buffer.from('値'), timestamp: t0 - 1000, headers: [{ key: '鍵', value: Buffer.from('v') }] },
  ];
  if (large) {
    for (let i = 0; i < 30; i++) {
      records.push({ key: Buffer.from(`key-${i}`), value: Buffer.from(`value ${i} of a larger batch; `.repeat(200)), timestamp: t0 + i });
    }
  }
  return records;
}

interface TsCase {
  compression: CompressionName;
  large: boolean;
  baseOffset: number;
  partitionLeaderEpoch: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  isTransactional: boolean;
  logAppendTime: number | null;
}

function tsCases(): TsCase[] {
  return codecs.flatMap((compression, i) => [
    { compression, large: false, baseOffset: 100 * i, partitionLeaderEpoch: -1, producerId: -1, producerEpoch: -1, baseSequence: -1, isTransactional: false, logAppendTime: null },
    { compression, large: true, baseOffset: 2 ** 40, partitionLeaderEpoch: 7, producerId: 4242, producerEpoch: 3, baseSequence: 17, isTransactional: false, logAppendTime: null },
    { compression, large: false, baseOffset: 5000, partitionLeaderEpoch: 2, producerId: 99, producerEpoch: 1, baseSequence: 0, isTransactional: true, logAppendTime: t0 + 12_345 },
  ]);
}

/** What Kafka must decode from a TS-encoded case, derived from the inputs (never from our decoder). */
function expectedBatch(c: TsCase, crc: number): BatchJson {
  const records = sampleRecords(c.large);
  const timestamps = records.map((r) => r.timestamp!);
  const compressionId = codecs.indexOf(c.compression);
  return {
    baseOffset: c.baseOffset,
    partitionLeaderEpoch: c.partitionLeaderEpoch,
    magic: 2,
    crc,
    attributes: compressionId | (c.logAppendTime === null ? 0 : 0x08) | (c.isTransactional ? 0x10 : 0),
    compression: c.compression,
    timestampType: c.logAppendTime === null ? 'create' : 'log-append',
    isTransactional: c.isTransactional,
    isControl: false,
    lastOffsetDelta: records.length - 1,
    baseTimestamp: timestamps[0]!,
    maxTimestamp: c.logAppendTime ?? Math.max(...timestamps),
    producerId: c.producerId,
    producerEpoch: c.producerEpoch,
    baseSequence: c.baseSequence,
    recordCount: records.length,
    records: records.map((r, i) => ({
      offset: c.baseOffset + i,
      timestamp: c.logAppendTime ?? r.timestamp!,
      key: hexOf(r.key ?? null),
      value: hexOf(r.value),
      headers: (r.headers ?? []).map((h) => ({ key: h.key, value: hexOf(h.value) })),
    })),
  };
}

describe('RecordBatch v2 interop with Apache Kafka', () => {
  let work = '';
  let kafkaVectorsDir = '';
  let vectors: VectorJson[] = [];

  beforeAll(async () => {
    await buildJava();
    work = await mkdtemp(join(tmpdir(), 'streambus-kafka-interop-'));
    kafkaVectorsDir = join(work, 'vectors');
    await kafka('generate', kafkaVectorsDir);
    const files = (await readdir(kafkaVectorsDir)).filter((f) => f.endsWith('.json')).sort();
    vectors = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(kafkaVectorsDir, f), 'utf8')) as VectorJson));
  }, buildTimeoutMs + commandTimeoutMs);

  afterAll(async () => {
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('Kafka generates a batch for every codec, timestamp type and flag', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(20);
    const batches = vectors.map((v) => v.batch);
    for (const codec of codecs) expect(batches.some((b) => b.compression === codec)).toBe(true);
    expect(batches.some((b) => b.timestampType === 'log-append')).toBe(true);
    expect(batches.some((b) => b.isTransactional)).toBe(true);
    expect(batches.some((b) => b.isControl)).toBe(true);
  });

  it('the committed golden vectors are what this Kafka version generates', async () => {
    const committed = (await readdir(committedVectors)).filter((f) => f.endsWith('.json')).sort();
    expect(committed).toEqual(vectors.map((v) => `${v.name}.json`));
    for (const name of committed) {
      const fresh = await readFile(join(kafkaVectorsDir, name), 'utf8');
      expect(await readFile(join(committedVectors, name), 'utf8'), `${name} is stale: regenerate test/vectors`).toBe(fresh);
    }
  });

  it('our TypeScript decoder reads every Kafka batch with equal records and CRC', async () => {
    for (const v of vectors) {
      expect(await decodeWithTs(v.hex), v.name).toEqual(v.batch);
    }
  });

  it('our TypeScript encoder re-creates uncompressed Kafka batches byte for byte', async () => {
    for (const v of vectors.filter((x) => x.batch.compression === 'none')) {
      const b = v.batch;
      const encoded = await encodeBatch(
        b.records.map((r) => ({ key: bufOf(r.key), value: bufOf(r.value), timestamp: r.timestamp, headers: r.headers.map((h) => ({ key: h.key, value: bufOf(h.value) })) })),
        {
          compression: b.compression,
          baseOffset: b.baseOffset,
          partitionLeaderEpoch: b.partitionLeaderEpoch,
          timestampType: b.timestampType,
          now: () => b.maxTimestamp,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.baseSequence,
          isTransactional: b.isTransactional,
          isControl: b.isControl,
        },
      );
      expect(encoded.toString('hex'), v.name).toBe(v.hex);
    }
  });

  it('Kafka reads every batch our TypeScript encoder writes, for every codec', async () => {
    const cases = tsCases();
    const hexes: string[] = [];
    const expected: BatchJson[] = [];
    for (const c of cases) {
      const batch = await encodeBatch(sampleRecords(c.large), {
        compression: c.compression,
        baseOffset: c.baseOffset,
        partitionLeaderEpoch: c.partitionLeaderEpoch,
        producerId: c.producerId,
        producerEpoch: c.producerEpoch,
        baseSequence: c.baseSequence,
        isTransactional: c.isTransactional,
        timestampType: c.logAppendTime === null ? 'create' : 'log-append',
        now: () => c.logAppendTime ?? t0,
      });
      hexes.push(batch.toString('hex'));
      expected.push(expectedBatch(c, BatchView.parse(batch).crc));
    }
    const file = join(work, 'ts-batches.hex');
    await writeFile(file, hexes.join('\n') + '\n');
    const decoded = JSON.parse(await kafka('decode', file)) as BatchJson[];
    expect(decoded).toEqual(expected);
  });

  it('Kafka reads every batch our Go encoder writes, for every codec', async () => {
    const hexFile = join(work, 'go-batches.hex');
    const expectedFile = join(work, 'go-expected.json');
    await run('go', ['run', './internal/cmd/recordinterop', 'encode', hexFile, expectedFile], { cwd: goModule, timeoutMs: buildTimeoutMs });
    const expected = JSON.parse(await readFile(expectedFile, 'utf8')) as BatchJson[];
    expect(expected.length).toBeGreaterThanOrEqual(codecs.length * 3);
    const decoded = JSON.parse(await kafka('decode', hexFile)) as BatchJson[];
    expect(decoded).toEqual(expected);
  }, buildTimeoutMs);

  it('our Go decoder reads every freshly generated Kafka batch', async () => {
    const out = await run('go', ['test', '-count=1', '-run', '^TestGoldenVectors', './record'], {
      cwd: goModule,
      env: { ...process.env, STREAMBUS_VECTORS_DIR: kafkaVectorsDir },
      timeoutMs: buildTimeoutMs,
    });
    expect(out).toMatch(/^ok\s/m);
  }, buildTimeoutMs);

  it('Kafka rejects a batch with a corrupted CRC (the check is real)', async () => {
    const v = vectors.find((x) => x.name === 'none-basic')!;
    const bytes = Buffer.from(v.hex, 'hex');
    const last = bytes.length - 1;
    bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last);
    const file = join(work, 'corrupt.hex');
    await writeFile(file, bytes.toString('hex') + '\n');
    await expect(kafka('decode', file)).rejects.toThrow(/CorruptRecordException|crc|checksum/i);
  });
});
