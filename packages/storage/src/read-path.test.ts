import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchOf, ManualClock, memEngineOptions, openMem, TP, valuesOf } from '../test/helpers.js';
import { StorageEngine } from './engine.js';
import { MemFileSystem, seededRandom } from './mem-fs.js';

/** SSTable read-ahead and multi-file WAL recovery (the next file is read while one is replayed). */
describe('read path and recovery', () => {
  it('serves every batch once, in order, whatever the read sizes and jumps (read-ahead on)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ jump: fc.boolean(), to: fc.nat(199), maxBytes: fc.integer({ min: 1, max: 3000 }) }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 64, max: 2048 }), async (steps, blockBytes) => {
        const { engine } = await openMem(9, { blockBytes, readAheadBytes: 1024 });
        try {
          const p = await engine.createPartition(TP);
          for (let i = 0; i < 100; i++) await p.append(await batchOf(`r${i}`, 2));
          await engine.flushAll();
          let at = 0;
          for (const s of steps) {
            if (s.jump) at = s.to;
            if (at >= p.logEndOffset) at = 0;
            const r = await p.read(at, s.maxBytes);
            const values = valuesOf(r.batches);
            expect(values.length).toBeGreaterThan(0);
            // Whole batches from the one holding `at`, contiguous.
            const firstBatch = Math.floor(at / 2);
            expect(values).toEqual(Array.from({ length: values.length }, (_, k) => `r${firstBatch + Math.floor(k / 2)}#${k % 2}`));
            at = (firstBatch + values.length / 2) * 2;
          }
        } finally {
          await engine.close();
        }
      }),
      { numRuns: process.env.STREAMBUS_LONG === '1' ? 300 : 40, ...(process.env.SEED === undefined ? {} : { seed: Number(process.env.SEED) }) },
    );
  });

  it('reads each SSTable byte once when a consumer reads sequentially: a read stops where the next batch does not fit', async () => {
    const { fs, engine } = await openMem(14, { blockBytes: 16 * 1024 });
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 120; i++) await p.append(await batchOf(`s${i}-${'x'.repeat(4000)}`, 1));
    await engine.flushAll();
    const tableBytes = fs.listFiles().filter((f) => f.endsWith('.sst')).reduce((n, f) => n + fs.fileBytes(f).length, 0);
    await engine.close();
    const again = await StorageEngine.open(memEngineOptions(fs, new ManualClock()));
    const log = again.partition(TP);
    const before = fs.stats.bytesRead;
    let at = 0;
    let calls = 0;
    while (at < log.logEndOffset) {
      const r = await log.read(at, 40 * 1024);
      at += r.batches.length;
      calls++;
    }
    // Data blocks read once (plus footer and indexes at open), not a sliver of the next span per call.
    expect(fs.stats.bytesRead - before).toBeLessThan(tableBytes * 1.05);
    expect(calls).toBeLessThanOrEqual(Math.ceil(tableBytes / (32 * 1024)));
    await again.close();
  });

  it('recovers a WAL spread over many files', async () => {
    const fs = new MemFileSystem({ random: seededRandom(10) });
    const clock = new ManualClock();
    const options = memEngineOptions(fs, clock, { walRollBytes: 4096, flush: 'always' });
    const engine = await StorageEngine.open(options);
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 120; i++) await p.append(await batchOf(`w${i}`, 3));
    expect(engine.stats().walFiles).toBeGreaterThan(3);
    await engine.close();
    const again = await StorageEngine.open(options);
    const log = again.partition(TP);
    expect(log.logEndOffset).toBe(360);
    const values = valuesOf((await log.read(0, 1 << 20)).batches);
    expect(values).toEqual(Array.from({ length: 360 }, (_, k) => `w${Math.floor(k / 3)}#${k % 3}`));
    await again.close();
  });
});
