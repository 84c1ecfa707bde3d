import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchOf, ManualClock, memEngineOptions, TP, valuesOf } from '../test/helpers.js';
import { StorageEngine } from './engine.js';
import { type FileSystem } from './fs.js';
import { MemFileSystem, seededRandom } from './mem-fs.js';

/** Counts preallocations, so a test can tell recycled segments from freshly zero-filled ones. */
function counting(fs: MemFileSystem): { fs: FileSystem; preallocations: () => number } {
  let n = 0;
  const wrapped: FileSystem = Object.assign(Object.create(fs) as FileSystem, {
    preallocate: async (path: string, bytes: number) => {
      n++;
      await fs.preallocate(path, bytes);
    },
  });
  return { fs: wrapped, preallocations: () => n };
}

const walNames = (fs: MemFileSystem): string[] => fs.listFiles().filter((f) => f.startsWith('/data/wal/'));
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WAL segments: preallocated and recycled (ADR 0010)', () => {
  it('moves to a preallocated segment once one is ready, and recycles retired segments instead of zero-filling new ones', async () => {
    const mem = new MemFileSystem({ random: seededRandom(3) });
    const { fs, preallocations } = counting(mem);
    const clock = new ManualClock();
    const engine = await StorageEngine.open({ ...memEngineOptions(mem, clock, { walRollBytes: 4096, walSpareSegments: 1 }), fs });
    const p = await engine.createPartition(TP);
    let rolls = 0;
    let lastSeq = 0;
    for (let i = 0; i < 200; i++) {
      await p.append(await batchOf(`r${i}`, 40));
      const seq = Math.max(...walNames(mem).filter((f) => f.endsWith('.log')).map((f) => Number(f.slice(-16, -4))));
      if (seq !== lastSeq) rolls++;
      lastSeq = seq;
      if (i % 3 === 2) await engine.flushAll(); // retires every sealed segment
      await settle();
    }
    expect(engine.stats().walPreallocated).toBe(true);
    expect(rolls).toBeGreaterThan(20);
    // Zero-filled: the first spare and the few needed before flushes retired any segment; the rest were recycled.
    expect(preallocations()).toBeLessThan(rolls / 4);
    expect(walNames(mem).filter((f) => f.includes('spare-')).length).toBeLessThanOrEqual(1);
    expect(walNames(mem).some((f) => f.endsWith('.tmp'))).toBe(false);
    await engine.close();
    const again = await StorageEngine.open(memEngineOptions(mem, clock, { walRollBytes: 4096, walSpareSegments: 1 }));
    const r = await again.partition(TP).read(0, 1 << 20);
    expect(valuesOf(r.batches)).toHaveLength(8000);
    expect(valuesOf(r.batches).at(-1)).toBe('r199#39');
    await again.close();
  });

  it('keeps every acknowledged append across crashes that tear writes into recycled segments', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const fs = new MemFileSystem({ random: seededRandom(seed) });
      const clock = new ManualClock();
      const opts = memEngineOptions(fs, clock, { walRollBytes: 2048, walSpareSegments: 1, memtableBytesMax: 1 << 20 });
      const acked: string[] = [];
      let n = 0;
      for (let life = 0; life < 4; life++) {
        const engine = await StorageEngine.open(opts);
        const p = engine.listPartitions().length > 0 ? engine.partition(TP) : await engine.createPartition(TP);
        expect(valuesOf((await p.read(0, 1 << 22)).batches)).toEqual(acked);
        // Appends in flight together, so a crash can land inside a group commit.
        for (let round = 0; round < 15; round++) {
          const tags = [0, 1, 2].map(() => `s${seed}-${n++}`);
          const done = await Promise.all(tags.map(async (t) => p.append(await batchOf(t, 1)).then(() => t)));
          acked.push(...done.map((t) => `${t}#0`));
          if (round % 5 === 4) await engine.flushAll();
          await settle();
        }
        // Unacknowledged writes in flight at the crash may or may not survive; acknowledged ones must.
        void p.append(await batchOf(`s${seed}-lost`, 1)).catch(() => undefined);
        fs.crash({ tornWrites: true, garbleTornTail: seed % 2 === 0 });
      }
      const engine = await StorageEngine.open(opts);
      const values = valuesOf((await engine.partition(TP).read(0, 1 << 22)).batches);
      expect(values.slice(0, acked.length)).toEqual(acked);
      expect(values.length - acked.length).toBeLessThanOrEqual(1);
      await engine.close();
    }
  });

  it('appends to plain files when a spare cannot be prepared (no space), and says so in stats', async () => {
    const fs = new MemFileSystem({ random: seededRandom(4), capacityBytes: 256 * 1024 });
    const clock = new ManualClock();
    const engine = await StorageEngine.open(memEngineOptions(fs, clock, { walRollBytes: 1 << 20, walSpareSegments: 1 }));
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 20; i++) await p.append(await batchOf(`n${i}`, 2));
    await settle();
    expect(engine.stats().walPreallocated).toBe(false);
    expect(engine.stats().walSpares).toBe(0);
    expect(walNames(fs).some((f) => f.includes('spare-'))).toBe(false);
    expect(valuesOf((await p.read(0, 1 << 20)).batches)).toHaveLength(40);
    await engine.close();
  });

  it('on a real disk: writes into a zero-filled segment of walRollBytes and reads it back after a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streambus-wal-'));
    try {
      const opts = { dir, flush: 'always' as const, walRollBytes: 1 << 20, walSpareSegments: 1, maintenanceIntervalMs: 0 };
      const engine = await StorageEngine.open(opts);
      const p = await engine.createPartition(TP);
      for (let i = 0; i < 200 && !engine.stats().walPreallocated; i++) {
        await p.append(await batchOf(`d${i}`, 1));
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(engine.stats().walPreallocated).toBe(true);
      const before = p.logEndOffset;
      for (let i = 0; i < 50; i++) await p.append(await batchOf(`e${i}`, 4));
      const logs = (await readdir(join(dir, 'wal'))).filter((f) => f.endsWith('.log')).sort();
      // The segment being written keeps its preallocated length: appends overwrite, not grow.
      expect((await stat(join(dir, 'wal', logs.at(-1)!))).size).toBe(1 << 20);
      await engine.close();
      const again = await StorageEngine.open(opts);
      const r = await again.partition(TP).read(before, 1 << 20);
      expect(valuesOf(r.batches)).toHaveLength(200);
      expect(valuesOf(r.batches).at(-1)).toBe('e49#3');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
