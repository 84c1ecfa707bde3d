import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchFrom, batchOf, type ManualClock, memEngineOptions, openMem, TP, valuesOf } from '../test/helpers.js';
import { parseBatchHeader } from './batch.js';
import { StorageEngine } from './engine.js';
import { NodeFileSystem, type FileSystem } from './fs.js';
import { FrameType, parseLog, type Frame } from './log-format.js';
import { type MemFileSystem } from './mem-fs.js';
import { isStorageError, StorageError } from './errors.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  throw new Error('expected a StorageError');
}

describe('partition API', () => {
  it('assigns dense offsets, rewrites baseOffset in place and serves tail reads from the memtable', async () => {
    const { engine } = await openMem();
    const p = await engine.createPartition(TP);
    const b1 = await batchOf('a', 3);
    const b2 = await batchOf('b', 2);
    expect((await p.append([b1, b2])).baseOffsets).toEqual([0, 3]);
    expect(parseBatchHeader(b2).baseOffset).toBe(3);
    expect(p.logEndOffset).toBe(5);
    const r = await p.read(4, 1 << 20);
    expect(valuesOf(r.batches)).toEqual(['b#0', 'b#1']);
    expect(await p.read(5, 100)).toMatchObject({ batches: [], bytes: 0 });
    await engine.close();
  });

  it('reads the same bytes from SSTables after a flush, across many blocks', async () => {
    const { engine } = await openMem(1, { blockBytes: 256 });
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 40; i++) await p.append(await batchOf(`v${i}`, 2));
    const before = await p.read(0, 1 << 20);
    await engine.flushAll();
    expect(engine.stats().memtableBytes).toBe(0);
    const after = await p.read(0, 1 << 20);
    expect(Buffer.concat(after.batches)).toEqual(Buffer.concat(before.batches));
    const mid = await p.read(41, 300);
    expect(valuesOf(mid.batches)[0]).toBe('v20#0');
    await engine.close();
  });

  it('returns at least one whole batch even when it exceeds maxBytes', async () => {
    const { engine } = await openMem();
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('big', 50));
    expect((await p.read(0, 1)).batches).toHaveLength(1);
    await engine.flushAll();
    expect((await p.read(10, 1)).batches).toHaveLength(1);
    await engine.close();
  });

  it('rejects bad input with typed errors', async () => {
    const { engine } = await openMem();
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('a', 2));
    expect(await codeOf(p.read(3, 10))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await codeOf(p.read(-1, 10))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(p.read(0, 0))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(p.read(1.5, 10))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(p.append(Buffer.from('not a batch at all, definitely not')))).toBe('INVALID_RECORD');
    const corrupt = await batchOf('c', 1);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 1;
    expect(await codeOf(p.append(corrupt))).toBe('INVALID_RECORD');
    expect(await codeOf(p.append([]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(p.deleteRecordsBefore(99))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await codeOf(engine.createPartition(TP))).toBe('PARTITION_EXISTS');
    expect(() => engine.partition({ topic: 'nope', partition: 0 })).toThrow(StorageError);
    expect(await codeOf(engine.createPartition({ topic: '', partition: 0 }))).toBe('INVALID_ARGUMENT');
    const follower = await batchOf('f', 1);
    expect(await codeOf(p.append(follower, { assignOffsets: false }))).toBe('INVALID_RECORD');
    expect(p.logEndOffset).toBe(2);
    await engine.close();
    expect(await codeOf(p.read(0, 10))).toBe('CLOSED');
  });

  it('truncates whole batches, in memtable and SSTables, and the truncation survives a crash', async () => {
    const { fs, clock, engine } = await openMem();
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 5; i++) await p.append(await batchOf(`a${i}`, 2));
    await engine.flushAll();
    for (let i = 5; i < 8; i++) await p.append(await batchOf(`a${i}`, 2));
    await p.truncateTo(12);
    expect(p.logEndOffset).toBe(12);
    await p.truncateTo(5);
    expect(p.logEndOffset).toBe(4);
    expect((await p.append(await batchOf('new', 1))).baseOffsets).toEqual([4]);
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    const p2 = e2.partition(TP);
    expect(p2.logEndOffset).toBe(5);
    expect(valuesOf((await p2.read(0, 1 << 20)).batches)).toEqual(['a0#0', 'a0#1', 'a1#0', 'a1#1', 'new#0']);
    expect(await codeOf(p2.truncateTo(-1))).toBe('INVALID_ARGUMENT');
    await p2.deleteRecordsBefore(2);
    expect(await codeOf(p2.truncateTo(1))).toBe('OFFSET_OUT_OF_RANGE');
    await e2.close();
  });

  it('deleteRecordsBefore advances the log start offset durably and drops whole files', async () => {
    const { fs, clock, engine } = await openMem();
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 3; i++) {
      await p.append(await batchOf(`x${i}`, 2));
      await engine.flushAll();
    }
    expect(await p.deleteRecordsBefore(3)).toBe(3);
    expect(p.tables).toHaveLength(2);
    expect(await codeOf(p.read(2, 10))).toBe('OFFSET_OUT_OF_RANGE');
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(e2.partition(TP).logStartOffset).toBe(3);
    await e2.close();
  });

  it('finds offsets by timestamp at record level', async () => {
    const { engine } = await openMem();
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('t', 5, 1000));
    await engine.flushAll();
    await p.append(await batchOf('u', 5, 2000));
    expect(await p.offsetForTimestamp(0)).toBe(0);
    expect(await p.offsetForTimestamp(1003)).toBe(3);
    expect(await p.offsetForTimestamp(1500)).toBe(5);
    expect(await p.offsetForTimestamp(2004)).toBe(9);
    expect(await p.offsetForTimestamp(3000)).toBeNull();
    await engine.close();
  });

  it('keeps a leader-epoch cache that is persisted and truncated with the log', async () => {
    const { fs, clock, engine } = await openMem();
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('a', 2), { leaderEpoch: 1 });
    await p.append(await batchOf('b', 2), { leaderEpoch: 1 });
    await engine.flushAll();
    await p.append(await batchOf('c', 2), { leaderEpoch: 3 });
    await p.assignLeaderEpoch(5);
    expect(p.leaderEpochs).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 4 },
      { epoch: 5, startOffset: 6 },
    ]);
    expect(p.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 4 });
    expect(p.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 6 });
    expect(p.endOffsetForEpoch(0)).toEqual({ epoch: -1, endOffset: -1 });
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    const p2 = e2.partition(TP);
    expect(p2.leaderEpochs.map((e) => e.epoch)).toEqual([1, 3, 5]);
    await p2.truncateTo(4);
    expect(p2.leaderEpochs).toEqual([{ epoch: 1, startOffset: 0 }]);
    await e2.close();
  });

  it('creates, lists and deletes partitions; a deleted partition stays deleted after a crash', async () => {
    const { fs, clock, engine } = await openMem();
    const a = await engine.createPartition({ topic: 't', partition: 0 });
    await engine.createPartition({ topic: 't', partition: 1 });
    await a.append(await batchOf('z', 1));
    await engine.flushAll();
    await engine.deletePartition({ topic: 't', partition: 0 });
    expect(engine.listPartitions()).toEqual([{ topic: 't', partition: 1 }]);
    expect(await codeOf(a.append(await batchOf('late', 1)))).toBe('PARTITION_NOT_FOUND');
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(e2.listPartitions()).toEqual([{ topic: 't', partition: 1 }]);
    expect(fs.listFiles().filter((f) => f.endsWith('.sst'))).toEqual([]);
    await e2.close();
  });
});

