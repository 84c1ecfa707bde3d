import { posix } from 'node:path';
import { StorageError, corruption } from './errors.js';
import { type FileSystem, type WritableFile } from './fs.js';
import { FRAME_HEADER_BYTES, FrameType, parseLog, WAL_HEAD_BYTES, walFrame, walSegmentEnd } from './log-format.js';

/** A place in the WAL: file sequence number and the byte just after a frame. */
export interface WalPosition {
  readonly seq: number;
  readonly offset: number;
}

export function comparePositions(a: WalPosition, b: WalPosition): number {
  return a.seq !== b.seq ? a.seq - b.seq : a.offset - b.offset;
}

export type FlushMode = 'always' | 'interval';

export interface WalOptions {
  readonly dir: string;
  readonly flush: FlushMode;
  readonly flushIntervalMs: number;
  readonly rollBytes: number;
  /** Bytes written by one group commit (one write + one fdatasync). */
  readonly groupBytesMax: number;
  readonly frameBytesMax: number;
  /**
   * Preallocated segments kept ready (ADR 0010): written-out files the WAL overwrites, so an
   * fdatasync commits data only, not a growing file's metadata. 0 turns preallocation off.
   */
  readonly spareSegments: number;
  /** Awaited before each chunk of a spare is zero-filled: the engine's background I/O budget. */
  readonly pace?: (bytes: number) => Promise<void>;
  /** Told how long each fdatasync of the WAL took, in seconds (for metrics). */
  readonly onSync?: (seconds: number) => void;
}

export interface WalRecord {
  readonly partitionId: number;
  /** Concatenated batches; shares memory with the file buffer read at recovery. */
  readonly batches: Buffer;
  readonly position: WalPosition;
}

interface Pending {
  readonly partitionId: number;
  readonly batches: readonly Uint8Array[];
  /** Frame bytes, header included. */
  readonly bytes: number;
  readonly resolve: (p: WalPosition) => void;
  readonly reject: (e: unknown) => void;
}

const WAL_SUFFIX = '.log';

export function walFileName(seq: number): string {
  return `${String(seq).padStart(12, '0')}${WAL_SUFFIX}`;
}

/** A preallocated or recycled segment waiting to become the next WAL file. */
function spareFileName(id: number): string {
  return `spare-${String(id).padStart(12, '0')}`;
}

interface Spare {
  readonly id: number;
  /** The file's length: what can be overwritten before the writes extend it. */
  readonly bytes: number;
}

/**
 * Opens WAL segment `seq`, its directory entry durable before anything is written to it: the
 * spare renamed into place and overwritten from byte 0, or else a new file that grows.
 */
async function openSegment(fs: FileSystem, dir: string, seq: number, spare: Spare | undefined): Promise<WritableFile> {
  const path = posix.join(dir, walFileName(seq));
  if (spare === undefined) {
    const file = await fs.openAppend(path, { truncate: true });
    await fs.syncDir(dir);
    return file;
  }
  await fs.rename(posix.join(dir, spareFileName(spare.id)), path);
  await fs.syncDir(dir);
  return fs.openOverwrite(path);
}

export async function listWalFiles(fs: FileSystem, dir: string): Promise<number[]> {
  const names = await fs.readdir(dir);
  return names
    .filter((n) => /^\d{12}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 12)))
    .sort((a, b) => a - b);
}

/**
 * Reads every WAL file in order and yields its records. A torn tail on the newest file is cut;
 * any other damage is CORRUPTION naming the file and byte, since frames after it cannot be
 * trusted and dropping them silently could lose acknowledged data.
 */
