import { BatchView, decodeRecords, encodeBatch, RecordError, type CompressionName } from '@streambus/record';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openMem, TP } from '../test/helpers.js';
import { StorageError } from './errors.js';
import { type PartitionLog } from './partition.js';

/**
 * Key compaction over every codec (compressed batches decoded through @streambus/record), the
 * bounded key map, and record-level timestamps. Checked against a plain model: compaction must
 * never change what a reader from the log start ends up believing about any key.
 */
interface Rec {
  key: string;
  value: string | null;
  timestamp: number;
}

const T0 = 1_700_000_000_000;

function encode(records: readonly Rec[], compression: CompressionName): Promise<Buffer> {
  return encodeBatch(
    records.map((r) => ({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), timestamp: r.timestamp })),
    { compression },
  );
}

interface Stored {
  offset: number;
  key: string;
  value: string | null;
  timestamp: number;
  compressed: boolean;
}

async function readAll(p: PartitionLog): Promise<Stored[]> {
  const out: Stored[] = [];
  let at = p.logStartOffset;
  for (let guard = 0; at < p.logEndOffset && guard < 10_000; guard++) {
    const r = await p.read(at, 1 << 20);
    for (const b of r.batches) {
      const view = BatchView.parse(b);
      for (const rec of await decodeRecords(view)) {
        if (rec.offset < at) continue;
        out.push({ offset: rec.offset, key: rec.key?.toString() ?? '', value: rec.value?.toString() ?? null, timestamp: rec.timestamp, compressed: view.compression !== 'none' });
      }
      at = Math.max(at, view.nextOffset);
    }
  }
  return out;
}

/** What a consumer reading from the start believes at the end: key → value (tombstones delete). */
function finalView(records: readonly { key: string; value: string | null }[]): Map<string, string> {
  const view = new Map<string, string>();
  for (const r of records) {
    if (r.value === null) view.delete(r.key);
    else view.set(r.key, r.value);
  }
  return view;
}

async function compactFully(engine: { maintain(): Promise<void>; stats(): { compactions: number } }, p: PartitionLog): Promise<void> {
  // Each run may stop at the key-map bound; a bounded number of runs finishes the log.
  for (let i = 0; i < 64; i++) {
    const before = [engine.stats().compactions, p.keyCompactionCleanOffset];
    await engine.maintain();
    if (engine.stats().compactions === before[0] && p.keyCompactionCleanOffset === before[1]) return;
  }
  throw new Error('compaction did not settle within 64 runs');
}