describe('group commit and durability', () => {
  it('shares one fdatasync among concurrent appends from many partitions', async () => {
    const { fs, engine } = await openMem();
    const parts = await Promise.all(Array.from({ length: 16 }, (_, i) => engine.createPartition({ topic: 'g', partition: i })));
    const before = fs.stats.datasyncs;
    await Promise.all(parts.map(async (p, i) => p.append(await batchOf(`g${i}`, 1))));
    const used = fs.stats.datasyncs - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(2);
    await engine.close();
  });

  it('appenders that each wait for their previous append still share one fdatasync per round (real files)', async () => {
    // On real files the fsync resolves from the thread pool and the appenders' continuations
    // arrive a few microtasks apart: the WAL must wait for all of them before the next group.
    const dir = await mkdtemp(join(tmpdir(), 'streambus-rounds-'));
    const real = new NodeFileSystem();
    let datasyncs = 0;
    const counting: FileSystem = Object.assign(Object.create(real) as FileSystem, {
      openAppend: async (path: string, options?: { truncate?: boolean }) => {
        const file = await real.openAppend(path, options);
        const datasync = file.datasync.bind(file);
        file.datasync = async () => {
          datasyncs++;
          await datasync();
        };
        return file;
      },
    });
    const engine = await StorageEngine.open({ dir, fs: counting, flush: 'always', maintenanceIntervalMs: 0 });
    try {
      const parts = await Promise.all(Array.from({ length: 16 }, (_, i) => engine.createPartition({ topic: 'r', partition: i })));
      const batches = await Promise.all(parts.map(async (_, i) => Promise.all(Array.from({ length: 20 }, async (_, k) => batchOf(`r${i}-${k}`, 1)))));
      const before = datasyncs;
      await Promise.all(
        parts.map(async (p, i) => {
          for (const b of batches[i] ?? []) await p.append(b);
        }),
      );
      // 20 rounds of 16 appends; a little slack for a round split by a slow wake-up.
      expect(datasyncs - before).toBeLessThanOrEqual(24);
      for (const p of parts) expect(p.logEndOffset).toBe(20);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('flush=always: every resolved append survives a crash that loses unsynced writes', async () => {
    const { fs, clock, engine } = await openMem(7);
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 20; i++) await p.append(await batchOf(`d${i}`, 1));
    fs.crash({ tornWrites: true });
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(e2.partition(TP).logEndOffset).toBe(20);
    await e2.close();
  });

  it('flush=interval: appends resolve before fsync and sync() makes them durable', async () => {
    const { fs, clock, engine } = await openMem(3, { flush: 'interval', flushIntervalMs: 3_600_000 });
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('i', 1));
    await engine.sync();
    await p.append(await batchOf('j', 1));
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(e2.partition(TP).logEndOffset).toBe(1);
    await e2.close();
  });

  it('recovers with a memtable budget smaller than the WAL by flushing while replaying', async () => {
    const { fs, clock, engine } = await openMem(5, { memtableBytesMax: 1 << 20 });
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 200; i++) await p.append(await batchFrom([{ value: Buffer.alloc(1000, i) }]));
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock, { memtableBytesMax: 50_000 }));
    expect(e2.partition(TP).logEndOffset).toBe(200);
    expect(e2.stats().memtableBytesPeak).toBeLessThanOrEqual(50_000 + 2_000);
    await e2.close();
  });

  it('keeps memtables within the budget under load', async () => {
    const { engine } = await openMem(2, { memtableBytesMax: 64 * 1024 });
    const parts = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.createPartition({ topic: 'm', partition: i })));
    for (let round = 0; round < 20; round++) {
      await Promise.all(parts.map(async (p) => p.append(await batchFrom([{ value: Buffer.alloc(2000, round) }]))));
    }
    expect(engine.stats().memtableBytesPeak).toBeLessThanOrEqual(64 * 1024 + 8 * 2100);
    for (const p of parts) expect(p.logEndOffset).toBe(20);
    await engine.close();
  });

  it('keeps a batch appended as a view into a larger buffer without pinning that buffer', async () => {
    const { engine } = await openMem(3);
    const log = await engine.createPartition(TP);
    // As a produce request carrying several partitions' batches delivers them.
    const batch = await batchOf('view', 3);
    const request = Buffer.alloc(1024 * 1024);
    batch.copy(request, 4096);
    await log.append(request.subarray(4096, 4096 + batch.length));
    // A batch that is its whole allocation is kept as it is.
    const wholeBatch = await batchOf('whole', 2);
    const whole = Buffer.allocUnsafeSlow(wholeBatch.length);
    wholeBatch.copy(whole);
    await log.append(whole);
    const read = (await log.read(0, 1 << 20)).batches;
    expect(valuesOf(read)).toEqual(['view#0', 'view#1', 'view#2', 'whole#0', 'whole#1']);
    expect(read[0]?.buffer.byteLength).toBe(batch.length);
    expect(read[1]?.buffer).toBe(whole.buffer);
    await engine.close();
  });

  it('deletes WAL files once every partition has flushed past them', async () => {
    const { engine } = await openMem(1, { walRollBytes: 4096 });
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 50; i++) await p.append(await batchFrom([{ value: Buffer.alloc(500) }]));
    expect(engine.stats().walFiles).toBeGreaterThan(3);
    await engine.flushAll();
    expect(engine.stats().walFiles).toBe(1);
    await engine.close();
  });
});

