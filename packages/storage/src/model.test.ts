import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchOf, ManualClock, memEngineOptions, valuesOf } from '../test/helpers.js';
import { StorageEngine } from './engine.js';
import { StorageError } from './errors.js';
import { MemFileSystem, seededRandom } from './mem-fs.js';
import { type FlushMode } from './wal.js';

/**
 * Model-based test: random sequences of append / read / truncate / deleteRecords / flush /
 * compact / crash-and-reopen against a plain in-memory model. After a crash the engine must
 * hold everything that was durable (all resolved appends under flush=always; at least the last
 * synced prefix under flush=interval) and nothing that was never appended.
 */
interface ModelBatch {
  readonly base: number;
  readonly count: number;
  readonly tag: string;
}

interface ModelPartition {
  batches: ModelBatch[];
  start: number;
  end: number;
  durableEnd: number;
}

type Cmd =
  | { t: 'append'; p: number; count: number; batches: number }
  | { t: 'read'; p: number; at: number; maxBytes: number }
  | { t: 'truncate'; p: number; at: number }
  | { t: 'deleteBefore'; p: number; at: number }
  | { t: 'flush' }
  | { t: 'sync' }
  | { t: 'compact' }
  | { t: 'crash'; torn: boolean };

const PARTITIONS = 3;

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('append' as const), p: fc.nat(PARTITIONS - 1), count: fc.integer({ min: 1, max: 4 }), batches: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('read' as const), p: fc.nat(PARTITIONS - 1), at: fc.nat(1000), maxBytes: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), p: fc.nat(PARTITIONS - 1), at: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteBefore' as const), p: fc.nat(PARTITIONS - 1), at: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'compact' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), torn: fc.boolean() }) },
);

function pick(m: ModelPartition, at: number): number {
  // Bias offsets into the live range so most commands do something.
  const span = m.end - m.start + 1;
  return m.start + (at % span);
}

async function checkRead(engine: StorageEngine, m: ModelPartition, p: number, offset: number, maxBytes: number): Promise<void> {
  const log = engine.partition({ topic: 'm', partition: p });
  expect(log.logStartOffset).toBe(m.start);
  expect(log.logEndOffset).toBe(m.end);
  const r = await log.read(offset, maxBytes);
  const expectedFirst = m.batches.findIndex((b) => b.base + b.count > offset);
  if (offset >= m.end || expectedFirst < 0) {
    expect(r.batches).toEqual([]);
    return;
  }
  expect(r.batches.length).toBeGreaterThanOrEqual(1);
  if (r.batches.length > 1) expect(r.bytes).toBeLessThanOrEqual(maxBytes);
  const expected = m.batches.slice(expectedFirst, expectedFirst + r.batches.length).flatMap((b) => Array.from({ length: b.count }, (_, i) => `${b.tag}#${i}`));
  expect(valuesOf(r.batches)).toEqual(expected);
}

async function run(cmds: readonly Cmd[], flush: FlushMode, seed: number): Promise<void> {
  const fs = new MemFileSystem({ random: seededRandom(seed) });
  const clock = new ManualClock();
  const opts = memEngineOptions(fs, clock, { flush, flushIntervalMs: 3_600_000, memtableBytesMax: 6000, blockBytes: 200, compactionMinTables: 2, defaultPartitionConfig: { segmentBytes: 1024, retentionMs: -1 } });
  let engine = await StorageEngine.open(opts);
  const model: ModelPartition[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    await engine.createPartition({ topic: 'm', partition: p });
    model.push({ batches: [], start: 0, end: 0, durableEnd: 0 });
  }
  let tagSeq = 0;
  try {
    for (const c of cmds) {
      switch (c.t) {
        case 'append': {
          const m = model[c.p]!;
          const bs = Array.from({ length: c.batches }, () => ({ tag: `t${tagSeq++}`, count: c.count }));
          const res = await engine.partition({ topic: 'm', partition: c.p }).append(await Promise.all(bs.map((b) => batchOf(b.tag, b.count))));
          for (const [i, b] of bs.entries()) {
            expect(res.baseOffsets[i]).toBe(m.end);
            m.batches.push({ base: m.end, count: b.count, tag: b.tag });
            m.end += b.count;
          }
          if (flush === 'always') m.durableEnd = m.end;
          break;
        }
        case 'read': {
          const m = model[c.p]!;
          await checkRead(engine, m, c.p, pick(m, c.at), c.maxBytes);
          break;
        }
        case 'truncate': {
          const m = model[c.p]!;
          const at = pick(m, c.at);
          await engine.partition({ topic: 'm', partition: c.p }).truncateTo(at);
          if (at < m.end) {
            m.batches = m.batches.filter((b) => b.base + b.count - 1 < at);
            m.end = Math.max(m.start, m.batches.at(-1) === undefined ? 0 : m.batches.at(-1)!.base + m.batches.at(-1)!.count);
            // A real truncation writes what is left of the memtable to an SSTable.
            m.durableEnd = m.end;
          }
          break;
        }
        case 'deleteBefore': {
          const m = model[c.p]!;
          // Under flush=interval only durable data may be deleted in this model (see finishRecovery).
          const limit = flush === 'always' ? m.end : m.durableEnd;
          if (limit < m.start) break;
          const at = m.start + (c.at % (limit - m.start + 1));
          const got = await engine.partition({ topic: 'm', partition: c.p }).deleteRecordsBefore(at);
          m.start = Math.max(m.start, at);
          expect(got).toBe(m.start);
          break;
        }
        case 'flush':
          await engine.flushAll();
          for (const m of model) m.durableEnd = m.end;
          break;
        case 'sync':
          await engine.sync();
          for (const m of model) m.durableEnd = m.end;
          break;
        case 'compact':
          await engine.maintain();
          break;
        case 'crash': {
          fs.crash({ tornWrites: c.torn });
          engine = await StorageEngine.open(opts);
          for (let p = 0; p < PARTITIONS; p++) {
            const m = model[p]!;
            const log = engine.partition({ topic: 'm', partition: p });
            // Everything durable survived; anything newer survived only as a prefix.
            expect(log.logEndOffset).toBeGreaterThanOrEqual(m.durableEnd);
            expect(log.logEndOffset).toBeLessThanOrEqual(m.end);
            const end = log.logEndOffset;
            m.batches = m.batches.filter((b) => b.base + b.count <= end);
            m.end = Math.max(m.start, end);
            m.durableEnd = m.end;
            await checkRead(engine, m, p, m.start, 1 << 20);
          }
          break;
        }
      }
    }
    for (let p = 0; p < PARTITIONS; p++) await checkRead(engine, model[p]!, p, model[p]!.start, 1 << 20);
  } catch (err) {
    if (err instanceof StorageError) throw new Error(`engine error ${err.code}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await engine.close().catch(() => undefined);
  }
}

const runs = process.env.STREAMBUS_LONG === "1" ? 1000 : Number(process.env.MODEL_RUNS ?? 150);
const seed = process.env.SEED === undefined ? undefined : Number(process.env.SEED);

describe('storage engine against a model', () => {
  for (const flush of ['always', 'interval'] as const) {
    it(`agrees with the model through crashes (flush=${flush})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 60 }), fc.nat(), (cmds, fsSeed) => run(cmds, flush, fsSeed)),
        { numRuns: runs, timeout: 10_000, ...(seed === undefined ? {} : { seed }) },
      );
    }, 120_000);
  }
});
