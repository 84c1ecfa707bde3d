import { posix } from 'node:path';
import { FsError, type FileSystem, type ReadableFile, type WritableFile } from './fs.js';

/**
 * An in-memory, fault-injecting file system with a POSIX-like crash model:
 * - file bytes are durable only up to the last datasync of that file;
 * - creations, renames and unlinks are durable only after syncDir of the parent directory;
 * - crash() forgets everything else (optionally keeping a torn, possibly garbled prefix of the
 *   unsynced tail) and invalidates every open handle, like a killed process on a power cut.
 * Deterministic: no wall clock, no Math.random; randomness comes from `random`.
 */
export type FaultOp = 'write' | 'datasync' | 'read' | 'open' | 'rename' | 'unlink' | 'syncDir' | 'truncate' | 'readdir';
export type FaultCode = 'ENOSPC' | 'EIO';

export interface FaultRule {
  readonly op: FaultOp | '*';
  readonly code: FaultCode;
  /** Only paths containing this substring. */
  readonly pathIncludes?: string;
  /** Matching calls let through before the fault fires. */
  readonly skip?: number;
  /** How many times it fires; Infinity when absent. */
  readonly times?: number;
  /** For writes: persist a random prefix of the data before failing (a torn write). */
  readonly partialWrite?: boolean;
}

export interface CrashOptions {
  /** Keep a random prefix of each file's unsynced tail, as a disk may have written part of it. */
  readonly tornWrites?: boolean;
  /** Garble one byte of a kept unsynced tail. */
  readonly garbleTornTail?: boolean;
}

export interface MemFileSystemOptions {
  readonly random?: () => number;
  /** ENOSPC once the live bytes of all files would exceed this. */
  readonly capacityBytes?: number;
}

interface Inode {
  data: Buffer;
  length: number;
  syncedLength: number;
  /** Durable content, captured when bytes below syncedLength are changed before a sync. */
  durable: Buffer | null;
  /**
   * Sequential overwrites since the last sync (a recycled WAL segment): the old bytes of the
   * overwritten range [from, from + bytes), which a crash restores (or tears).
   */
  undo: { from: number; parts: Buffer[]; bytes: number } | null;
}

/** The bytes a crash would leave below syncedLength: current data with any unsynced overwrite undone. */
function durableContent(inode: Inode): Buffer {
  const content = Buffer.from(inode.data.subarray(0, inode.syncedLength));
  let at = inode.undo?.from ?? 0;
  for (const part of inode.undo?.parts ?? []) {
    content.set(part, at);
    at += part.length;
  }
  return content;
}

