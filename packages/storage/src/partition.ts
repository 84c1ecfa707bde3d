import { type BatchInfo, nextOffsetOf, setBaseOffset, setPartitionLeaderEpoch, splitAndValidate, splitVerified } from './batch.js';
import { asBuffer } from './bytes.js';
import { type ResolvedOptions } from './config.js';
import { StorageError, invalidArgument } from './errors.js';
import { type EpochEntry, type PartitionConfig, type PartitionState, type TableMeta, type VersionEdit } from './manifest.js';
import { Memtable, type MemBatch } from './memtable.js';
import { offsetForTimestampInBatch, SstWriter, type TableBatch } from './sstable.js';
import { type TableCache } from './table-cache.js';
import { type WalPosition } from './wal.js';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface AppendOptions {
  /**
   * true (leader): the engine assigns offsets from logEndOffset and rewrites each baseOffset.
   * false (follower/replica): batches keep their offsets, which must be >= logEndOffset.
   */
  readonly assignOffsets?: boolean;
  /** Stamped into each batch's partitionLeaderEpoch (outside the batch CRC). */
  readonly leaderEpoch?: number;
  /**
   * Called once offsets (and the leader epoch) are stamped into the batches, as their WAL write
   * is queued: `batches` are the bytes being written (views of the caller's buffers) with their
   * offsets, neither durable nor readable through this log yet. A partition leader hands them
   * to followers from here while its own write is in flight (ADR 0011). Must not throw.
   */
  readonly onAssigned?: (batches: readonly AssignedBatch[]) => void;
}

/** A batch as an append wrote it (or a read found it): its bytes, first offset and the offset after its last record. */
export interface AssignedBatch {
  readonly bytes: Buffer;
  readonly baseOffset: number;
  readonly nextOffset: number;
}

function spanOf(bytes: Buffer, info: BatchInfo): AssignedBatch {
  return { bytes, baseOffset: info.baseOffset, nextOffset: nextOffsetOf(info) };
}

export interface AppendResult {
  readonly baseOffsets: number[];
  readonly lastOffset: number;
  readonly logEndOffset: number;
}

export interface ReadResult {
  /** Whole batches, in offset order; the first may start before the requested offset. */
  readonly batches: Buffer[];
  readonly bytes: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

/** What a partition needs from its engine; kept narrow so the partition is testable on its own terms. */
export interface EngineContext {
  readonly options: ResolvedOptions;
  readonly sstDir: string;
  readonly tables: TableCache;
  applyEdit(edit: VersionEdit): Promise<void>;
  walAppend(partitionId: number, batches: readonly Buffer[]): Promise<WalPosition>;
  walWrittenPosition(): WalPosition;
  checkWritable(): void;
  checkOpen(): void;
  allocateFileNumber(): number;
  /** Memtable bytes of an append: reserved at admission, then installed or released. */
  /** Reserves `bytes` when the budget allows (always for a lone append); false otherwise. */
  tryReserveMemory(bytes: number): boolean;
  releaseMemory(bytes: number): void;
  afterAppend(p: PartitionLog, bytes: number): void;
  /** Resolves at the next event that may free budget (a flush or an append finishing). */
  waitForBudget(bytes: number): Promise<void>;
  fail(err: unknown): StorageError;
  afterStructureChange(): Promise<void>;
  /** Counts an SSTable written: from a memtable, or rewritten from other tables. */
  tableWritten(kind: 'flush' | 'compaction', bytes: number): void;
  throttle(bytes: number): Promise<void>;
}

/** A simple async mutex: run() calls execute one at a time, in call order. */
class Lane {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

function checkOffset(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw invalidArgument(`${name} must be a non-negative safe integer, got ${String(v)}`);
}

/**
 * One partition's log: memtable in front of SSTables, offsets dense and increasing. Appends go
 * through the shared WAL; truncation, retention and compaction change the file set through
 * manifest edits under the partition's structure lane.
 */
export class PartitionLog {
  readonly memtable = new Memtable();
  private tableList: TableMeta[];
  private epochList: EpochEntry[];
  private start: number;
  private end: number;
  /** Next offset to assign; runs ahead of `end` while appends are in flight. */
  private nextOffset: number;
  private flushedEnd: number;
  private flushedWal: WalPosition | null;
  private cfg: PartitionConfig;
  private readonly structure = new Lane();
  private gate: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<unknown>>();
  private admission: Promise<void> = Promise.resolve();
  private waiting = 0;
  /** Offsets below this may be key-compacted (the broker sets it to the high watermark). */
  compactionBound = Number.POSITIVE_INFINITY;
  /** File numbers of the tables the last key compaction left clean; unchanged means nothing to do. */
  keyCompactionSignature = '';
  /** Unexpired tombstones below keyCompactionCleanOffset become droppable at this time. */
  keyCompactionRecheckAtMs = Number.POSITIVE_INFINITY;
  /**
   * Key compaction has deduplicated everything below this offset (Kafka's cleaner checkpoint,
   * kept in memory: after a restart the whole log is dirty again, which costs time, not safety).
   */
  keyCompactionCleanOffset = 0;
  deleted = false;