describe('key compaction with @streambus/record', () => {
  it('reads keys inside compressed batches: supersedes older records, drops fully superseded batches, keeps partial ones whole', async () => {
    const { engine } = await openMem(1, { compactionMinTables: 100 });
    const p = await engine.createPartition(TP, { cleanupPolicy: 'compact', retentionMs: -1, deleteRetentionMs: 1000 });
    await p.append(await encode([{ key: 'a', value: 'a1', timestamp: T0 }], 'none')); // 0: superseded by 3 (lz4)
    await p.append(await encode([{ key: 'b', value: 'b1', timestamp: T0 }, { key: 'c', value: 'c1', timestamp: T0 }], 'zstd')); // 1-2: fully superseded
    await p.append(await encode([{ key: 'a', value: 'a2', timestamp: T0 }, { key: 'd', value: 'd1', timestamp: T0 }], 'lz4')); // 3-4: a2 newest, d superseded
    await p.append(await encode([{ key: 'b', value: 'b2', timestamp: T0 }, { key: 'c', value: 'c2', timestamp: T0 }, { key: 'd', value: 'd2', timestamp: T0 }], 'none'));
    await engine.flushAll();
    const lz4Before = (await p.read(3, 1)).batches[0];
    await compactFully(engine, p);
    const after = await readAll(p);
    expect(after.map((r) => [r.offset, r.value])).toEqual([
      [3, 'a2'],
      [4, 'd1'],
      [5, 'b2'],
      [6, 'c2'],
      [7, 'd2'],
    ]);
    // The partially superseded compressed batch is stored byte for byte as it was.
    expect((await p.read(3, 1)).batches[0]?.equals(lz4Before ?? Buffer.alloc(0))).toBe(true);
    expect(p.logEndOffset).toBe(8);
    await engine.close();
  });

  it('judges tombstone expiry by the record timestamp, not the batch maxTimestamp', async () => {
    const { engine, clock } = await openMem(2);
    const p = await engine.createPartition(TP, { cleanupPolicy: 'compact', retentionMs: -1, deleteRetentionMs: 1000 });
    clock.ms = T0 + 5000;
    await p.append(await encode([{ key: 'x', value: 'x1', timestamp: T0 }], 'none'));
    // The tombstone is old; its batch's maxTimestamp is recent (another record).
    await p.append(await encode([{ key: 'x', value: null, timestamp: T0 }, { key: 'y', value: 'y1', timestamp: T0 + 5000 }], 'none'));
    await engine.flushAll();
    await compactFully(engine, p);
    expect((await readAll(p)).map((r) => [r.offset, r.key, r.value])).toEqual([[2, 'y', 'y1']]);
    await engine.close();
  });

  it('keeps a tombstone while an older record of its key survives in a whole compressed batch', async () => {
    const { engine, clock } = await openMem(3);
    const p = await engine.createPartition(TP, { cleanupPolicy: 'compact', retentionMs: -1, deleteRetentionMs: 1000 });
    await p.append(await encode([{ key: 'k', value: 'old', timestamp: T0 }, { key: 'live', value: 'v', timestamp: T0 }], 'gzip'));
    await p.append(await encode([{ key: 'k', value: null, timestamp: T0 }], 'none'));
    await engine.flushAll();
    clock.ms = T0 + 60_000;
    await compactFully(engine, p);
    const after = await readAll(p);
    expect(after.map((r) => [r.offset, r.key, r.value])).toEqual([
      [0, 'k', 'old'],
      [1, 'live', 'v'],
      [2, 'k', null],
    ]);
    expect(finalView(after).has('k')).toBe(false);
    await engine.close();
  });

  it('answers offsetForTimestamp record by record inside compressed batches', async () => {
    const { engine } = await openMem(4);
    const p = await engine.createPartition(TP);
    const recs = [0, 10, 20, 30].map((d, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: T0 + d }));
    await p.append(await encode(recs, 'zstd'));
    expect(await p.offsetForTimestamp(T0 + 15)).toBe(2);
    await engine.flushAll();
    expect(await p.offsetForTimestamp(T0 + 25)).toBe(3);
    expect(await p.offsetForTimestamp(T0 + 31)).toBeNull();
    await engine.close();
  });

  it('maps a RecordError from @streambus/record to INVALID_RECORD with the cause', async () => {
    const { engine } = await openMem(5);
    const p = await engine.createPartition(TP);
    const bad = await encode([{ key: 'a', value: 'v', timestamp: T0 }], 'none');
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1);
    const err: unknown = await p.append(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('INVALID_RECORD');
    expect((err as StorageError).cause).toBeInstanceOf(RecordError);
    expect(p.logEndOffset).toBe(0);
    await engine.close();
  });

  it('never changes what a reader believes, whatever the codecs and the key-map bound (model)', async () => {
    const codecs: CompressionName[] = ['none', 'none', 'lz4', 'zstd'];
    const recArb = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), value: fc.option(fc.constantFrom('1', '2', '3'), { freq: 4 }), age: fc.nat(3000) });
    const batchArb = fc.record({ records: fc.array(recArb, { minLength: 1, maxLength: 4 }), codec: fc.nat(codecs.length - 1), flush: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 8 }), fc.boolean(), async (batches, keysMax, advanceClock) => {
        const { engine, clock } = await openMem(6, { compactionKeysMax: keysMax, compactionMinTables: 3 });
        try {
          const p = await engine.createPartition(TP, { cleanupPolicy: 'compact', retentionMs: -1, deleteRetentionMs: 1000 });
          clock.ms = T0 + 3000;
          const appended: Rec[] = [];
          for (const b of batches) {
            const recs = b.records.map((r) => ({ key: r.key, value: r.value, timestamp: T0 + r.age }));
            await p.append(await encode(recs, codecs[b.codec] ?? 'none'));
            appended.push(...recs);
            if (b.flush) await engine.flushAll();
          }
          await engine.flushAll();
          if (advanceClock) clock.ms += 10_000;
          await compactFully(engine, p);
          const after = await readAll(p);
          expect(finalView(after)).toEqual(finalView(appended));
          expect(p.logEndOffset).toBe(appended.length);
          // Offsets only disappear, never move: each kept record holds what was appended there.
          for (const r of after) expect({ key: r.key, value: r.value }).toEqual({ key: appended[r.offset]?.key, value: appended[r.offset]?.value });
          // With no compressed batch in the way, compaction leaves one record per key.
          if (batches.every((b) => codecs[b.codec] === 'none')) {
            const keys = after.map((r) => r.key);
            expect(new Set(keys).size).toBe(keys.length);
          }
        } finally {
          await engine.close();
        }
      }),
      { numRuns: process.env.STREAMBUS_LONG === '1' ? 500 : 60, ...(process.env.SEED === undefined ? {} : { seed: Number(process.env.SEED) }) },
    );
  });
});