/** mulberry32: small, seedable, good enough for choosing faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class MemFileSystem implements FileSystem {
  private live = new Map<string, Inode>();
  private durable = new Map<string, Inode>();
  private readonly dirs = new Set<string>(['/']);
  private faults: { rule: FaultRule; seen: number; fired: number }[] = [];
  private generation = 0;
  private readonly random: () => number;
  capacityBytes: number;
  /** Counters for assertions on group commit and for debugging. */
  readonly stats = { datasyncs: 0, writes: 0, bytesWritten: 0, reads: 0, bytesRead: 0 };

  constructor(options: MemFileSystemOptions = {}) {
    this.random = options.random ?? seededRandom(1);
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
  }

  // ---- fault injection -------------------------------------------------------------------

  /** Adds a fault rule; returns a function that removes it. */
  injectFault(rule: FaultRule): () => void {
    const entry = { rule, seen: 0, fired: 0 };
    this.faults.push(entry);
    return () => {
      this.faults = this.faults.filter((f) => f !== entry);
    };
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Flips one bit of a file, in its live and durable content (media corruption). */
  flipBit(path: string, position: number, bit = 0): void {
    const inode = this.mustGet(this.norm(path));
    if (position < 0 || position >= inode.length) throw new FsError('EINVAL', `flip beyond end of ${path}`);
    inode.data[position] = (inode.data[position] ?? 0) ^ (1 << bit);
    if (inode.durable !== null && position < inode.durable.length) {
      inode.durable[position] = (inode.durable[position] ?? 0) ^ (1 << bit);
    }
  }

  /** Simulates power loss: drops unsynced bytes and un-fsynced directory changes. */
  crash(options: CrashOptions = {}): void {
    this.generation++;
    const survivors = new Map<string, Inode>();
    const seen = new Set<Inode>();
    for (const [path, inode] of this.durable) {
      if (!seen.has(inode)) {
        seen.add(inode);
        this.settle(inode, options);
      }
      survivors.set(path, inode);
    }
    this.live = survivors;
    this.durable = new Map(survivors);
    this.faults = [];
  }

  private settle(inode: Inode, options: CrashOptions): void {
    let content: Buffer;
    if (inode.durable !== null) {
      content = Buffer.from(inode.durable);
    } else if (inode.undo !== null) {
      content = this.settleOverwrite(inode, inode.undo, options);
    } else {
      let keep = inode.syncedLength;
      const unsynced = inode.length - inode.syncedLength;
      if (options.tornWrites === true && unsynced > 0) {
        keep += Math.floor(this.random() * (unsynced + 1));
      }
      content = Buffer.from(inode.data.subarray(0, keep));
      if (options.garbleTornTail === true && keep > inode.syncedLength) {
        const at = inode.syncedLength + Math.floor(this.random() * (keep - inode.syncedLength));
        content[at] = (content[at] ?? 0) ^ 0xa5;
      }
    }
    inode.data = content;
    inode.length = content.length;
    inode.syncedLength = content.length;
    inode.durable = null;
    inode.undo = null;
  }

  /** The durable bytes with the unsynced overwrite undone, keeping a random prefix of it when torn. */
  private settleOverwrite(inode: Inode, undo: { from: number; bytes: number }, options: CrashOptions): Buffer {
    const content = durableContent(inode);
    if (options.tornWrites !== true) return content;
    // The overwrite ran sequentially from undo.from to the end of what was written.
    const written = (inode.length > inode.syncedLength ? inode.length : undo.from + undo.bytes) - undo.from;
    const keep = Math.floor(this.random() * (written + 1));
    const out = undo.from + keep > content.length ? Buffer.concat([content, Buffer.alloc(undo.from + keep - content.length)]) : content;
    out.set(inode.data.subarray(undo.from, undo.from + keep), undo.from);
    if (options.garbleTornTail === true && keep > 0) {
      const g = undo.from + Math.floor(this.random() * keep);
      out[g] = (out[g] ?? 0) ^ 0xa5;
    }
    return out;
  }

  /** Current content of a file (a copy). */
  fileBytes(path: string): Buffer {
    const inode = this.mustGet(this.norm(path));
    return Buffer.from(inode.data.subarray(0, inode.length));
  }

  liveBytes(): number {
    let n = 0;
    for (const inode of new Set(this.live.values())) n += inode.length;
    return n;
  }

  listFiles(): string[] {
    return [...this.live.keys()].sort();
  }

  // ---- FileSystem ------------------------------------------------------------------------

  async openAppend(path: string, options: { truncate?: boolean } = {}): Promise<WritableFile> {
    const p = this.norm(path);
    this.check('open', p);
    this.requireDir(posix.dirname(p));
    let inode = this.live.get(p);
    if (inode === undefined) {
      inode = { data: Buffer.alloc(0), length: 0, syncedLength: 0, durable: null, undo: null };
      this.live.set(p, inode);
    } else if (options.truncate === true) {
      this.shrink(inode, 0);
    }
    return new MemWritableFile(this, p, inode, this.generation, null);
  }

  async openOverwrite(path: string): Promise<WritableFile> {
    const p = this.norm(path);
    this.check('open', p);
    return new MemWritableFile(this, p, this.mustGet(p), this.generation, 0);
  }

  async preallocate(path: string, bytes: number, pace?: (bytes: number) => Promise<void>): Promise<void> {
    await pace?.(bytes);
    const p = this.norm(path);
    this.check('open', p);
    this.requireDir(posix.dirname(p));
    const old = this.live.get(p);
    if (this.liveBytes() - (old?.length ?? 0) + bytes > this.capacityBytes) throw new FsError('ENOSPC', `no space left preallocating ${p}`);
    this.check('write', p);
    this.check('datasync', p);
    // Zero bytes, written and synced; Buffer.alloc leaves the pages untouched until used.
    this.live.set(p, { data: Buffer.alloc(bytes), length: bytes, syncedLength: bytes, durable: null, undo: null });
  }

  async openRead(path: string): Promise<ReadableFile> {
    const p = this.norm(path);
    this.check('open', p);
    const inode = this.live.get(p);
    if (inode === undefined) throw new FsError('ENOENT', `no such file ${p}`);
    return new MemReadableFile(this, p, inode, this.generation);
  }

  async readFile(path: string): Promise<Buffer> {
    const p = this.norm(path);
    this.check('read', p);
    const inode = this.live.get(p);
    if (inode === undefined) throw new FsError('ENOENT', `no such file ${p}`);
    return Buffer.from(inode.data.subarray(0, inode.length));
  }

  async rename(from: string, to: string): Promise<void> {
    const f = this.norm(from);
    const t = this.norm(to);
    this.check('rename', f);
    const inode = this.live.get(f);
    if (inode === undefined) throw new FsError('ENOENT', `no such file ${f}`);
    this.requireDir(posix.dirname(t));
    this.live.delete(f);
    this.live.set(t, inode);
  }

  async unlink(path: string): Promise<void> {
    const p = this.norm(path);
    this.check('unlink', p);
    if (!this.live.delete(p)) throw new FsError('ENOENT', `no such file ${p}`);
  }

  async truncate(path: string, length: number): Promise<void> {
    const p = this.norm(path);
    this.check('truncate', p);
    const inode = this.mustGet(p);
    this.shrink(inode, Math.min(length, inode.length));
    // NodeFileSystem.truncate fdatasyncs the file: everything written to it is durable too.
    inode.syncedLength = inode.length;
    inode.durable = null;
    inode.undo = null;
  }

  async readdir(dir: string): Promise<string[]> {
    const d = this.norm(dir);
    this.check('readdir', d);
    if (!this.dirs.has(d)) throw new FsError('ENOENT', `no such directory ${d}`);
    const names = new Set<string>();
    for (const p of this.live.keys()) if (posix.dirname(p) === d) names.add(posix.basename(p));
    for (const sub of this.dirs) if (sub !== d && posix.dirname(sub) === d) names.add(posix.basename(sub));
    return [...names].sort();
  }

  async mkdir(dir: string): Promise<void> {
    // Directories are modelled as durable on creation; the interesting losses are file entries.
    let d = this.norm(dir);
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      d = posix.dirname(d);
    }
  }

  async syncDir(dir: string): Promise<void> {
    const d = this.norm(dir);
    this.check('syncDir', d);
    for (const p of [...this.durable.keys()]) if (posix.dirname(p) === d && !this.live.has(p)) this.durable.delete(p);
    for (const [p, inode] of this.live) if (posix.dirname(p) === d) this.durable.set(p, inode);
  }

  async exists(path: string): Promise<boolean> {
    const p = this.norm(path);
    return this.live.has(p) || this.dirs.has(p);
  }

  // ---- internals used by handles -----------------------------------------------------------

  /** @internal */
  checkGeneration(generation: number, path: string): void {
    if (generation !== this.generation) throw new FsError('EBADF', `handle to ${path} died in a crash`);
  }

  /** @internal */
  check(op: FaultOp, path: string): FaultRule | undefined {
    for (const f of this.faults) {
      if (f.rule.op !== '*' && f.rule.op !== op) continue;
      if (f.rule.pathIncludes !== undefined && !path.includes(f.rule.pathIncludes)) continue;
      f.seen++;
      if (f.seen <= (f.rule.skip ?? 0)) continue;
      if (f.fired >= (f.rule.times ?? Number.POSITIVE_INFINITY)) continue;
      f.fired++;
      if (op === 'write' && f.rule.partialWrite === true) return f.rule;
      throw new FsError(f.rule.code, `injected ${f.rule.code} on ${op} ${path}`);
    }
    return undefined;
  }

  /** @internal Writes `chunks` at `position` (the end of the file for an appending handle); returns bytes written. */
  writeTo(inode: Inode, path: string, position: number, chunks: readonly Uint8Array[]): number {
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const partial = this.check('write', path);
    const growth = Math.max(0, position + total - inode.length);
    if (partial === undefined && this.liveBytes() + growth > this.capacityBytes) {
      throw new FsError('ENOSPC', `no space left writing ${path}`);
    }
    let budget = total;
    if (partial !== undefined) budget = Math.floor(this.random() * total);
    this.keepUndo(inode, position, position + budget);
    this.reserve(inode, position + budget);
    let at = position;
    for (const c of chunks) {
      if (budget <= 0) break;
      const n = Math.min(c.byteLength, budget);
      inode.data.set(c.subarray(0, n), at);
      at += n;
      budget -= n;
    }
    inode.length = Math.max(inode.length, at);
    this.stats.writes++;
    this.stats.bytesWritten += total;
    if (partial !== undefined) throw new FsError(partial.code, `injected ${partial.code} on write ${path}`);
    return at - position;
  }

  /** Before durable bytes in [from, to) are overwritten, keeps what a crash must bring back. */
  private keepUndo(inode: Inode, from: number, to: number): void {
    const end = Math.min(to, inode.syncedLength);
    if (from >= end || inode.durable !== null) return;
    const undo = inode.undo;
    if (undo === null) {
      inode.undo = { from, parts: [Buffer.from(inode.data.subarray(from, end))], bytes: end - from };
    } else if (from >= undo.from && from <= undo.from + undo.bytes) {
      const fresh = Math.max(undo.from + undo.bytes, from);
      if (end > fresh) {
        undo.parts.push(Buffer.from(inode.data.subarray(fresh, end)));
        undo.bytes += end - fresh;
      }
    } else {
      // Not one sequential run: fall back to a full copy of the durable content.
      inode.durable = durableContent(inode);
      inode.undo = null;
    }
  }

  /** @internal */
  sync(inode: Inode, path: string): void {
    this.check('datasync', path);
    this.stats.datasyncs++;
    inode.syncedLength = inode.length;
    inode.durable = null;
    inode.undo = null;
  }

  private reserve(inode: Inode, size: number): void {
    if (size <= inode.data.length) return;
    const next = Buffer.alloc(Math.max(size, inode.data.length * 2, 4096));
    next.set(inode.data.subarray(0, inode.length));
    inode.data = next;
  }

  private shrink(inode: Inode, length: number): void {
    if (length < inode.syncedLength && inode.durable === null) {
      inode.durable = durableContent(inode);
      inode.undo = null;
    }
    inode.length = length;
  }

  private mustGet(p: string): Inode {
    const inode = this.live.get(p);
    if (inode === undefined) throw new FsError('ENOENT', `no such file ${p}`);
    return inode;
  }

  private requireDir(d: string): void {
    if (!this.dirs.has(d)) throw new FsError('ENOENT', `no such directory ${d}`);
  }

  private norm(path: string): string {
    return posix.resolve('/', path);
  }
}

