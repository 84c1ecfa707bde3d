import { posix } from 'node:path';
import { StorageError, corruption } from './errors.js';
import { type FileSystem } from './fs.js';
import { FrameType, LogWriter, frame, parseLog } from './log-format.js';
import { type WalPosition } from './wal.js';

/**
 * The manifest: an append-only log of version edits, the single truth of which partitions and
 * SSTables are live. An edit is fsynced before it is installed in memory. Each open (and each
 * time the log passes manifestBytesMax) writes a fresh manifest holding one snapshot edit and
 * repoints CURRENT to it atomically. See docs/formats/manifest.md.
 */
export interface TableMeta {
  readonly fileNumber: number;
  readonly baseOffset: number;
  /** One past the last offset of the last batch. */
  readonly nextOffset: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
  readonly bytes: number;
  readonly batchCount: number;
}

export type CleanupPolicy = 'delete' | 'compact';

export interface PartitionConfig {
  /** -1: keep forever. */
  readonly retentionMs: number;
  /** -1: no size limit. */
  readonly retentionBytes: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly deleteRetentionMs: number;
  /** SSTable target size for this partition (Kafka's segment.bytes). */
  readonly segmentBytes: number;
}

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export interface PartitionState {
  readonly id: number;
  readonly topic: string;
  readonly partition: number;
  readonly config: PartitionConfig;
  readonly logStartOffset: number;
  /** Log end offset of the SSTable part (the memtable continues from here). */
  readonly flushedEndOffset: number;
  /** WAL frames of this partition at or before this position are in SSTables. */
  readonly flushedWal: WalPosition | null;
  readonly tables: readonly TableMeta[];
  readonly epochs: readonly EpochEntry[];
}

export interface ManifestState {
  readonly nextFileNumber: number;
  readonly nextPartitionId: number;
  readonly partitions: ReadonlyMap<number, PartitionState>;
}

export type VersionEdit =
  | { readonly kind: 'snapshot'; readonly nextFileNumber: number; readonly nextPartitionId: number; readonly partitions: PartitionState[] }
  | { readonly kind: 'createPartition'; readonly state: PartitionState }
  | { readonly kind: 'deletePartition'; readonly id: number }
  | {
      readonly kind: 'partition';
      readonly id: number;
      readonly added?: readonly TableMeta[];
      readonly removed?: readonly number[];
      readonly logStartOffset?: number;
      readonly flushedEndOffset?: number;
      readonly flushedWal?: WalPosition;
      readonly epochs?: readonly EpochEntry[];
      readonly config?: PartitionConfig;
    }
  | { readonly kind: 'nextFileNumber'; readonly nextFileNumber: number };

export function emptyState(): ManifestState {
  return { nextFileNumber: 1, nextPartitionId: 1, partitions: new Map() };
}

/** Pure: the state after an edit. Throws when the edit does not fit the state. */
export function applyEdit(state: ManifestState, edit: VersionEdit): ManifestState {
  switch (edit.kind) {
    case 'snapshot':
      return { nextFileNumber: edit.nextFileNumber, nextPartitionId: edit.nextPartitionId, partitions: new Map(edit.partitions.map((p) => [p.id, p])) };
    case 'createPartition': {
      const partitions = new Map(state.partitions);
      if (partitions.has(edit.state.id)) throw new Error(`partition id ${edit.state.id} exists`);
      partitions.set(edit.state.id, edit.state);
      return { ...state, partitions, nextPartitionId: Math.max(state.nextPartitionId, edit.state.id + 1) };
    }
    case 'deletePartition': {
      const partitions = new Map(state.partitions);
      partitions.delete(edit.id);
      return { ...state, partitions };
    }
    case 'partition': {
      const p = state.partitions.get(edit.id);
      if (p === undefined) throw new Error(`edit for unknown partition id ${edit.id}`);
      const removed = new Set(edit.removed ?? []);
      const tables = [...p.tables.filter((t) => !removed.has(t.fileNumber)), ...(edit.added ?? [])].sort((a, b) => a.baseOffset - b.baseOffset);
      const maxFile = Math.max(0, ...(edit.added ?? []).map((t) => t.fileNumber));
      const next: PartitionState = {
        ...p,
        tables,
        logStartOffset: edit.logStartOffset ?? p.logStartOffset,
        flushedEndOffset: edit.flushedEndOffset ?? p.flushedEndOffset,
        flushedWal: edit.flushedWal ?? p.flushedWal,
        epochs: edit.epochs ?? p.epochs,
        config: edit.config ?? p.config,
      };
      const partitions = new Map(state.partitions);
      partitions.set(edit.id, next);
      return { ...state, partitions, nextFileNumber: Math.max(state.nextFileNumber, maxFile + 1) };
    }
    case 'nextFileNumber':
      return { ...state, nextFileNumber: Math.max(state.nextFileNumber, edit.nextFileNumber) };
  }
}

const CURRENT = 'CURRENT';

function manifestName(n: number): string {
  return `MANIFEST-${String(n).padStart(6, '0')}`;
}