  constructor(
    private readonly ctx: EngineContext,
    readonly id: number,
    readonly topic: string,
    readonly partition: number,
    state: PartitionState,
  ) {
    this.tableList = [...state.tables];
    this.epochList = [...state.epochs];
    this.start = state.logStartOffset;
    this.flushedEnd = Math.max(state.flushedEndOffset, this.tableList.at(-1)?.nextOffset ?? 0);
    this.end = this.flushedEnd;
    this.nextOffset = this.end;
    this.flushedWal = state.flushedWal;
    this.cfg = state.config;
  }

  get logStartOffset(): number {
    return this.start;
  }

  /** One past the last offset an append has resolved for (and, under flush=always, fsynced). */
  get logEndOffset(): number {
    return this.end;
  }

  get config(): PartitionConfig {
    return this.cfg;
  }

  get tables(): readonly TableMeta[] {
    return this.tableList;
  }

  get flushedWalPosition(): WalPosition | null {
    return this.flushedWal;
  }

  /** Bytes on disk in SSTables plus bytes in the memtable. */
  get sizeBytes(): number {
    return this.tableList.reduce((n, t) => n + t.bytes, 0) + this.memtable.bytes;
  }

  // ---- appends -------------------------------------------------------------------------------

  /**
   * Appends whole RecordBatch v2 batches (one buffer of concatenated batches, or several).
   * The engine takes ownership of the buffers: it rewrites baseOffset (and partitionLeaderEpoch
   * when asked) in place and keeps references to them in the memtable.
   */
  async append(input: Uint8Array | readonly Uint8Array[], options: AppendOptions = {}): Promise<AppendResult> {
    this.ctx.checkWritable();
    this.checkLive();
    const parts = input instanceof Uint8Array ? [input] : input;
    if (parts.length === 0) throw invalidArgument('append needs at least one batch');
    const batches: { bytes: Buffer; info: BatchInfo }[] = [];
    let total = 0;
    for (const part of parts) {
      if (!(part instanceof Uint8Array)) throw invalidArgument('batches must be Uint8Array');
      for (const b of splitAndValidate(part)) {
        batches.push(b);
        total += b.bytes.length;
      }
    }
    if (total > this.ctx.options.appendBytesMax) throw new StorageError('INVALID_RECORD', `append of ${total} bytes exceeds appendBytesMax ${this.ctx.options.appendBytesMax}`);
    const epoch = options.leaderEpoch;
    if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0x7fffffff)) throw invalidArgument(`leaderEpoch out of range: ${epoch}`);
    // Appends that must wait queue in call order, so a pipelining caller never sees its
    // batches reordered; with nobody waiting, offsets are assigned without yielding. Memory is
    // reserved in the same synchronous step as the check, so woken waiters cannot overshoot.
    if (this.waiting > 0 || this.gate !== null || !this.ctx.tryReserveMemory(total)) {
      const previous = this.admission;
      let admitted!: () => void;
      this.admission = new Promise<void>((resolve) => (admitted = resolve));
      this.waiting++;
      try {
        await previous;
        await this.waitForTurn(total);
      } finally {
        this.waiting--;
        admitted();
      }
    }
    try {
      this.ctx.checkWritable();
      this.checkLive();
    } catch (err) {
      this.ctx.releaseMemory(total);
      throw err;
    }
    // Offsets are assigned synchronously, so concurrent appends get increasing offsets in call order.
    const assign = options.assignOffsets ?? true;
    const entries: { bytes: Buffer; info: BatchInfo }[] = [];
    let next = this.nextOffset;
    for (const b of batches) {
      let base = b.info.baseOffset;
      if (assign) {
        base = next;
        setBaseOffset(b.bytes, base);
      } else if (base < next) {
        this.ctx.releaseMemory(total);
        throw new StorageError('INVALID_RECORD', `batch baseOffset ${base} is below the log end offset ${next}`);
      }
      if (epoch !== undefined) setPartitionLeaderEpoch(b.bytes, epoch);
      const info: BatchInfo = { ...b.info, baseOffset: base, partitionLeaderEpoch: epoch ?? b.info.partitionLeaderEpoch };
      next = nextOffsetOf(info);
      if (!Number.isSafeInteger(next)) {
        this.ctx.releaseMemory(total);
        throw new StorageError('INVALID_RECORD', 'offset beyond the safe-integer range');
      }
      entries.push({ bytes: b.bytes, info });
    }
    this.nextOffset = next;
    const op = this.ctx.walAppend(
      this.id,
      entries.map((e) => e.bytes),
    );
    options.onAssigned?.(entries.map((e) => spanOf(e.bytes, e.info)));
    const done = op.then(
      (position) => {
        this.ctx.releaseMemory(total);
        this.install(entries, position);
        this.ctx.afterAppend(this, total);
      },
      (err: unknown) => {
        this.ctx.releaseMemory(total);
        throw err;
      },
    );
    this.inflight.add(done);
    try {
      await done;
    } finally {
      this.inflight.delete(done);
    }
    const last = entries.at(-1);
    return { baseOffsets: entries.map((e) => e.info.baseOffset), lastOffset: (last?.info.baseOffset ?? 0) + (last?.info.lastOffsetDelta ?? 0), logEndOffset: this.end };
  }