export async function* replayWal(fs: FileSystem, dir: string, frameBytesMax: number): AsyncGenerator<WalRecord> {
  const seqs = await listWalFiles(fs, dir);
  const read = (i: number): Promise<Buffer> | null => {
    if (i >= seqs.length) return null;
    const p = fs.readFile(posix.join(dir, walFileName(seqs[i] ?? 0)));
    p.catch(() => undefined); // surfaced when awaited below
    return p;
  };
  // The next file is read while this one is checked and replayed (two files in memory at most).
  let next = read(0);
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] ?? 0;
    const path = posix.join(dir, walFileName(seq));
    const buf = await (next ?? fs.readFile(path));
    next = read(i + 1);
    const parsed = parseLog(buf, frameBytesMax, seq);
    const last = i === seqs.length - 1;
    if (parsed.tail.kind === 'corrupt') throw corruption(path, parsed.tail.position, 'corrupt WAL frame followed by valid frames');
    if (parsed.tail.kind === 'torn' && !last) throw corruption(path, parsed.tail.validEnd, 'damaged frame in a sealed WAL file');
    for (const f of parsed.frames) {
      if (f.type === FrameType.walSegmentAppend) {
        yield { partitionId: f.payload.readUInt32LE(4), batches: f.payload.subarray(WAL_HEAD_BYTES), position: { seq, offset: f.end } };
      } else if (f.type === FrameType.walAppend) {
        yield { partitionId: f.payload.readUInt32LE(0), batches: f.payload.subarray(4), position: { seq, offset: f.end } };
      } else if (f.type !== FrameType.walSegmentEnd) {
        throw corruption(path, f.start, 'unexpected frame in WAL');
      }
    }
    if (parsed.tail.kind === 'torn') await fs.truncate(path, parsed.validEnd);
  }
}

/**
 * The broker's one write-ahead log. Appends from every partition queue here; one loop writes
 * everything queued with one write and (flush=always) one fdatasync, then resolves them all.
 * Exactly one write+sync is in flight; appends arriving meanwhile ride on the next one.
 * Any I/O error is fail-stop: every queued and later append is rejected with STORAGE_FAILED.
 *
 * Segments are preallocated and recycled (ADR 0010): up to `spareSegments` spares are
 * zero-filled in the background at open, retired segments become spares instead of being
 * deleted, and a roll renames a spare into place and overwrites it. Frames carry their
 * segment's seq and a sealed segment ends with a segment-end frame, so what an earlier use of
 * the file left behind is never read as records.
 */
export class Wal {
  private queue: Pending[] = [];
  private running = false;
  private failure: StorageError | null = null;
  private syncWanted = false;
  private dirty = false;
  /** Frame bytes written since the WAL was opened (for metrics). */
  bytesWritten = 0;
  private durableWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private deleting: Promise<void> = Promise.resolve();
  private readonly live: number[];
  /** Spare segments ready to take over, oldest first. */
  private readonly spares: Spare[];
  private preparing: Promise<void> | null = null;
  /**
   * Zero-filling is for the start only: once `spareSegments` are ready (or a preparation
   * failed, say ENOSPC), spares come only from recycling retired segments, so a WAL under
   * sustained load never writes its bytes twice.
   */
  private zeroFilling = true;
  /** Length of each segment this WAL sealed: a segment at least rollBytes long is worth recycling. */
  private readonly sealedBytes = new Map<number, number>();
  /** Length of the current file before this WAL wrote to it (a spare's length; 0 when appending). */
  private fileBytes: number;
  writtenPosition: WalPosition;
  durablePosition: WalPosition;

  private constructor(
    private readonly fs: FileSystem,
    private readonly options: WalOptions,
    private file: WritableFile,
    private seq: number,
    liveSeqs: number[],
    spares: Spare[],
    private nextSpareId: number,
    fileBytes: number,
  ) {
    this.live = liveSeqs;
    this.spares = spares;
    this.fileBytes = fileBytes;
    this.writtenPosition = { seq, offset: 0 };
    this.durablePosition = this.writtenPosition;
    if (options.flush === 'interval') {
      this.timer = setInterval(() => this.requestSync(), options.flushIntervalMs);
      this.timer.unref();
    }
    this.refillSpares();
  }