export class Manifest {
  private chain: Promise<void> = Promise.resolve();
  private failure: StorageError | null = null;
  private writing = false;
  private pending: { edit: VersionEdit; resolve: (s: ManifestState) => void; reject: (e: unknown) => void }[] = [];

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private writer: LogWriter,
    private number: number,
    private current: ManifestState,
    private readonly manifestBytesMax: number,
  ) {}

  /** Loads the live manifest (or starts an empty one) and rewrites it as one snapshot. */
  static async open(fs: FileSystem, dir: string, manifestBytesMax: number, frameBytesMax: number): Promise<Manifest> {
    let state = emptyState();
    let number = 0;
    const currentPath = posix.join(dir, CURRENT);
    if (await fs.exists(currentPath)) {
      const name = (await fs.readFile(currentPath)).toString('utf8').trim();
      if (!/^MANIFEST-\d{6}$/.test(name)) throw corruption(currentPath, 0, 'malformed CURRENT');
      number = Number(name.slice('MANIFEST-'.length));
      const path = posix.join(dir, name);
      const parsed = parseLog(await fs.readFile(path), frameBytesMax);
      // A torn tail is an edit whose fsync never returned, so nothing relied on it.
      if (parsed.tail.kind === 'corrupt') throw corruption(path, parsed.tail.position, 'corrupt manifest edit followed by valid edits');
      for (const f of parsed.frames) {
        if (f.type !== FrameType.manifestEdit) throw corruption(path, f.start, 'unexpected frame type in manifest');
        let edit: VersionEdit;
        try {
          edit = JSON.parse(f.payload.toString('utf8')) as VersionEdit;
          state = applyEdit(state, edit);
        } catch (err) {
          throw corruption(path, f.start, 'undecodable manifest edit', err);
        }
      }
    }
    const { writer, number: fresh } = await Manifest.writeSnapshot(fs, dir, number + 1, state);
    const m = new Manifest(fs, dir, writer, fresh, state, manifestBytesMax);
    await m.removeStale();
    return m;
  }

  get state(): ManifestState {
    return this.current;
  }

  get failed(): StorageError | null {
    return this.failure;
  }

  /**
   * Durably appends an edit, then installs it. Edits apply one at a time, in call order; edits
   * that queue while a write is in flight share the next write and fsync (group commit).
   */
  apply(edit: VersionEdit): Promise<ManifestState> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<ManifestState>((resolve, reject) => {
      this.pending.push({ edit, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    this.chain = this.writeLoop().finally(() => {
      this.writing = false;
      // An edit may have queued after the loop's last check and before this callback.
      if (this.pending.length > 0) this.kick();
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0);
      let state = this.current;
      const accepted: { edit: VersionEdit; state: ManifestState; resolve: (s: ManifestState) => void; reject: (e: unknown) => void }[] = [];
      for (const p of group) {
        try {
          state = applyEdit(state, p.edit);
          accepted.push({ ...p, state });
        } catch (err) {
          p.reject(err);
        }
      }
      if (accepted.length === 0) continue;
      try {
        if (this.failure !== null) throw this.failure;
        const frames = accepted.flatMap((a) => frame(FrameType.manifestEdit, [Buffer.from(JSON.stringify(a.edit), 'utf8')]));
        await this.writer.file.append(frames);
        await this.writer.sync();
        if (this.writer.size > this.manifestBytesMax) {
          const { writer, number } = await Manifest.writeSnapshot(this.fs, this.dir, this.number + 1, state);
          await this.writer.file.close();
          this.writer = writer;
          this.number = number;
          await this.removeStale();
        }
      } catch (err) {
        this.failure ??= new StorageError('STORAGE_FAILED', `manifest write failed: ${(err as Error).message}`, { cause: err });
        for (const a of accepted) a.reject(this.failure);
        for (const p of this.pending.splice(0)) p.reject(this.failure);
        return;
      }
      this.current = state;
      for (const a of accepted) a.resolve(a.state);
    }
  }

  async close(): Promise<void> {
    await this.chain;
    await this.writer.file.close().catch(() => undefined);
  }

  private static async writeSnapshot(fs: FileSystem, dir: string, number: number, state: ManifestState): Promise<{ writer: LogWriter; number: number }> {
    const name = manifestName(number);
    const file = await fs.openAppend(posix.join(dir, name), { truncate: true });
    const writer = new LogWriter(file);
    const snapshot: VersionEdit = { kind: 'snapshot', nextFileNumber: state.nextFileNumber, nextPartitionId: state.nextPartitionId, partitions: [...state.partitions.values()] };
    await writer.add(FrameType.manifestEdit, [Buffer.from(JSON.stringify(snapshot), 'utf8')]);
    await writer.sync();
    const tmp = posix.join(dir, `${CURRENT}.tmp`);
    const cur = await fs.openAppend(tmp, { truncate: true });
    await cur.append([Buffer.from(`${name}\n`, 'utf8')]);
    await cur.datasync();
    await cur.close();
    await fs.rename(tmp, posix.join(dir, CURRENT));
    await fs.syncDir(dir);
    return { writer, number };
  }

  private async removeStale(): Promise<void> {
    const keep = manifestName(this.number);
    for (const name of await this.fs.readdir(this.dir)) {
      if (name.startsWith('MANIFEST-') && name !== keep) await this.fs.unlink(posix.join(this.dir, name));
    }
  }
}
