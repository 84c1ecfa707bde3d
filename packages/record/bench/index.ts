// Throughput of encode, decode and validate (header + CRC) for 100 B and 1 KiB records
// with every codec, against a plain Buffer.copy of the same bytes measured in the same
// run. Progress goes to stderr; stdout gets a table and ends with one JSON line.
import { performance } from 'node:perf_hooks';
import { BatchBuilder, BatchView, decodeRecords, type CompressionName, type RecordInput } from '../src/index.js';

const CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const RECORD_SIZES_BYTES = [100, 1024];
const BATCH_BYTES_TARGET = 256 * 1024;
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 400);
const ITERATIONS_MAX = 100_000;

/** Deterministic, moderately compressible payloads (words from a small vocabulary). */
function makeRecords(recordBytes: number, count: number): RecordInput[] {
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  const words = Array.from({ length: 64 }, (_, i) => `w${i.toString(36)}${'x'.repeat(i % 7)}`);
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(recordBytes);
    let position = 0;
    while (position < recordBytes) position += value.write(`${words[Math.floor(next() * words.length)]!} `, position);
    records.push({ key: Buffer.from(`key-${i % 1000}`), value, timestamp: 1_700_000_000_000 + i });
  }
  return records;
}

interface Measurement {
  opsPerSec: number;
  iterations: number;
}

async function measure(run: () => unknown): Promise<Measurement> {
  for (let i = 0; i < 3; i++) await run(); // warm-up
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MEASURE_MS && iterations < ITERATIONS_MAX) {
    await run();
    iterations++;
    elapsed = performance.now() - start;
  }
  return { opsPerSec: (iterations * 1000) / elapsed, iterations };
}

interface Row {
  recordBytes: number;
  codec: CompressionName;
  op: 'encode' | 'decode' | 'validate';
  recordsPerSec: number;
  mbPerSec: number;
  copyMbPerSec: number;
  ratioVsCopy: number;
  compressedBytes: number;
  uncompressedBytes: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const recordBytes of RECORD_SIZES_BYTES) {
    const count = Math.floor(BATCH_BYTES_TARGET / recordBytes);
    const records = makeRecords(recordBytes, count);
    const plain = await encode(records, 'none');
    const uncompressedBytes = plain.length;
    // Baseline: copying the uncompressed batch, the cheapest thing that touches every byte.
    const target = Buffer.allocUnsafe(plain.length);
    const copy = await measure(() => plain.copy(target));
    const copyMbPerSec = (copy.opsPerSec * uncompressedBytes) / 1e6;
    process.stderr.write(`[bench] ${recordBytes} B records x ${count}: Buffer.copy ${copyMbPerSec.toFixed(0)} MB/s\n`);
    for (const codec of CODECS) {
      const sealed = await encode(records, codec);
      const view = BatchView.parse(sealed);
      const ops: [Row['op'], () => unknown][] = [
        ['encode', () => encode(records, codec)],
        ['decode', () => decodeRecords(view)],
        ['validate', () => BatchView.parse(sealed).validate()],
      ];
      for (const [op, run] of ops) {
        const m = await measure(run);
        // Encode and decode count uncompressed batch bytes so codecs compare on the same
        // logical work; validate counts the stored bytes, which is all the CRC touches.
        const mbPerSec = (m.opsPerSec * (op === 'validate' ? sealed.length : uncompressedBytes)) / 1e6;
        rows.push({
          recordBytes,
          codec,
          op,
          recordsPerSec: m.opsPerSec * count,
          mbPerSec,
          copyMbPerSec,
          ratioVsCopy: mbPerSec / copyMbPerSec,
          compressedBytes: sealed.length,
          uncompressedBytes,
        });
        process.stderr.write(`[bench] ${recordBytes} B ${codec} ${op}: ${mbPerSec.toFixed(1)} MB/s (${m.iterations} iterations)\n`);
      }
    }
  }
  printTable(rows);
  const summary = {
    benchmark: '@streambus/record',
    baseline: 'Buffer.copy of the uncompressed batch, same run',
    mbPerSecCounts: 'encode/decode: uncompressed batch bytes; validate: stored (compressed) batch bytes',
    measureMs: MEASURE_MS,
    batchBytesTarget: BATCH_BYTES_TARGET,
    results: rows.map((r) => ({
      recordBytes: r.recordBytes,
      codec: r.codec,
      op: r.op,
      recordsPerSec: Math.round(r.recordsPerSec),
      mbPerSec: round(r.mbPerSec),
      copyMbPerSec: round(r.copyMbPerSec),
      ratioVsCopy: round(r.ratioVsCopy, 4),
      compressionRatio: round(r.uncompressedBytes / r.compressedBytes, 2),
    })),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

async function encode(records: RecordInput[], compression: CompressionName): Promise<Buffer> {
  const builder = new BatchBuilder({ compression, batchBytesMax: Number.MAX_SAFE_INTEGER });
  for (const record of records) builder.tryAppend(record);
  return builder.seal();
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function printTable(rows: Row[]): void {
  const lines = ['record  codec   op         records/s     MB/s   copy MB/s   ratio   size ratio'];
  for (const r of rows) {
    lines.push(
      [
        `${r.recordBytes}`.padEnd(7),
        r.codec.padEnd(7),
        r.op.padEnd(9),
        Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(11),
        r.mbPerSec.toFixed(1).padStart(8),
        r.copyMbPerSec.toFixed(0).padStart(11),
        r.ratioVsCopy.toFixed(4).padStart(7),
        (r.uncompressedBytes / r.compressedBytes).toFixed(2).padStart(12),
      ].join(' '),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