describe('faults', () => {
  // Both WAL layouts: plain files that grow, and preallocated segments that are overwritten (ADR 0010).
  for (const spares of [0, 1]) {
    const layout = spares === 0 ? 'plain WAL files' : 'preallocated WAL segments';

    /** The WAL file holding the data and the frames in it, the engine closed. */
    const dataSegment = async (seed: number): Promise<{ fs: MemFileSystem; clock: ManualClock; path: string; frames: Frame[]; bytes: Buffer }> => {
      const { fs, clock, engine } = await openMem(seed, { walSpareSegments: spares });
      const p = await engine.createPartition(TP);
      for (let i = 0; i < 10; i++) await p.append(await batchOf(`w${i}`, 1));
      expect(engine.stats().walPreallocated).toBe(spares > 0);
      await engine.close();
      const path = fs.listFiles().filter((f) => /\/wal\/\d{12}\.log$/.test(f)).at(-1)!;
      const bytes = fs.fileBytes(path);
      const frames = parseLog(bytes, 1 << 20, Number(path.slice(-16, -4))).frames;
      expect(frames.filter((f) => f.type === FrameType.walSegmentAppend)).toHaveLength(10);
      expect(bytes.length > (frames.at(-1)?.end ?? 0)).toBe(spares > 0); // the rest of the preallocated file
      return { fs, clock, path, frames, bytes };
    };

    /** Replaces a file's content in place (same length), durably. */
    const rewrite = async (fs: MemFileSystem, path: string, content: Buffer): Promise<void> => {
      const f = await fs.openOverwrite(path);
      await f.append([content]);
      await f.datasync();
      await f.close();
    };

    it(`cuts a torn WAL tail and keeps every complete frame before it (${layout})`, async () => {
      const { fs, clock, path, frames, bytes } = await dataSegment(11);
      // The last append only partly reached the disk, and the segment was never sealed.
      const last = frames.filter((f) => f.type === FrameType.walSegmentAppend).at(-1)!;
      bytes.fill(0, last.end - 7, frames.at(-1)!.end);
      await rewrite(fs, path, bytes);
      const e2 = await StorageEngine.open(memEngineOptions(fs, clock, { walSpareSegments: spares }));
      expect(e2.partition(TP).logEndOffset).toBe(9);
      await e2.close();
    });

    it(`reports corruption followed by valid frames instead of skipping it (${layout})`, async () => {
      const { fs, clock, path } = await dataSegment(12);
      fs.flipBit(path, 200, 2);
      const err: unknown = await StorageEngine.open(memEngineOptions(fs, clock, { walSpareSegments: spares })).catch((e: unknown) => e);
      expect(isStorageError(err, 'CORRUPTION')).toBe(true);
      expect((err as StorageError).file).toBe(path);
      expect((err as StorageError).position).toBeLessThanOrEqual(200);
    });
  }

  it('detects a corrupt SSTable block on read and names the file and position', async () => {
    const { fs, clock, engine } = await openMem(13);
    const p = await engine.createPartition(TP);
    for (let i = 0; i < 10; i++) await p.append(await batchOf(`s${i}`, 1));
    await engine.flushAll();
    await engine.close();
    const sst = fs.listFiles().find((f) => f.endsWith('.sst'))!;
    fs.flipBit(sst, 100, 0);
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    const err: unknown = await e2.partition(TP).read(0, 1 << 20).catch((e: unknown) => e);
    expect(isStorageError(err, 'CORRUPTION')).toBe(true);
    expect((err as StorageError).file).toBe(sst);
    // the batch holding the flipped byte starts at or before it
    expect((err as StorageError).position).toBeLessThanOrEqual(100);
    expect((err as StorageError).position).toBeGreaterThan(100 - 80);
    await e2.close();
  });

  it('reports a corrupt SSTable footer when the engine opens', async () => {
    const { fs, clock, engine } = await openMem(14);
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('f', 1));
    await engine.flushAll();
    await engine.close();
    const sst = fs.listFiles().find((f) => f.endsWith('.sst'))!;
    fs.flipBit(sst, fs.fileBytes(sst).length - 20, 1);
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(e2.corruptTables).toHaveLength(1);
    expect(e2.corruptTables[0]?.error.file).toBe(sst);
    await e2.close();
  });

  for (const [name, rule] of [
    ['ENOSPC on write', { op: 'write', code: 'ENOSPC' }],
    ['EIO on write', { op: 'write', code: 'EIO', partialWrite: true }],
    ['fsync failure', { op: 'datasync', code: 'EIO' }],
  ] as const) {
    it(`${name}: fails the append, stops appends, keeps reads, and resumes after reopen`, async () => {
      const { fs, clock, engine } = await openMem(21);
      const p = await engine.createPartition(TP);
      await p.append(await batchOf('ok', 2));
      fs.injectFault({ ...rule, pathIncludes: '/wal/' });
      expect(await codeOf(p.append(await batchOf('bad', 1)))).toBe('STORAGE_FAILED');
      fs.clearFaults();
      expect(await codeOf(p.append(await batchOf('after', 1)))).toBe('STORAGE_FAILED');
      expect(engine.failed?.code).toBe('STORAGE_FAILED');
      expect(valuesOf((await p.read(0, 1000)).batches)).toEqual(['ok#0', 'ok#1']);
      await engine.close();
      fs.crash();
      const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
      const p2 = e2.partition(TP);
      expect(p2.logEndOffset).toBe(2);
      expect((await p2.append(await batchOf('again', 1))).baseOffsets).toEqual([2]);
      await e2.close();
    });
  }

  it('fails stop when an SSTable flush hits ENOSPC, and loses nothing', async () => {
    const { fs, clock, engine } = await openMem(22);
    const p = await engine.createPartition(TP);
    await p.append(await batchOf('keep', 3));
    fs.injectFault({ op: 'write', code: 'ENOSPC', pathIncludes: '/sst/' });
    expect(await codeOf(engine.flushAll())).toBe('STORAGE_FAILED');
    expect(await codeOf(p.append(await batchOf('x', 1)))).toBe('STORAGE_FAILED');
    await engine.close();
    fs.clearFaults();
    fs.crash();
    const e2 = await StorageEngine.open(memEngineOptions(fs, clock));
    expect(valuesOf((await e2.partition(TP).read(0, 1000)).batches)).toEqual(['keep#0', 'keep#1', 'keep#2']);
    await e2.close();
  });
});