  /**
   * Starts a fresh WAL file after every existing one (recovery has already read them), on a
   * spare when one is ready. The newest file is never deleted, so seqs only grow.
   */
  static async create(fs: FileSystem, options: WalOptions): Promise<Wal> {
    const existing = await listWalFiles(fs, options.dir);
    const seq = (existing.at(-1) ?? 0) + 1;
    const spares: Spare[] = [];
    let nextSpareId = 1;
    for (const name of await fs.readdir(options.dir)) {
      const m = /^spare-(\d{12})(\.tmp)?$/.exec(name);
      if (m === null) continue;
      const id = Number(m[1]);
      nextSpareId = Math.max(nextSpareId, id + 1);
      const path = posix.join(options.dir, name);
      if (m[2] !== undefined || options.spareSegments === 0) {
        await fs.unlink(path); // a preparation cut short, or preallocation turned off
        continue;
      }
      const f = await fs.openRead(path);
      await f.close();
      spares.push({ id, bytes: f.size });
    }
    const spare = spares.shift();
    const file = await openSegment(fs, options.dir, seq, spare);
    return new Wal(fs, options, file, seq, [...existing, seq], spares, nextSpareId, spare?.bytes ?? 0);
  }

  get failed(): StorageError | null {
    return this.failure;
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** Whether the current file is a preallocated (or recycled) segment being overwritten. */
  get preallocated(): boolean {
    return this.fileBytes > 0;
  }

  get spareCount(): number {
    return this.spares.length;
  }

  /** Queues one WAL record; resolves once written (and fsynced under flush=always). */
  append(partitionId: number, batches: readonly Uint8Array[]): Promise<WalPosition> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StorageError('CLOSED', 'WAL is closed'));
    let bytes = FRAME_HEADER_BYTES + WAL_HEAD_BYTES;
    for (const b of batches) bytes += b.byteLength;
    if (bytes > this.options.frameBytesMax) {
      return Promise.reject(new StorageError('INVALID_ARGUMENT', `append of ${bytes} bytes exceeds frameBytesMax ${this.options.frameBytesMax}`));
    }
    return new Promise<WalPosition>((resolve, reject) => {
      this.queue.push({ partitionId, batches, bytes, resolve, reject });
      this.kick();
    });
  }

  /** Resolves when every byte written so far is durable. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (comparePositions(this.durablePosition, this.writtenPosition) >= 0 && this.queue.length === 0 && !this.running) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.durableWaiters.push({ resolve, reject });
      this.requestSync();
    });
  }

  /**
   * Retires sealed WAL files older than `seq` (every partition has flushed past them): each
   * becomes a spare while fewer than `spareSegments` are kept, and is deleted otherwise.
   */
  deleteBefore(seq: number): Promise<void> {
    // Serialized and claimed up front, so overlapping calls never unlink the same file twice.
    const doomed = this.live.filter((s) => s < seq && s !== this.seq);
    if (doomed.length === 0) return this.deleting;
    for (const s of doomed) this.live.splice(this.live.indexOf(s), 1);
    this.deleting = this.deleting.then(async () => {
      const recycled: Spare[] = [];
      for (const s of doomed) {
        const path = posix.join(this.options.dir, walFileName(s));
        const bytes = this.sealedBytes.get(s) ?? 0;
        this.sealedBytes.delete(s);
        if (bytes >= this.options.rollBytes && this.spares.length + recycled.length < this.options.spareSegments) {
          const spare = { id: this.nextSpareId++, bytes };
          await this.fs.rename(path, posix.join(this.options.dir, spareFileName(spare.id)));
          recycled.push(spare);
        } else {
          await this.fs.unlink(path);
        }
      }
      await this.fs.syncDir(this.options.dir);
      this.spares.push(...recycled);
    });
    return this.deleting;
  }

  liveFiles(): readonly number[] {
    return this.live;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === null) await this.sync().catch(() => undefined);
    this.closed = true;
    clearInterval(this.timer);
    if (this.failure === null) await this.seal().catch(() => undefined);
    await this.file.close().catch(() => undefined);
    await this.preparing;
  }

  /** Ends the current file with a durable segment-end frame: what follows it is left over. */
  private async seal(): Promise<void> {
    await this.file.append(walSegmentEnd(this.seq));
    await this.file.datasync();
    this.dirty = false;
  }

  private requestSync(): void {
    this.syncWanted = true;
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Start on the next turn of the event loop, so that appends issued together (the
    // continuations of the group that just resolved) land in one group and share one fsync.
    setImmediate(() => void this.runLoop());
  }

  private runLoop(): void {
    void this.loop().finally(() => {
      this.running = false;
      if (this.failure === null && (this.queue.length > 0 || this.syncWanted)) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.failure === null && (this.queue.length > 0 || this.syncWanted)) {
      try {
        // A spare became ready while appending to a plain file (a fresh start): move over now.
        if (!this.preallocated && this.spares.length > 0 && this.queue.length > 0) await this.roll();
        if (this.queue.length > 0) await this.writeGroup();
        else await this.syncNow();
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }

  private async writeGroup(): Promise<void> {
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || bytes + (this.queue[count]?.bytes ?? 0) <= this.options.groupBytesMax)) {
      bytes += this.queue[count]?.bytes ?? 0;
      count++;
    }
    const group = this.queue.splice(0, count);
    // Framed here, not at enqueue: a frame carries the seq of the file it lands in.
    const chunks: Uint8Array[] = [];
    for (const p of group) chunks.push(...walFrame(this.seq, p.partitionId, p.batches));
    const startSize = this.file.size;
    try {
      await this.file.append(chunks);
    } catch (err) {
      this.queue.unshift(...group);
      throw err;
    }
    this.bytesWritten += this.file.size - startSize;
    this.writtenPosition = { seq: this.seq, offset: this.file.size };
    this.dirty = true;
    if (this.options.flush === 'always') {
      try {
        await this.syncNow();
      } catch (err) {
        this.queue.unshift(...group);
        throw err;
      }
    }
    let offset = startSize;
    for (const p of group) {
      offset += p.bytes;
      p.resolve({ seq: this.seq, offset });
    }
    if (this.file.size >= this.options.rollBytes) await this.roll();
  }

  private async syncNow(): Promise<void> {
    this.syncWanted = false;
    if (this.dirty) {
      const target = this.writtenPosition;
      const t0 = performance.now();
      await this.file.datasync();
      this.options.onSync?.((performance.now() - t0) / 1000);
      this.dirty = false;
      this.durablePosition = target;
    }
    const waiters = this.durableWaiters.splice(0);
    for (const w of waiters) w.resolve();
  }

  /** Seals the current file and starts the next, on a spare when one is ready. */
  private async roll(): Promise<void> {
    if (this.dirty) await this.syncNow();
    await this.seal();
    const nextSeq = this.seq + 1;
    const spare = this.spares.shift();
    const next = await openSegment(this.fs, this.options.dir, nextSeq, spare);
    await this.file.close();
    this.sealedBytes.set(this.seq, Math.max(this.fileBytes, this.file.size));
    this.file = next;
    this.fileBytes = spare?.bytes ?? 0;
    this.seq = nextSeq;
    this.live.push(nextSeq);
    this.writtenPosition = { seq: nextSeq, offset: 0 };
    this.durablePosition = this.writtenPosition;
  }

  /**
   * At the start, zero-fills spares in the background (one at a time) until `spareSegments`
   * are ready. A failure only costs speed: rolls append to plain files until a retired
   * segment is recycled.
   */
  private refillSpares(): void {
    if (this.preparing !== null || this.closed || !this.zeroFilling) return;
    if (this.spares.length >= this.options.spareSegments) {
      this.zeroFilling = false;
      return;
    }
    const id = this.nextSpareId++;
    const tmp = posix.join(this.options.dir, `${spareFileName(id)}.tmp`);
    this.preparing = (async () => {
      try {
        await this.fs.preallocate(tmp, this.options.rollBytes, this.options.pace);
        await this.fs.rename(tmp, posix.join(this.options.dir, spareFileName(id)));
        await this.fs.syncDir(this.options.dir);
        this.spares.push({ id, bytes: this.options.rollBytes });
      } catch {
        this.zeroFilling = false;
        await this.fs.unlink(tmp).catch(() => undefined);
      }
    })().finally(() => {
      this.preparing = null;
      // The next group commit moves the WAL onto the new spare (see loop()).
      this.refillSpares();
    });
  }

  private fail(err: unknown): void {
    // Never retry an fsync: after a failed fsync the kernel may have dropped the dirty pages,
    // so a later "successful" fsync would vouch for bytes that are gone (fsyncgate).
    this.failure = new StorageError('STORAGE_FAILED', `WAL write failed: ${(err as Error).message}`, { cause: err });
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    for (const w of this.durableWaiters.splice(0)) w.reject(this.failure);
  }
}
