import { posix } from 'node:path';
import { StorageError, corruption } from './errors.js';
import { type FileSystem, type WritableFile } from './fs.js';
import { FrameType, parseLog, walFrame } from './log-format.js';

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
}

export interface WalRecord {
  readonly partitionId: number;
  /** Concatenated batches; shares memory with the file buffer read at recovery. */
  readonly batches: Buffer;
  readonly position: WalPosition;
}

interface Pending {
  readonly chunks: Uint8Array[];
  readonly bytes: number;
  readonly resolve: (p: WalPosition) => void;
  readonly reject: (e: unknown) => void;
}

const WAL_SUFFIX = '.log';

export function walFileName(seq: number): string {
  return `${String(seq).padStart(12, '0')}${WAL_SUFFIX}`;
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
    const parsed = parseLog(buf, frameBytesMax);
    const last = i === seqs.length - 1;
    if (parsed.tail.kind === 'corrupt') throw corruption(path, parsed.tail.position, 'corrupt WAL frame followed by valid frames');
    if (parsed.tail.kind === 'torn' && !last) throw corruption(path, parsed.tail.validEnd, 'damaged frame in a sealed WAL file');
    for (const f of parsed.frames) {
      if (f.type !== FrameType.walAppend || f.payload.length < 4) throw corruption(path, f.start, 'unexpected frame in WAL');
      yield { partitionId: f.payload.readUInt32LE(0), batches: f.payload.subarray(4), position: { seq, offset: f.end } };
    }
    if (parsed.tail.kind === 'torn') await fs.truncate(path, parsed.validEnd);
  }
}

/**
 * The broker's one write-ahead log. Appends from every partition queue here; one loop writes
 * everything queued with one write and (flush=always) one fdatasync, then resolves them all.
 * Exactly one write+sync is in flight; appends arriving meanwhile ride on the next one.
 * Any I/O error is fail-stop: every queued and later append is rejected with STORAGE_FAILED.
 */
export class Wal {
  private queue: Pending[] = [];
  private running = false;
  private failure: StorageError | null = null;
  private syncWanted = false;
  private dirty = false;
  private durableWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private deleting: Promise<void> = Promise.resolve();
  private readonly live: number[];
  writtenPosition: WalPosition;
  durablePosition: WalPosition;

  private constructor(
    private readonly fs: FileSystem,
    private readonly options: WalOptions,
    private file: WritableFile,
    private seq: number,
    liveSeqs: number[],
  ) {
    this.live = liveSeqs;
    this.writtenPosition = { seq, offset: 0 };
    this.durablePosition = this.writtenPosition;
    if (options.flush === 'interval') {
      this.timer = setInterval(() => this.requestSync(), options.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Starts a fresh WAL file after every existing one (recovery has already read them). */
  static async create(fs: FileSystem, options: WalOptions): Promise<Wal> {
    const existing = await listWalFiles(fs, options.dir);
    const seq = (existing.at(-1) ?? 0) + 1;
    const file = await fs.openAppend(posix.join(options.dir, walFileName(seq)), { truncate: true });
    await fs.syncDir(options.dir);
    return new Wal(fs, options, file, seq, [...existing, seq]);
  }

  get failed(): StorageError | null {
    return this.failure;
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** Queues one WAL record; resolves once written (and fsynced under flush=always). */
  append(partitionId: number, batches: readonly Uint8Array[]): Promise<WalPosition> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StorageError('CLOSED', 'WAL is closed'));
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(partitionId, 0);
    // The CRC is computed here, so it overlaps with the fsync of the group in flight.
    const chunks = walFrame(head, batches);
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    if (bytes > this.options.frameBytesMax) {
      return Promise.reject(new StorageError('INVALID_ARGUMENT', `append of ${bytes} bytes exceeds frameBytesMax ${this.options.frameBytesMax}`));
    }
    return new Promise<WalPosition>((resolve, reject) => {
      this.queue.push({ chunks, bytes, resolve, reject });
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

  /** Deletes sealed WAL files older than `seq` (every partition has flushed past them). */
  deleteBefore(seq: number): Promise<void> {
    // Serialized and claimed up front, so overlapping calls never unlink the same file twice.
    const doomed = this.live.filter((s) => s < seq && s !== this.seq);
    if (doomed.length === 0) return this.deleting;
    for (const s of doomed) this.live.splice(this.live.indexOf(s), 1);
    this.deleting = this.deleting.then(async () => {
      for (const s of doomed) await this.fs.unlink(posix.join(this.options.dir, walFileName(s)));
      await this.fs.syncDir(this.options.dir);
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
    await this.file.close().catch(() => undefined);
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
    const chunks: Uint8Array[] = [];
    for (const p of group) chunks.push(...p.chunks);
    const startSize = this.file.size;
    try {
      await this.file.append(chunks);
    } catch (err) {
      this.queue.unshift(...group);
      throw err;
    }
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
      await this.file.datasync();
      this.dirty = false;
      this.durablePosition = target;
    }
    const waiters = this.durableWaiters.splice(0);
    for (const w of waiters) w.resolve();
  }

  private async roll(): Promise<void> {
    if (this.dirty) await this.syncNow();
    const nextSeq = this.seq + 1;
    const next = await this.fs.openAppend(posix.join(this.options.dir, walFileName(nextSeq)), { truncate: true });
    await this.fs.syncDir(this.options.dir);
    await this.file.close();
    this.file = next;
    this.seq = nextSeq;
    this.live.push(nextSeq);
    this.writtenPosition = { seq: nextSeq, offset: 0 };
    this.durablePosition = this.writtenPosition;
  }

  private fail(err: unknown): void {
    // Never retry an fsync: after a failed fsync the kernel may have dropped the dirty pages,
    // so a later "successful" fsync would vouch for bytes that are gone (fsyncgate).
    this.failure = new StorageError('STORAGE_FAILED', `WAL write failed: ${(err as Error).message}`, { cause: err });
    for (const p of this.queue.splice(0)) p.reject(this.failure);
    for (const w of this.durableWaiters.splice(0)) w.reject(this.failure);
  }
}
