import { posix } from 'node:path';
import { type Clock, resolveOptions, resolvePartitionConfig, type ResolvedOptions, type StorageOptions } from './config.js';
import { StorageError, invalidArgument, isStorageError } from './errors.js';
import { Manifest, type PartitionConfig, type PartitionState, type VersionEdit } from './manifest.js';
import { PartitionLog, partitionKey, type EngineContext, type TopicPartition } from './partition.js';
import { compactKeys, mergeSmallTables } from './compaction.js';
import { SstReader, tableFileName } from './sstable.js';
import { TableCache } from './table-cache.js';
import { replayWal, Wal, walFileName, type WalPosition } from './wal.js';

const FRAME_OVERHEAD_BYTES = 64;

export interface CorruptTable {
  readonly topic: string;
  readonly partition: number;
  readonly error: StorageError;
}

export interface EngineStats {
  readonly memtableBytes: number;
  readonly memtableBytesPeak: number;
  readonly partitions: number;
  readonly tables: number;
  readonly walFiles: number;
  /** The WAL is overwriting a preallocated segment (ADR 0010), not growing a plain file. */
  readonly walPreallocated: boolean;
  /** Preallocated WAL segments ready for the next roll. */
  readonly walSpares: number;
  readonly flushes: number;
  readonly compactions: number;
  /** WAL frame bytes written since open. */
  readonly walBytesWritten: number;
  /** SSTable bytes written from memtables (flushes, and the memtable rest of a truncation). */
  readonly flushedBytes: number;
  /** SSTable bytes written by merges, key compaction and truncation rewrites. */
  readonly compactedBytes: number;
}

/**
 * The broker's storage engine: one WAL, one manifest, and a PartitionLog per partition.
 * Open with StorageEngine.open(); it recovers from the manifest and the WAL first.
 */
export class StorageEngine {
  private readonly byKey = new Map<string, PartitionLog>();
  private readonly byId = new Map<number, PartitionLog>();
  private wal: Wal | null = null;
  private failure: StorageError | null = null;
  private closed = false;
  private nextFile: number;
  private nextPartitionId = 1;
  private memBytes = 0;
  /** Bytes of appends admitted but not yet in a memtable. */
  private reservedBytes = 0;
  private memPeak = 0;
  private budgetWaiters: (() => void)[] = [];
  private flushQueue = new Set<PartitionLog>();
  private readonly flushing = new Set<PartitionLog>();
  private flusher: Promise<void> | null = null;
  private maintenance: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private counters = { flushes: 0, compactions: 0, flushedBytes: 0, compactedBytes: 0 };
  private readonly ctx: EngineContext;
  readonly corruptTables: CorruptTable[] = [];

  private constructor(
    readonly options: ResolvedOptions,
    private readonly manifest: Manifest,
    private readonly tableCache: TableCache,
    private readonly sstDir: string,
    private readonly walDir: string,
  ) {
    this.nextFile = manifest.state.nextFileNumber;
    this.ctx = this.makeContext();
  }

  static async open(input: StorageOptions): Promise<StorageEngine> {
    const options = resolveOptions(input);
    const { fs, dir } = options;
    const sstDir = posix.join(dir, 'sst');
    const walDir = posix.join(dir, 'wal');
    await fs.mkdir(dir);
    await fs.mkdir(sstDir);
    await fs.mkdir(walDir);
    const frameBytesMax = options.appendBytesMax + FRAME_OVERHEAD_BYTES;
    const manifest = await Manifest.open(fs, dir, options.manifestBytesMax, Math.max(frameBytesMax, 64 * 1024 * 1024));
    const engine = new StorageEngine(options, manifest, new TableCache(fs, sstDir, options.openTablesMax, options.verifyReads, options, options.readAheadBytes), sstDir, walDir);
    try {
      await engine.recover(frameBytesMax);
    } catch (err) {
      await engine.manifest.close().catch(() => undefined);
      throw err;
    }
    return engine;
  }

