import { Level } from 'level';
import { decodeEntry, decodeHardState, decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot } from './codec.js';
import { RaftError, assert } from './errors.js';
import { MemoryStorage } from './storage.js';
import { type ConfState, type Entry, type HardState, type Snapshot, emptyHardState } from './types.js';

/*
 * Durable Raft state in a level (LevelDB) database. Keys: "h" hard state, "s" latest
 * snapshot, "e" + 8-byte big-endian index for each log entry. A MemoryStorage mirrors the
 * database and serves every read of the core; the database is read only at open.
 */

const KEY_HARD_STATE = new Uint8Array([0x68]);
const KEY_SNAPSHOT = new Uint8Array([0x73]);
const ENTRY_PREFIX = 0x65;

function entryKey(index: number): Uint8Array {
  const k = new Uint8Array(9);
  const dv = new DataView(k.buffer);
  k[0] = ENTRY_PREFIX;
  dv.setUint32(1, Math.floor(index / 0x100000000));
  dv.setUint32(5, index >>> 0);
  return k;
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export class LevelStorage {
  private constructor(
    private readonly db: Level<Uint8Array, Uint8Array>,
    readonly cache: MemoryStorage,
    private readonly syncWrites: boolean,
  ) {}

  /**
   * Opens (creating if needed) the database at `dir`. A fresh database is bootstrapped with
   * the given membership, written as an index-0 snapshot so a restart knows it.
   */
  static async open(dir: string, bootstrap: ConfState, options: { sync?: boolean } = {}): Promise<LevelStorage> {
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
      const snapBytes = await db.get(KEY_SNAPSHOT);
      const hsBytes = await db.get(KEY_HARD_STATE);
      let snapshot: Snapshot;
      if (snapBytes === undefined) {
        snapshot = { metadata: { index: 0, term: 0, confState: bootstrap }, data: new Uint8Array(0) };
        await db.put(KEY_SNAPSHOT, encodeSnapshot(snapshot), { sync: options.sync ?? true });
      } else {
        snapshot = decodeSnapshot(snapBytes);
      }
      const hardState: HardState = hsBytes === undefined ? emptyHardState() : decodeHardState(hsBytes);
      const entries: Entry[] = [];
      for await (const value of db.values({ gt: entryKey(snapshot.metadata.index), lt: entryKey(Number.MAX_SAFE_INTEGER) })) {
        const e = decodeEntry(value);
        const expected = snapshot.metadata.index + entries.length + 1;
        if (e.index !== expected) throw new RaftError('STORAGE', `raft log gap: found entry ${e.index}, expected ${expected}`);
        entries.push(e);
      }
      return new LevelStorage(db, MemoryStorage.fromPersisted(snapshot, hardState, entries), options.sync ?? true);
    } catch (e) {
      await db.close().catch(() => undefined);
      if (e instanceof RaftError) throw e;
      throw new RaftError('STORAGE', `cannot open raft storage at ${dir}`, { cause: e });
    }
  }

  /**
   * Durably writes one Ready's snapshot, entries and hard state in a single synced batch,
   * then mirrors them into the cache. Nothing of the Ready may be sent before this resolves.
   */
  async persist(hardState: HardState | undefined, entries: readonly Entry[], snapshot: Snapshot | undefined, sync: boolean): Promise<void> {
    const ops: Op[] = [];
    if (snapshot !== undefined) {
      for (let i = this.cache.firstIndex(); i <= this.cache.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) });
      ops.push({ type: 'put', key: KEY_SNAPSHOT, value: encodeSnapshot(snapshot) });
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      const newLast = entries[entries.length - 1]!.index;
      // A conflicting suffix beyond the new entries must go, or a restart would resurrect it.
      const oldLast = snapshot !== undefined ? snapshot.metadata.index : this.cache.lastIndex();
      for (let i = newLast + 1; i <= oldLast && i >= first; i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const e of entries) ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
    }
    if (hardState !== undefined) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hardState) });
    if (ops.length === 0) return;
    try {
      await this.db.batch(ops, { sync: sync && this.syncWrites });
    } catch (e) {
      throw new RaftError('STORAGE', 'raft storage write failed', { cause: e });
    }
    if (snapshot !== undefined) this.cache.applySnapshot(snapshot);
    this.cache.append(entries);
    if (hardState !== undefined) this.cache.setHardState(hardState);
  }

  /** Records a snapshot at `index` and drops the log before it. */
  async compact(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const first = this.cache.firstIndex();
    assert(index >= first && index <= this.cache.lastIndex(), 'compaction index within the log');
    const snap: Snapshot = { metadata: { index, term: this.cache.term(index), confState }, data };
    const ops: Op[] = [{ type: 'put', key: KEY_SNAPSHOT, value: encodeSnapshot(snap) }];
    for (let i = first; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) });
    try {
      await this.db.batch(ops, { sync: this.syncWrites });
    } catch (e) {
      throw new RaftError('STORAGE', 'raft storage compaction failed', { cause: e });
    }
    this.cache.createSnapshot(index, confState, data);
    this.cache.compact(index);
    return snap;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
