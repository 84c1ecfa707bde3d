import { Level } from 'level';
import { decodeEntries, decodeHardState, decodeSnapshot, encodeEntries, encodeHardState, encodeSnapshot } from './codec.js';
import { RaftError, assert } from './errors.js';
import { MemoryStorage, bootstrapEntries } from './storage.js';
import { type ConfState, type Entry, type HardState, type Snapshot, emptyHardState } from './types.js';

/*
 * Durable Raft state in a level (LevelDB) database. Keys: "h" hard state, "s" latest
 * snapshot, and "c" + 8-byte big-endian first index for each chunk of log entries: the
 * entries of one Ready are written as one chunk, so a batch of proposals costs one put and
 * one fsync. A chunk starting inside an earlier chunk truncates it (a conflicting suffix was
 * replaced); chunks starting after the new entries are deleted in the same batch. Loading
 * replays chunks in key order. A MemoryStorage mirrors the database and serves every read.
 *
 * A change of the commit index alone is not written when it happens: it rides along with the
 * next batch (entries, a vote, a snapshot or a compaction) or the clean close. The commit index
 * need not be durable (a restarted node learns it again from the leader; the persisted one only
 * saves re-fetching), and leaving it out takes one database write off every commit's path.
 */

const KEY_HARD_STATE = new Uint8Array([0x68]);
const KEY_SNAPSHOT = new Uint8Array([0x73]);
const CHUNK_PREFIX = 0x63;