  private async recover(frameBytesMax: number): Promise<void> {
    const { fs } = this.options;
    const state = this.manifest.state;
    const liveTables = new Set<number>();
    for (const p of state.partitions.values()) {
      const log = new PartitionLog(this.ctx, p.id, p.topic, p.partition, p);
      this.byKey.set(partitionKey(log), log);
      this.byId.set(p.id, log);
      for (const t of p.tables) liveTables.add(t.fileNumber);
    }
    // Files the manifest does not name are leftovers of a flush or compaction cut short.
    for (const name of await fs.readdir(this.sstDir)) {
      const m = /^(\d{12})\.sst$/.exec(name);
      if (m === null || !liveTables.has(Number(m[1]))) await fs.unlink(posix.join(this.sstDir, name));
    }
    if (this.options.verifyTablesOnOpen) {
      for (const log of this.byId.values()) {
        for (const t of log.tables) {
          try {
            const r = await SstReader.open(fs, posix.join(this.sstDir, tableFileName(t.fileNumber)));
            await r.release();
          } catch (err) {
            if (!isStorageError(err, 'CORRUPTION')) throw err;
            this.corruptTables.push({ topic: log.topic, partition: log.partition, error: err });
          }
        }
      }
    }
    for await (const rec of replayWal(fs, this.walDir, frameBytesMax)) {
      const log = this.byId.get(rec.partitionId);
      if (log === undefined) continue;
      log.replay(rec.batches, rec.position, posix.join(this.walDir, walFileName(rec.position.seq)));
      this.afterAppend(log, rec.batches.length);
      if (this.memBytes > this.options.memtableBytesMax) await this.flushQueued();
    }
    for (const log of this.byId.values()) log.finishRecovery();
    this.wal = await Wal.create(fs, {
      dir: this.walDir,
      flush: this.options.flush,
      flushIntervalMs: this.options.flushIntervalMs,
      rollBytes: this.options.walRollBytes,
      groupBytesMax: this.options.walGroupBytesMax,
      frameBytesMax,
      spareSegments: this.options.walSpareSegments,
      pace: (bytes) => this.throttle(bytes),
      onSync: this.options.onWalSync,
    });
    await this.afterStructureChange();
    if (this.options.maintenanceIntervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.maintenance === null && !this.closed) void this.maintain().catch(() => undefined);
      }, this.options.maintenanceIntervalMs);
      this.timer.unref();
    }
  }

  // ---- partitions ------------------------------------------------------------------------------

  async createPartition(tp: TopicPartition, config: Partial<PartitionConfig> = {}): Promise<PartitionLog> {
    this.checkWritable();
    checkTopicPartition(tp);
    const key = partitionKey(tp);
    if (this.byKey.has(key)) throw new StorageError('PARTITION_EXISTS', `${tp.topic}-${tp.partition} exists`);
    const cfg = resolvePartitionConfig(this.options.defaultPartitionConfig, config);
    const id = Math.max(this.nextPartitionId, this.manifest.state.nextPartitionId);
    this.nextPartitionId = id + 1;
    const state: PartitionState = {
      id,
      topic: tp.topic,
      partition: tp.partition,
      config: cfg,
      logStartOffset: 0,
      flushedEndOffset: 0,
      flushedWal: null,
      tables: [],
      epochs: [],
    };
    // Reserve the key before the await so concurrent creates of the same partition conflict.
    const placeholder = new PartitionLog(this.ctx, id, tp.topic, tp.partition, state);
    this.byKey.set(key, placeholder);
    try {
      await this.applyEdit({ kind: 'createPartition', state });
    } catch (err) {
      this.byKey.delete(key);
      throw err;
    }
    this.byId.set(id, placeholder);
    return placeholder;
  }

  async deletePartition(tp: TopicPartition): Promise<void> {
    this.checkWritable();
    const log = this.partition(tp);
    await log.exclusive(async () => {
      await this.applyEdit({ kind: 'deletePartition', id: log.id });
      log.markDeleted();
      this.byKey.delete(partitionKey(tp));
      this.byId.delete(log.id);
      this.recountMemory();
      for (const t of log.tables) {
        await this.tableCache.forget(t.fileNumber);
        await this.options.fs.unlink(this.tableCache.path(t.fileNumber)).catch(() => undefined);
      }
    });
    await this.afterStructureChange();
  }

  /** The partition's log; PARTITION_NOT_FOUND when it does not exist. */
  partition(tp: TopicPartition): PartitionLog {
    this.checkOpen();
    const log = this.byKey.get(partitionKey(tp));
    if (log === undefined || !this.byId.has(log.id)) throw new StorageError('PARTITION_NOT_FOUND', `${tp.topic}-${tp.partition} does not exist`);
    return log;
  }

  listPartitions(): TopicPartition[] {
    return [...this.byId.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  // ---- durability, flush, maintenance ----------------------------------------------------------

  /** The fail-stop error, once any WAL, manifest or SSTable write has failed. */
  get failed(): StorageError | null {
    const walFailure = this.wal?.failed ?? null;
    if (this.failure === null && walFailure !== null) this.fail(walFailure);
    return this.failure;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  stats(): EngineStats {
    return {
      memtableBytes: this.memBytes,
      memtableBytesPeak: this.memPeak,
      partitions: this.byId.size,
      tables: [...this.byId.values()].reduce((n, p) => n + p.tables.length, 0),
      walFiles: this.wal?.liveFiles().length ?? 0,
      walPreallocated: this.wal?.preallocated ?? false,
      walSpares: this.wal?.spareCount ?? 0,
      flushes: this.counters.flushes,
      compactions: this.counters.compactions,
      walBytesWritten: this.wal?.bytesWritten ?? 0,
      flushedBytes: this.counters.flushedBytes,
      compactedBytes: this.counters.compactedBytes,
    };
  }

  /** Makes every resolved append durable now (useful under flush=interval). */
  async sync(): Promise<void> {
    this.checkOpen();
    if (this.failure !== null) throw this.failure;
    await this.mustWal().sync();
  }

  /** Flushes every memtable to SSTables. */
  async flushAll(): Promise<void> {
    this.checkWritable();
    for (const log of [...this.byId.values()]) this.flushQueue.add(log);
    await this.flushQueued();
    await this.afterStructureChange();
  }

  /**
   * One round of background work: age-based flushes, retention, merging small SSTables and key
   * compaction. Runs by itself every maintenanceIntervalMs; tests call it directly.
   */
  maintain(): Promise<void> {
    if (this.maintenance !== null) return this.maintenance;
    const run = this.maintainOnce().finally(() => {
      this.maintenance = null;
    });
    this.maintenance = run;
    return run;
  }

  private async maintainOnce(): Promise<void> {
    if (this.closed || this.failure !== null) return;
    const now = this.options.clock.now();
    for (const log of this.byId.values()) {
      if (log.memtable.size > 0 && now - log.memtable.oldestAtMs >= this.options.memtableAgeMsMax) this.flushQueue.add(log);
    }
    await this.flushQueued();
    for (const log of [...this.byId.values()]) {
      if (this.closed || this.failure !== null) return;
      try {
        await log.applyRetention(now);
        if (await mergeSmallTables(log, this.ctx)) this.counters.compactions++;
        // Cheap when nothing changed: compactKeys returns early on an unchanged table set.
        if (log.config.cleanupPolicy === 'compact' && (await compactKeys(log, this.ctx, now))) this.counters.compactions++;
      } catch (err) {
        // A partition deleted while its compaction read its tables: the files are gone on
        // purpose, which is no storage failure.
        if (isStorageError(err, 'PARTITION_NOT_FOUND') || log.isDeleted) continue;
        throw isStorageError(err) ? err : this.fail(err);
      }
    }
    await this.afterStructureChange();
  }

  /** Stops background work and closes files. Unflushed memtables stay in the WAL for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    const inflight = [...this.byId.values()].map((p) => p.exclusive(async () => undefined).catch(() => undefined));
    await Promise.all(inflight);
    this.closed = true;
    await this.flusher?.catch(() => undefined);
    await this.maintenance?.catch(() => undefined);
    await this.wal?.close();
    await this.manifest.close();
    await this.tableCache.close();
    for (const w of this.budgetWaiters.splice(0)) w();
  }

  // ---- internals -------------------------------------------------------------------------------

  private makeContext(): EngineContext {
    return {
      options: this.options,
      sstDir: this.sstDir,
      tables: this.tableCache,
      applyEdit: (edit) => this.applyEdit(edit),
      walAppend: (id, batches) => this.mustWal().append(id, batches),
      walWrittenPosition: () => this.mustWal().writtenPosition,
      checkWritable: () => this.checkWritable(),
      checkOpen: () => this.checkOpen(),
      allocateFileNumber: () => this.nextFile++,
      afterAppend: (log, bytes) => this.afterAppend(log, bytes),
      tryReserveMemory: (bytes) => {
        if (this.overBudget(bytes)) return false;
        this.reservedBytes += bytes;
        if (this.memBytes + this.reservedBytes > this.memPeak) this.memPeak = this.memBytes + this.reservedBytes;
        return true;
      },
      releaseMemory: (bytes) => {
        this.reservedBytes -= bytes;
        for (const w of this.budgetWaiters.splice(0)) w();
      },
      waitForBudget: (bytes) => this.waitForBudget(bytes),
      fail: (err) => this.fail(err),
      afterStructureChange: () => this.afterStructureChange(),
      tableWritten: (kind, bytes) => {
        if (kind === 'flush') this.counters.flushedBytes += bytes;
        else this.counters.compactedBytes += bytes;
      },
      throttle: (bytes) => this.throttle(bytes),
    };
  }

  private async applyEdit(edit: VersionEdit): Promise<void> {
    try {
      await this.manifest.apply(edit);
    } catch (err) {
      throw this.fail(err);
    }
  }

  private mustWal(): Wal {
    if (this.wal === null) throw new StorageError('CLOSED', 'engine is not open');
    return this.wal;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('CLOSED', 'storage engine is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failure !== null) throw this.failure;
    const walFailure = this.wal?.failed ?? null;
    if (walFailure !== null) throw this.fail(walFailure);
  }

  /** Fail-stop: from now on appends and structure changes are refused; reads keep working. */
  private fail(err: unknown): StorageError {
    if (this.failure === null) {
      this.failure =
        isStorageError(err, 'STORAGE_FAILED') ? err : new StorageError('STORAGE_FAILED', `storage failed: ${(err as Error).message}`, { cause: err });
      for (const w of this.budgetWaiters.splice(0)) w();
    }
    return isStorageError(err) && err.code !== 'STORAGE_FAILED' ? err : this.failure;
  }

  private afterAppend(log: PartitionLog, bytes: number): void {
    this.memBytes += bytes;
    if (this.memBytes + this.reservedBytes > this.memPeak) this.memPeak = this.memBytes + this.reservedBytes;
    if (log.memtable.bytes >= this.options.memtableFlushBytes) this.flushQueue.add(log);
    if (this.memBytes > this.options.memtableBytesMax / 2) {
      let largest: PartitionLog | undefined;
      for (const p of this.byId.values()) if (!this.flushQueue.has(p) && p.memtable.bytes > (largest?.memtable.bytes ?? 0)) largest = p;
      if (largest !== undefined) this.flushQueue.add(largest);
    }
    if (this.flushQueue.size > 0 && this.wal !== null) this.startFlusher();
  }

  private recountMemory(): void {
    let n = 0;
    for (const p of this.byId.values()) n += p.memtable.bytes;
    this.memBytes = n;
    if (n + this.reservedBytes > this.memPeak) this.memPeak = n + this.reservedBytes;
    for (const w of this.budgetWaiters.splice(0)) w();
  }

  /** An append of `bytes` must wait; a lone append larger than the budget still goes through. */
  private overBudget(bytes: number): boolean {
    if (this.failure !== null || this.closed) return false;
    const used = this.memBytes + this.reservedBytes;
    return used > 0 && used + bytes > this.options.memtableBytesMax;
  }

  private async waitForBudget(bytes: number): Promise<void> {
    if (!this.overBudget(bytes)) return;
    // Wake-ups come from real events only (a flush finished, an append landed), never a spin.
    if (this.memBytes > 0) {
      this.queueLargest();
      this.startFlusher();
    }
    await new Promise<void>((resolve) => this.budgetWaiters.push(resolve));
  }

  private queueLargest(): void {
    let largest: PartitionLog | undefined;
    for (const p of this.byId.values()) if (!this.flushing.has(p) && p.memtable.bytes > (largest?.memtable.bytes ?? 0)) largest = p;
    if (largest !== undefined) this.flushQueue.add(largest);
  }

  private startFlusher(): void {
    if (this.flusher !== null) return;
    this.flusher = this.drainFlushes()
      .catch(() => undefined)
      .finally(() => {
        this.flusher = null;
        this.recountMemory();
        for (const w of this.budgetWaiters.splice(0)) w();
        if (this.flushQueue.size > 0 && this.failure === null && !this.closed) this.startFlusher();
      });
  }

  /**
   * Runs the flusher until the queue is empty. Every flush goes through the one flusher: a
   * second driver (maintenance, flushAll) would find the partitions the first one is flushing
   * busy, and the flusher restarting on a non-empty queue whose every entry is busy would spin
   * in microtasks and starve the event loop — the I/O that frees those partitions included.
   */
  private async flushQueued(): Promise<void> {
    while (this.flushQueue.size > 0 && this.failure === null && !this.closed) {
      this.startFlusher();
      await this.flusher;
    }
    if (this.failure !== null) throw this.failure;
  }

  private async drainFlushes(): Promise<void> {
    // Several flushes at once: their fsyncs overlap and their manifest edits share one write.
    const worker = async (): Promise<void> => {
      while (this.flushQueue.size > 0 && this.failure === null) {
        let pick: PartitionLog | undefined;
        for (const p of this.flushQueue) if (!this.flushing.has(p) && p.memtable.bytes > (pick?.memtable.bytes ?? -1)) pick = p;
        if (pick === undefined) return;
        this.flushQueue.delete(pick);
        this.flushing.add(pick);
        try {
          await pick.flush();
          this.counters.flushes++;
        } catch (err) {
          if (!isStorageError(err, 'PARTITION_NOT_FOUND')) throw this.fail(err);
        } finally {
          this.flushing.delete(pick);
        }
        this.recountMemory();
        if (this.flushQueue.size === 0 && this.memBytes > this.options.memtableBytesMax / 2) this.queueLargest();
      }
    };
    await Promise.all(Array.from({ length: this.options.flushConcurrency }, worker));
    if (this.failure !== null) throw this.failure;
  }

  /** Deletes WAL files that no partition still needs. */
  private async afterStructureChange(): Promise<void> {
    this.recountMemory();
    const wal = this.wal;
    if (wal === null || this.failure !== null) return;
    let needed: number = wal.currentSeq;
    for (const p of this.byId.values()) {
      const first = p.memtable.first;
      if (first !== undefined) needed = Math.min(needed, first.wal.seq);
    }
    try {
      await wal.deleteBefore(needed);
    } catch (err) {
      throw this.fail(err);
    }
  }

  private throttleStart = 0;
  private throttleBytes = 0;

  private async throttle(bytes: number): Promise<void> {
    const rate = this.options.compactionBytesPerSec;
    if (rate === 0) return;
    const now = performance.now();
    if (now - this.throttleStart > 1000) {
      this.throttleStart = now;
      this.throttleBytes = 0;
    }
    this.throttleBytes += bytes;
    const dueMs = (this.throttleBytes / rate) * 1000 - (now - this.throttleStart);
    if (dueMs > 1) await new Promise((r) => setTimeout(r, Math.min(dueMs, 1000)));
  }

  /** For tests: the WAL position written so far. */
  walPosition(): WalPosition {
    return this.mustWal().writtenPosition;
  }
}

function checkTopicPartition(tp: TopicPartition): void {
  if (typeof tp !== 'object' || tp === null) throw invalidArgument('topic partition required');
  if (typeof tp.topic !== 'string' || tp.topic.length === 0 || tp.topic.length > 249) throw invalidArgument(`bad topic name ${String(tp.topic)}`);
  if (!Number.isSafeInteger(tp.partition) || tp.partition < 0 || tp.partition > 0x7fffffff) throw invalidArgument(`bad partition ${String(tp.partition)}`);
}