class MemWritableFile implements WritableFile {
  private closed = false;
  constructor(
    private readonly fs: MemFileSystem,
    readonly path: string,
    private readonly inode: Inode,
    private readonly generation: number,
    /** Write position of an overwriting handle; null for an appending one (always at the end). */
    private position: number | null,
  ) {}

  get size(): number {
    return this.position ?? this.inode.length;
  }

  async append(chunks: readonly Uint8Array[]): Promise<void> {
    this.guard();
    if (this.position === null) {
      this.fs.writeTo(this.inode, this.path, this.inode.length, chunks);
      return;
    }
    this.position += this.fs.writeTo(this.inode, this.path, this.position, chunks);
  }

  async datasync(): Promise<void> {
    this.guard();
    this.fs.sync(this.inode, this.path);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private guard(): void {
    if (this.closed) throw new FsError('EBADF', `${this.path} is closed`);
    this.fs.checkGeneration(this.generation, this.path);
  }
}

class MemReadableFile implements ReadableFile {
  readonly size: number;
  constructor(
    private readonly fs: MemFileSystem,
    readonly path: string,
    private readonly inode: Inode,
    private readonly generation: number,
  ) {
    this.size = inode.length;
  }

  async read(position: number, length: number): Promise<Buffer> {
    this.fs.checkGeneration(this.generation, this.path);
    this.fs.check('read', this.path);
    const end = Math.min(this.inode.length, position + length);
    if (end <= position) return Buffer.alloc(0);
    this.fs.stats.reads++;
    this.fs.stats.bytesRead += end - position;
    return Buffer.from(this.inode.data.subarray(position, end));
  }

  async close(): Promise<void> {}
}
