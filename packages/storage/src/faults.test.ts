import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchOf, ManualClock, memEngineOptions, valuesOf } from '../test/helpers.js';
import { StorageEngine } from './engine.js';
import { isStorageError } from './errors.js';
import { MemFileSystem, seededRandom, type FaultOp } from './mem-fs.js';

/**
 * A fault (ENOSPC or EIO) strikes a random file-system call during a random workload (appends,
 * flushes, WAL rolls, compaction). The engine must fail stop with STORAGE_FAILED, never report
 * a write it did not make durable, and after a crash that loses unsynced (and tears) writes, a
 * reopen must find every acknowledged append intact and in order.
 */
const OPS: FaultOp[] = ['write', 'datasync', 'rename', 'syncDir', 'open', 'unlink'];
const runs = process.env.STREAMBUS_LONG === '1' ? 500 : 60;

async function scenario(seed: number, op: FaultOp, skip: number, code: 'ENOSPC' | 'EIO'): Promise<void> {
  const fs = new MemFileSystem({ random: seededRandom(seed) });
  const clock = new ManualClock();
  const opts = memEngineOptions(fs, clock, { walRollBytes: 2048, memtableBytesMax: 4096, compactionMinTables: 2, defaultPartitionConfig: { segmentBytes: 2048, retentionMs: -1 } });
  const engine = await StorageEngine.open(opts);
  const parts = [await engine.createPartition({ topic: 'f', partition: 0 }), await engine.createPartition({ topic: 'f', partition: 1 })];
  const acked: string[][] = [[], []];
  fs.injectFault({ op, code, skip, times: 1, partialWrite: op === 'write' });
  let failed = false;
  for (let i = 0; i < 60 && !failed; i++) {
    const p = i % 2;
    const tag = `p${p}-${i}`;
    try {
      await parts[p]!.append(await batchOf(tag, 1 + (i % 3)));
      acked[p]!.push(...Array.from({ length: 1 + (i % 3) }, (_, k) => `${tag}#${k}`));
      if (i % 7 === 6) await engine.flushAll();
      if (i % 11 === 10) await engine.maintain();
    } catch (err) {
      expect(isStorageError(err)).toBe(true);
      if (isStorageError(err, 'STORAGE_FAILED')) failed = true;
      else throw err;
    }
  }
  if (failed) {
    expect(engine.failed?.code).toBe('STORAGE_FAILED');
    // reads keep working after fail-stop
    for (const [p, log] of parts.entries()) expect(valuesOf((await log.read(log.logStartOffset, 1 << 20)).batches).slice(0, acked[p]!.length)).toEqual(acked[p]);
  }
  await engine.close();
  fs.clearFaults();
  fs.crash({ tornWrites: true });
  const reopened = await StorageEngine.open(opts);
  for (let p = 0; p < 2; p++) {
    const log = reopened.partition({ topic: 'f', partition: p });
    const got: string[] = [];
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const r = await log.read(offset, 1 << 20);
      got.push(...valuesOf(r.batches));
      offset = log.logStartOffset + got.length;
    }
    // every acknowledged record is there, in order, and nothing else precedes it
    expect(got.slice(0, acked[p]!.length)).toEqual(acked[p]);
    expect(got.length - acked[p]!.length).toBeLessThanOrEqual(3);
  }
  await reopened.close();
}

describe('fault injection', () => {
  it('fails stop on ENOSPC/EIO anywhere and loses no acknowledged append', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...OPS), fc.nat(120), fc.constantFrom('ENOSPC' as const, 'EIO' as const), (seed, op, skip, code) => scenario(seed, op, skip, code)),
      { numRuns: runs, ...(process.env.SEED === undefined ? {} : { seed: Number(process.env.SEED) }) },
    );
  }, 120_000);
});