describe('retention and compaction', () => {
  it('drops whole SSTables past retention.ms and advances the log start offset', async () => {
    const { clock, engine } = await openMem(31);
    const p = await engine.createPartition(TP, { retentionMs: 1000 });
    await p.append(await batchOf('old', 2, clock.ms - 5000));
    await engine.flushAll();
    await p.append(await batchOf('new', 2, clock.ms));
    await engine.flushAll();
    await engine.maintain();
    expect(p.logStartOffset).toBe(2);
    expect(p.tables).toHaveLength(1);
    await engine.close();
  });

  it('drops the oldest SSTables past retention.bytes', async () => {
    const { engine } = await openMem(32);
    const p = await engine.createPartition(TP, { retentionBytes: 1, retentionMs: -1 });
    for (let i = 0; i < 3; i++) {
      await p.append(await batchOf(`r${i}`, 1));
      await engine.flushAll();
    }
    await engine.maintain();
    expect(p.tables).toHaveLength(1);
    expect(p.logStartOffset).toBe(2);
    await engine.close();
  });

  it('merges small SSTables into one without changing what reads return', async () => {
    const { engine } = await openMem(33, { compactionMinTables: 3 });
    const p = await engine.createPartition(TP, { retentionMs: -1 });
    for (let i = 0; i < 6; i++) {
      await p.append(await batchOf(`m${i}`, 2));
      await engine.flushAll();
    }
    const before = await p.read(0, 1 << 20);
    await engine.maintain();
    expect(p.tables).toHaveLength(1);
    const after = await p.read(0, 1 << 20);
    expect(valuesOf(after.batches)).toEqual(valuesOf(before.batches));
    expect(after.batches.length).toBe(6);
    await engine.close();
  });

  it('counts the bytes it writes (WAL, flushes, merges) and reports every WAL fdatasync', async () => {
    const syncs: number[] = [];
    const { engine } = await openMem(35, { compactionMinTables: 3, flush: 'always', onWalSync: (s) => syncs.push(s) });
    const p = await engine.createPartition(TP, { retentionMs: -1 });
    let appended = 0;
    for (let i = 0; i < 6; i++) {
      const batch = await batchOf(`w${i}`, 2);
      appended += batch.length;
      await p.append(batch);
      await engine.flushAll();
    }
    const afterFlushes = engine.stats();
    expect(afterFlushes.walBytesWritten).toBeGreaterThan(appended); // frames add headers
    expect(afterFlushes.flushedBytes).toBeGreaterThan(appended); // tables add blocks, indexes, footer
    expect(afterFlushes.compactedBytes).toBe(0);
    expect(syncs.length).toBeGreaterThanOrEqual(6);
    expect(syncs.every((s) => s >= 0 && s < 60)).toBe(true);
    await engine.maintain();
    expect(engine.stats().compactions).toBe(1);
    expect(engine.stats().compactedBytes).toBeGreaterThan(appended);
    await engine.close();
  });

  it('a partition deleted while its tables are being merged is no storage failure', async () => {
    // Every interleaving of the delete with the merge's reads, by how long the delete waits.
    for (let ticks = 0; ticks < 12; ticks++) {
      const { engine } = await openMem(40 + ticks, { compactionMinTables: 3 });
      const doomed = await engine.createPartition(TP, { retentionMs: -1 });
      const other = await engine.createPartition({ topic: 'other', partition: 0 }, { retentionMs: -1 });
      for (let i = 0; i < 6; i++) {
        await doomed.append(await batchOf(`m${i}`, 2));
        await engine.flushAll();
      }
      const maintenance = engine.maintain();
      for (let t = 0; t < ticks; t++) await new Promise((resolve) => setImmediate(resolve));
      await engine.deletePartition(TP);
      await maintenance;
      expect(engine.failed).toBeNull();
      const r = await other.append(await batchOf('after', 1));
      expect(r.lastOffset).toBe(0);
      await engine.close();
    }
  });

  it('cleanup.policy=compact keeps the newest record per key and drops old tombstones', async () => {
    const { clock, engine } = await openMem(34);
    const p = await engine.createPartition(TP, { cleanupPolicy: 'compact', retentionMs: -1, deleteRetentionMs: 1000 });
    const rec = (key: string, value: string | null, ts: number) => ({ key: Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp: ts });
    await p.append(await batchFrom([rec('a', 'a1', clock.ms), rec('b', 'b1', clock.ms), rec('c', 'c1', clock.ms)]));
    await p.append(await batchFrom([rec('a', 'a2', clock.ms), rec('b', null, clock.ms)]));
    await engine.flushAll();
    await engine.maintain();
    let values = (await p.read(0, 1 << 20)).batches.map((b) => b.toString('latin1'));
    expect(values.join('')).toContain('a2');
    expect(values.join('')).not.toContain('a1');
    expect(values.join('')).not.toContain('b1');
    expect(values.join('')).toContain('c1');
    clock.ms += 10_000;
    // no new data: the tombstone still expires
    await engine.maintain();
    expect(Buffer.concat((await p.read(0, 1 << 20)).batches).includes(Buffer.from('b'))).toBe(false);
    await p.append(await batchFrom([rec('d', 'd1', clock.ms)]));
    await engine.flushAll();
    await engine.maintain();
    values = (await p.read(0, 1 << 20)).batches.map((b) => b.toString('latin1'));
    const all = Buffer.concat((await p.read(0, 1 << 20)).batches);
    expect(values.join('')).toContain('d1');
    // the tombstone for b is gone: only a, c, d keys remain
    expect(all.includes(Buffer.from('b'))).toBe(false);
    expect(p.logEndOffset).toBe(6);
    await engine.close();
  });
});