function chunkKey(firstIndex: number): Uint8Array {
  const k = new Uint8Array(9);
  const dv = new DataView(k.buffer);
  k[0] = CHUNK_PREFIX;
  dv.setUint32(1, Math.floor(firstIndex / 0x100000000));
  dv.setUint32(5, firstIndex >>> 0);
  return k;
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

interface Chunk {
  readonly first: number;
  last: number;
}

export class LevelStorage {
  /** Batches written with fsync / without (commit-index-only updates need none). */
  syncedWrites = 0;
  unsyncedWrites = 0;
  /** The cache's hard state differs from the database's in its commit index only. */
  private commitUnwritten = false;

  private constructor(
    private readonly db: Level<Uint8Array, Uint8Array>,
    readonly cache: MemoryStorage,
    private readonly syncWrites: boolean,
    /** Live chunks in index order (the last one may have been truncated logically). */
    private chunks: Chunk[],
  ) {}

  /**
   * Opens (creating if needed) the database at `dir`. A fresh database is bootstrapped with
   * the given membership as committed conf entries (none for a node joining later).
   */
  static async open(dir: string, bootstrap: ConfState, options: { sync?: boolean } = {}): Promise<LevelStorage> {
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    const sync = options.sync ?? true;
    try {
      await db.open();
      const snapBytes = await db.get(KEY_SNAPSHOT);
      if (snapBytes === undefined) {
        const snapshot: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
        const ents = bootstrapEntries(bootstrap.voters, bootstrap.learners);
        const ops: Op[] = [];
        if (ents.length > 0) {
          ops.push({ type: 'put', key: chunkKey(1), value: encodeEntries(ents) });
          ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState({ term: 1, vote: 0, commit: ents.length }) });
        }
        ops.push({ type: 'put', key: KEY_SNAPSHOT, value: encodeSnapshot(snapshot) });
        await db.batch(ops, { sync });
      }
      return await LevelStorage.load(db, sync);
    } catch (e) {
      await db.close().catch(() => undefined);
      if (e instanceof RaftError) throw e;
      throw new RaftError('STORAGE', `cannot open raft storage at ${dir}`, { cause: e });
    }
  }

  private static async load(db: Level<Uint8Array, Uint8Array>, sync: boolean): Promise<LevelStorage> {
    const snapBytes = await db.get(KEY_SNAPSHOT);
    if (snapBytes === undefined) throw new RaftError('STORAGE', 'raft storage has no snapshot record');
    const snapshot = decodeSnapshot(snapBytes);
    const hsBytes = await db.get(KEY_HARD_STATE);
    const hardState: HardState = hsBytes === undefined ? emptyHardState() : decodeHardState(hsBytes);
    const base = snapshot.metadata.index;
    let entries: Entry[] = [];
    const chunks: Chunk[] = [];
    for await (const [key, value] of db.iterator({ gte: chunkKey(0), lte: chunkKey(Number.MAX_SAFE_INTEGER) })) {
      const ents = decodeEntries(value);
      const first = ents[0]?.index;
      if (first === undefined) continue;
      if (new DataView(key.buffer, key.byteOffset).getUint32(5) !== first >>> 0) throw new RaftError('STORAGE', `raft log chunk key does not match its first entry ${first}`);
      chunks.push({ first, last: first + ents.length - 1 });
      const next = base + entries.length + 1;
      if (first > next) throw new RaftError('STORAGE', `raft log gap: chunk at ${first}, expected ≤ ${next}`);
      // A later chunk that starts inside the loaded log replaced that suffix.
      if (first > base) entries.length = first - base - 1;
      else entries = [];
      for (const e of ents) if (e.index > base) entries.push(e);
    }
    return new LevelStorage(db, MemoryStorage.fromPersisted(snapshot, hardState, entries), sync, chunks);
  }

  /**
   * Durably writes one Ready's snapshot, entries and hard state in a single synced batch,
   * then mirrors them into the cache. Nothing of the Ready may be sent before this resolves.
   */
  async persist(hardState: HardState | undefined, entries: readonly Entry[], snapshot: Snapshot | undefined, sync: boolean): Promise<void> {
    if (!sync && entries.length === 0 && snapshot === undefined) {
      // The core asks for a sync whenever term or vote change: this is a commit index move.
      if (hardState !== undefined) {
        this.cache.setHardState(hardState);
        this.commitUnwritten = true;
      }
      return;
    }
    const ops: Op[] = [];
    let chunks = this.chunks;
    if (snapshot !== undefined) {
      for (const c of chunks) ops.push({ type: 'del', key: chunkKey(c.first) });
      chunks = [];
      ops.push({ type: 'put', key: KEY_SNAPSHOT, value: encodeSnapshot(snapshot) });
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      // Chunks at or after the new entries hold a replaced suffix; delete them.
      const kept = chunks.filter((c) => c.first < first);
      for (const c of chunks) if (c.first >= first) ops.push({ type: 'del', key: chunkKey(c.first) });
      const lastKept = kept[kept.length - 1];
      if (lastKept !== undefined && lastKept.last >= first) lastKept.last = first - 1;
      ops.push({ type: 'put', key: chunkKey(first), value: encodeEntries(entries) });
      kept.push({ first, last: entries[entries.length - 1]!.index });
      chunks = kept;
    }
    const hs = hardState ?? (this.commitUnwritten ? this.cache.initialState().hardState : undefined);
    if (hs !== undefined) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hs) });
    if (ops.length === 0) return;
    const synced = sync && this.syncWrites;
    if (synced) this.syncedWrites++;
    else this.unsyncedWrites++;
    try {
      await this.db.batch(ops, { sync: synced });
    } catch (e) {
      throw new RaftError('STORAGE', 'raft storage write failed', { cause: e });
    }
    this.chunks = chunks;
    this.commitUnwritten = false;
    if (snapshot !== undefined) this.cache.applySnapshot(snapshot);
    this.cache.append(entries);
    if (hardState !== undefined) this.cache.setHardState(hardState);
  }

  /** Records a snapshot at `index` and drops the chunks wholly at or before it. */
  async compact(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    assert(index >= this.cache.firstIndex() && index <= this.cache.lastIndex(), 'compaction index within the log');
    const snap: Snapshot = { metadata: { index, term: this.cache.term(index), confState }, data };
    const ops: Op[] = [{ type: 'put', key: KEY_SNAPSHOT, value: encodeSnapshot(snap) }];
    // A reload requires commit ≥ the snapshot's index. The index is applied, so committed, but
    // the last hard state handed here may predate that (takeCommitted applies ahead of Readys).
    const known = this.cache.initialState().hardState;
    const hs = known.commit >= index ? known : { ...known, commit: index };
    if (this.commitUnwritten || hs !== known) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hs) });
    const kept: Chunk[] = [];
    for (const c of this.chunks) {
      if (c.last <= index) ops.push({ type: 'del', key: chunkKey(c.first) });
      else kept.push(c);
    }
    try {
      await this.db.batch(ops, { sync: this.syncWrites });
    } catch (e) {
      throw new RaftError('STORAGE', 'raft storage compaction failed', { cause: e });
    }
    this.chunks = kept;
    this.commitUnwritten = false;
    this.cache.setHardState(hs);
    this.cache.createSnapshot(index, confState, data);
    this.cache.compact(index);
    return snap;
  }

  /**
   * Closes the database, first writing an unwritten commit index so that a clean restart
   * resumes where it stopped (`writeCommit` false after a storage failure: write nothing more).
   */
  async close(writeCommit = true): Promise<void> {
    try {
      if (writeCommit && this.commitUnwritten) {
        await this.db.put(KEY_HARD_STATE, encodeHardState(this.cache.initialState().hardState), { sync: this.syncWrites });
        this.commitUnwritten = false;
      }
    } finally {
      await this.db.close();
    }
  }
}