  /** Adds batches to the memtable once they are in the WAL (also used by recovery). */
  install(entries: readonly { bytes: Buffer; info: BatchInfo }[], position: WalPosition): void {
    const now = this.ctx.options.clock.now();
    for (const e of entries) {
      const nextOffset = nextOffsetOf(e.info);
      this.memtable.add({ bytes: ownedBytes(e.bytes), info: e.info, baseOffset: e.info.baseOffset, nextOffset, wal: position }, now);
      const latest = this.epochList.at(-1);
      const epoch = e.info.partitionLeaderEpoch;
      if (epoch >= 0 && (latest === undefined || epoch > latest.epoch)) this.epochList.push({ epoch, startOffset: e.info.baseOffset });
      this.end = nextOffset;
    }
    if (this.nextOffset < this.end) this.nextOffset = this.end;
  }

  /** Recovery: replays one WAL record if it is newer than what the SSTables hold. */
  replay(batches: Buffer, position: WalPosition, path: string): void {
    if (this.flushedWal !== null && (position.seq < this.flushedWal.seq || (position.seq === this.flushedWal.seq && position.offset <= this.flushedWal.offset))) return;
    let entries: { bytes: Buffer; info: BatchInfo }[];
    try {
      entries = splitVerified(batches);
    } catch (err) {
      throw new StorageError('CORRUPTION', `WAL record in ${path} at ${position.offset} holds an invalid batch`, { file: path, position: position.offset, cause: err });
    }
    const first = entries[0];
    if (first !== undefined && first.info.baseOffset < this.end) {
      throw new StorageError('CORRUPTION', `WAL record in ${path} at ${position.offset} goes back to offset ${first.info.baseOffset} below ${this.end}`, { file: path, position: position.offset });
    }
    this.install(entries, position);
  }

  /** After recovery, forget epochs whose data did not survive. */
  finishRecovery(): void {
    // Under flush=interval the log start offset can be durable while the data below it was not.
    if (this.end < this.start) this.end = this.start;
    if (this.nextOffset < this.end) this.nextOffset = this.end;
    this.epochList = this.epochList.filter((e) => e.startOffset <= this.end);
  }

  // ---- reads ---------------------------------------------------------------------------------

  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    this.ctx.checkOpen();
    this.checkLive();
    checkOffset('offset', offset);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw invalidArgument(`maxBytes must be a positive integer, got ${String(maxBytes)}`);
    if (offset < this.start || offset > this.end) {
      throw new StorageError('OFFSET_OUT_OF_RANGE', `offset ${offset} outside [${this.start}, ${this.end}] of ${this.topic}-${this.partition}`);
    }
    const result = (batches: Buffer[]): ReadResult => ({
      batches,
      bytes: batches.reduce((n, b) => n + b.length, 0),
      logStartOffset: this.start,
      logEndOffset: this.end,
    });
    // Tables and memtable together cover the log at every synchronous point: a flush installs
    // its table before it drops the memtable prefix. A read walks across sources until full.
    const end = this.end;
    const out: Buffer[] = [];
    let taken = 0;
    let cursor = offset;
    while (cursor < end && taken < maxBytes) {
      const got = await this.readSource(cursor, out.length === 0 ? maxBytes : maxBytes - taken);
      if (got.batches.length === 0) break;
      for (const g of got.batches) {
        const len = g.bytes.length;
        if (g.baseOffset >= end || (out.length > 0 && taken + len > maxBytes)) return result(out);
        out.push(g.bytes);
        taken += len;
        cursor = g.nextOffset;
      }
      // A table with more after what it returned had no room for its next batch: stop here
      // rather than read a sliver of it, so sequential reads stay aligned to whole spans.
      if (got.sourceNextOffset !== null && cursor < got.sourceNextOffset) break;
    }
    return result(out);
  }

  /** Batches from the table or memtable holding `cursor`; sourceNextOffset is the table's end (null for the memtable). */
  private async readSource(cursor: number, maxBytes: number): Promise<{ batches: AssignedBatch[]; sourceNextOffset: number | null }> {
    for (;;) {
      const memFirst = this.memtable.firstOffset;
      const table = memFirst !== undefined && cursor >= memFirst ? undefined : this.tableList.find((t) => t.nextOffset > cursor);
      if (table === undefined) return { batches: this.memtable.read(cursor, maxBytes), sourceNextOffset: null };
      const reader = await this.ctx.tables.acquire(table.fileNumber);
      try {
        const got = await reader.read(cursor, maxBytes);
        if (got.length > 0) {
          const batches = got.map((g) => spanOf(g.bytes, g.info));
          return { batches, sourceNextOffset: table.nextOffset };
        }
      } finally {
        await reader.release();
      }
      // Nothing at or after the cursor in that table (a compaction gap): move past it.
      cursor = Math.max(cursor, table.nextOffset);
    }
  }

  /** Earliest offset whose record timestamp is >= ts (record-level, compressed batches decoded), or null. */
  async offsetForTimestamp(ts: number): Promise<number | null> {
    this.ctx.checkOpen();
    this.checkLive();
    if (!Number.isSafeInteger(ts)) throw invalidArgument(`timestamp must be a safe integer, got ${String(ts)}`);
    const memFirst = this.memtable.firstOffset;
    for (const t of this.tableList) {
      if (t.maxTimestamp < ts || (memFirst !== undefined && t.baseOffset >= memFirst)) continue;
      const reader = await this.ctx.tables.acquire(t.fileNumber);
      try {
        const hit = await reader.offsetForTimestamp(ts);
        if (hit !== null && hit >= this.start) return hit;
        if (hit !== null) return this.start;
      } finally {
        await reader.release();
      }
    }
    for (const m of this.memtable.snapshot()) {
      if (m.nextOffset <= this.start) continue;
      const hit = await offsetForTimestampInBatch(m.bytes, m.info, ts, this.ctx.options);
      if (hit !== null) return Math.max(hit, this.start);
    }
    return null;
  }

  // ---- leader epochs -------------------------------------------------------------------------

  get leaderEpochs(): readonly EpochEntry[] {
    return this.epochList;
  }

  get latestEpoch(): number | undefined {
    return this.epochList.at(-1)?.epoch;
  }

  /**
   * KIP-101 OffsetsForLeaderEpoch: the largest epoch <= `epoch` and the offset where it ended
   * (the start of the next epoch, or logEndOffset for the latest). {-1,-1} when unknown.
   */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    const list = this.epochList;
    let idx = -1;
    for (let i = 0; i < list.length; i++) if ((list[i]?.epoch ?? Infinity) <= epoch) idx = i;
    if (idx < 0) return { epoch: -1, endOffset: -1 };
    const found = list[idx];
    const following = list[idx + 1];
    return { epoch: found?.epoch ?? -1, endOffset: following === undefined ? this.end : following.startOffset };
  }

  /** A new leader records that `epoch` starts at the current log end (persisted). */
  async assignLeaderEpoch(epoch: number): Promise<void> {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw invalidArgument(`epoch must be a non-negative integer, got ${epoch}`);
    await this.exclusive(async () => {
      const latest = this.epochList.at(-1);
      if (latest !== undefined && latest.epoch >= epoch) return;
      const epochs = [...this.epochList, { epoch, startOffset: this.end }];
      await this.ctx.applyEdit({ kind: 'partition', id: this.id, epochs: this.durableEpochs(epochs) });
      this.epochList = epochs;
    });
  }

  // ---- truncation and deletion ---------------------------------------------------------------

  /**
   * Removes every batch holding an offset >= `offset` (whole batches, as Kafka does), so the new
   * logEndOffset is <= offset. Used when a follower's log diverges from its leader's.
   */
  async truncateTo(offset: number): Promise<void> {
    checkOffset('offset', offset);
    this.ctx.checkWritable();
    if (offset < this.start) throw new StorageError('OFFSET_OUT_OF_RANGE', `cannot truncate to ${offset} below the log start offset ${this.start}`);
    await this.exclusive(async () => {
      if (offset >= this.end) return;
      this.memtable.truncateTo(offset);
      const removed: number[] = [];
      const added: TableMeta[] = [];
      for (const t of this.tableList) {
        if (t.nextOffset <= offset) continue;
        removed.push(t.fileNumber);
        if (t.baseOffset < offset) {
          const meta = await this.rewriteTable(t, (b) => b.info.baseOffset + b.info.lastOffsetDelta < offset);
          if (meta !== null) added.push(meta);
        }
      }
      const kept = this.tableList.filter((t) => t.nextOffset <= offset);
      // Never below the log start offset: offsets deleted by deleteRecordsBefore stay deleted.
      const newEnd = Math.max(this.start, this.memtable.last?.nextOffset ?? 0, ...[...kept, ...added].map((t) => t.nextOffset));
      await this.commitRewrite(removed, added, newEnd, this.start, this.epochList.filter((e) => e.startOffset < newEnd));
    });
  }

  /** Drops the whole log and restarts it at `offset` (a follower far behind its leader's log start). */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    checkOffset('offset', offset);
    this.ctx.checkWritable();
    await this.exclusive(async () => {
      this.memtable.clear();
      await this.commitRewrite(
        this.tableList.map((t) => t.fileNumber),
        [],
        offset,
        offset,
        [],
      );
    });
  }

  /** Advances the log start offset (Kafka DeleteRecords); returns the new log start offset. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    checkOffset('offset', offset);
    this.ctx.checkWritable();
    this.checkLive();
    if (offset > this.end) throw new StorageError('OFFSET_OUT_OF_RANGE', `cannot delete before ${offset}: log end offset is ${this.end}`);
    return this.structure.run(async () => {
      if (offset <= this.start) return this.start;
      const doomed = this.tableList.filter((t) => t.nextOffset <= offset).map((t) => t.fileNumber);
      await this.advanceStart(offset, doomed);
      return this.start;
    });
  }

  async setConfig(config: PartitionConfig): Promise<void> {
    await this.structure.run(async () => {
      await this.ctx.applyEdit({ kind: 'partition', id: this.id, config });
      this.cfg = config;
    });
  }

  // ---- flush, retention, compaction (called by the engine) -----------------------------------

  /** Writes the memtable (as it is now) to SSTables; appends continue meanwhile. */
  flush(): Promise<void> {
    return this.structure.run(() => this.flushLocked());
  }

  /** Drops whole SSTables past retention.ms / retention.bytes and advances the log start offset. */
  applyRetention(nowMs: number): Promise<void> {
    return this.structure.run(async () => {
      if (this.deleted) return;
      const { retentionMs, retentionBytes } = this.cfg;
      let total = this.sizeBytes;
      const doomed: TableMeta[] = [];
      for (const t of this.tableList) {
        const expired = retentionMs >= 0 && t.maxTimestamp < nowMs - retentionMs;
        const oversize = retentionBytes >= 0 && total - t.bytes >= retentionBytes;
        if (!expired && !oversize) break;
        doomed.push(t);
        total -= t.bytes;
      }
      const last = doomed.at(-1);
      if (last === undefined) return;
      await this.advanceStart(
        Math.max(this.start, last.nextOffset),
        doomed.map((t) => t.fileNumber),
      );
    });
  }

  /** Replaces `inputs` by `outputs` if all inputs are still live; otherwise discards outputs. */
  installCompaction(inputs: readonly TableMeta[], outputs: readonly TableMeta[]): Promise<boolean> {
    return this.structure.run(async () => {
      const live = new Set(this.tableList.map((t) => t.fileNumber));
      if (this.deleted || !inputs.every((t) => live.has(t.fileNumber))) return false;
      await this.ctx.applyEdit({ kind: 'partition', id: this.id, removed: inputs.map((t) => t.fileNumber), added: [...outputs] });
      const gone = new Set(inputs.map((t) => t.fileNumber));
      this.tableList = [...this.tableList.filter((t) => !gone.has(t.fileNumber)), ...outputs].sort((a, b) => a.baseOffset - b.baseOffset);
      await this.dropFiles(inputs.map((t) => t.fileNumber));
      return true;
    });
  }

  /** Waits for in-flight appends and runs `fn` with appends held back. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.structure.run(async () => {
      while (this.gate !== null) await this.gate;
      let open!: () => void;
      this.gate = new Promise<void>((resolve) => (open = resolve));
      try {
        await Promise.allSettled([...this.inflight]);
        this.checkLive();
        return await fn();
      } finally {
        this.gate = null;
        open();
      }
    });
  }

  /** True once deletePartition removed this log; background work on it must stop quietly. */
  get isDeleted(): boolean {
    return this.deleted;
  }

  markDeleted(): void {
    this.deleted = true;
    this.memtable.clear();
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Resolves once the gate is open and `bytes` of memtable budget are reserved. */
  private async waitForTurn(bytes: number): Promise<void> {
    for (;;) {
      this.ctx.checkWritable();
      const gate = this.gate;
      if (gate !== null) await gate;
      else if (this.ctx.tryReserveMemory(bytes)) return;
      else await this.ctx.waitForBudget(bytes);
    }
  }

  private checkLive(): void {
    if (this.deleted) throw new StorageError('PARTITION_NOT_FOUND', `${this.topic}-${this.partition} was deleted`);
  }

  private durableEpochs(list: readonly EpochEntry[]): EpochEntry[] {
    return [...list];
  }

  private async flushLocked(): Promise<void> {
    if (this.deleted) return;
    const entries = this.memtable.snapshot();
    const last = entries.at(-1);
    if (last === undefined) return;
    const live = entries.filter((e) => e.nextOffset > this.start);
    const added = await this.writeTables(live);
    await this.ctx.applyEdit({
      kind: 'partition',
      id: this.id,
      added,
      flushedWal: last.wal,
      flushedEndOffset: last.nextOffset,
      epochs: this.durableEpochs(this.epochList),
    });
    this.tableList = [...this.tableList, ...added].sort((a, b) => a.baseOffset - b.baseOffset);
    this.flushedWal = last.wal;
    this.flushedEnd = last.nextOffset;
    this.memtable.dropPrefix(entries.length, this.ctx.options.clock.now());
    await this.ctx.afterStructureChange();
  }

  /** Writes entries into SSTables of about segmentBytes each. */
  private async writeTables(entries: readonly MemBatch[]): Promise<TableMeta[]> {
    const out: TableMeta[] = [];
    let writer: SstWriter | null = null;
    let bytes = 0;
    try {
      for (const e of entries) {
        if (writer !== null && bytes + e.bytes.length > this.cfg.segmentBytes) {
          out.push(await writer.finish());
          writer = null;
        }
        if (writer === null) {
          writer = await this.newWriter();
          bytes = 0;
        }
        await writer.add(e.bytes, e.info);
        bytes += e.bytes.length;
      }
      if (writer !== null) out.push(await writer.finish());
      for (const t of out) this.ctx.tableWritten('flush', t.bytes);
      return out;
    } catch (err) {
      if (writer !== null) await writer.abandon();
      await this.dropFiles(out.map((t) => t.fileNumber));
      throw this.ctx.fail(err);
    }
  }

  async newWriter(): Promise<SstWriter> {
    const o = this.ctx.options;
    return SstWriter.create(o.fs, this.ctx.sstDir, this.ctx.allocateFileNumber(), {
      blockBytes: o.blockBytes,
      bloomBitsPerKey: o.bloomBitsPerKey,
      collectKeys: this.cfg.cleanupPolicy === 'compact',
      decompressedBytesMax: o.decompressedBytesMax,
      writeBufferBytes: 1024 * 1024,
      syncBytes: 4 * 1024 * 1024,
    });
  }

  private async rewriteTable(t: TableMeta, keep: (b: TableBatch) => boolean): Promise<TableMeta | null> {
    const reader = await this.ctx.tables.acquire(t.fileNumber);
    let writer: SstWriter | null = null;
    try {
      for await (const b of reader.scan()) {
        if (!keep(b)) continue;
        writer ??= await this.newWriter();
        await writer.add(b.bytes, b.info);
      }
      if (writer === null) return null;
      const meta = await writer.finish();
      this.ctx.tableWritten('compaction', meta.bytes);
      return meta;
    } catch (err) {
      if (writer !== null) await writer.abandon();
      throw err;
    } finally {
      await reader.release();
    }
  }

  /**
   * Installs a truncation: writes what is left of the memtable into an SSTable so that no WAL
   * record of this partition before now is replayed again, then records it all in one edit.
   */
  private async commitRewrite(removed: number[], added: TableMeta[], newEnd: number, newStart: number, epochs: EpochEntry[]): Promise<void> {
    const rest = this.memtable.snapshot().filter((e) => e.nextOffset > newStart);
    const flushed = rest.length > 0 ? await this.writeTables(rest) : [];
    const walPos = this.ctx.walWrittenPosition();
    await this.ctx.applyEdit({
      kind: 'partition',
      id: this.id,
      removed,
      added: [...added, ...flushed],
      flushedWal: walPos,
      flushedEndOffset: newEnd,
      logStartOffset: newStart,
      epochs,
    });
    const gone = new Set(removed);
    this.tableList = [...this.tableList.filter((t) => !gone.has(t.fileNumber)), ...added, ...flushed].sort((a, b) => a.baseOffset - b.baseOffset);
    this.memtable.clear();
    this.flushedWal = walPos;
    this.flushedEnd = newEnd;
    this.end = newEnd;
    this.nextOffset = newEnd;
    // Offsets past a truncation may be written again: they are dirty for key compaction.
    this.keyCompactionCleanOffset = Math.min(this.keyCompactionCleanOffset, newEnd);
    this.start = newStart;
    this.epochList = epochs;
    await this.dropFiles(removed);
    await this.ctx.afterStructureChange();
  }

  private async advanceStart(newStart: number, doomed: number[]): Promise<void> {
    const epochs = truncateEpochsFromStart(this.epochList, newStart);
    await this.ctx.applyEdit({ kind: 'partition', id: this.id, removed: doomed, logStartOffset: newStart, epochs });
    const gone = new Set(doomed);
    this.tableList = this.tableList.filter((t) => !gone.has(t.fileNumber));
    this.start = newStart;
    this.epochList = epochs;
    await this.dropFiles(doomed);
  }

  private async dropFiles(fileNumbers: readonly number[]): Promise<void> {
    for (const n of fileNumbers) {
      await this.ctx.tables.forget(n);
      await this.ctx.options.fs.unlink(this.ctx.tables.path(n)).catch(() => undefined);
    }
  }
}

/** Kafka's truncateFromStart: entries before the new start collapse onto it. */
export function truncateEpochsFromStart(list: readonly EpochEntry[], start: number): EpochEntry[] {
  const before = list.filter((e) => e.startOffset <= start);
  const after = list.filter((e) => e.startOffset > start);
  const anchor = before.at(-1);
  return anchor === undefined ? after : [{ epoch: anchor.epoch, startOffset: start }, ...after];
}

export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export function toBuffer(data: Uint8Array): Buffer {
  return asBuffer(data);
}

/**
 * The batch as the memtable keeps it. A batch is usually a view into something larger (a
 * request carrying several partitions' batches, a replica fetch response, a WAL read buffer,
 * a pooled slab); kept as is, it would pin all of it until its own flush, and memory would
 * outgrow the memtable budget by that factor. Such views are copied into an allocation of
 * their own; a batch that is (nearly) its whole allocation is kept without a copy.
 */
function ownedBytes(bytes: Buffer): Buffer {
  if (bytes.buffer.byteLength <= bytes.byteLength + (bytes.byteLength >>> 3) + 1024) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  bytes.copy(own);
  return own;
}
