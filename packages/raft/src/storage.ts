import { RaftError, assert } from './errors.js';
import {
  ConfChangeType,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  EntryType,
  emptyHardState,
  encodeConfChange,
  entrySize,
} from './types.js';

/**
 * The read side of durable Raft state, as the core sees it. Everything returned has been
 * persisted. Methods throw RaftError COMPACTED for indexes below firstIndex and UNAVAILABLE
 * above lastIndex.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any exist, stopping before maxBytes is exceeded. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Storage held in memory: the test storage and the driver's cache over level. */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
  // ents[0] is a dummy holding the snapshot's index and term, as in etcd.
  private ents: Entry[] = [{ index: 0, term: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  /**
   * A new node's storage. Initial members get the same bootstrap log (see bootstrapEntries);
   * a node joining later passes no voters and learns the membership from the leader.
   */
  static bootstrap(voters: readonly number[], learners: readonly number[] = []): MemoryStorage {
    const s = new MemoryStorage();
    const ents = bootstrapEntries(voters, learners);
    s.append(ents);
    if (ents.length > 0) s.hardState = { term: 1, vote: 0, commit: ents.length };
    return s;
  }

  /** Rebuilds a storage from persisted parts (the driver's load path). */
  static fromPersisted(snapshot: Snapshot, hardState: HardState, entries: readonly Entry[]): MemoryStorage {
    const s = new MemoryStorage();
    s.snap = snapshot;
    s.ents = [{ index: snapshot.metadata.index, term: snapshot.metadata.term, type: EntryType.Normal, data: new Uint8Array(0) }];
    s.append(entries);
    s.hardState = hardState;
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftError('COMPACTED', `entry ${lo} compacted (first index ${offset + 1})`);
    if (hi > this.lastIndex() + 1) throw new RaftError('UNAVAILABLE', `entries up to ${hi - 1} unavailable (last ${this.lastIndex()})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new RaftError('COMPACTED', `term of ${index} compacted`);
    if (index - offset >= this.ents.length) throw new RaftError('UNAVAILABLE', `term of ${index} unavailable`);
    return this.ents[index - offset]!.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower installing one). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) {
      throw new RaftError('SNAPSHOT_OUT_OF_DATE', `snapshot ${snap.metadata.index} ≤ current ${this.snap.metadata.index}`);
    }
    this.snap = snap;
    this.ents = [{ index: snap.metadata.index, term: snap.metadata.term, type: EntryType.Normal, data: new Uint8Array(0) }];
  }

  /** Records a snapshot of the applied state at `index` so lagging followers can be caught up. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new RaftError('SNAPSHOT_OUT_OF_DATE', `snapshot ${index} not newer`);
    assert(index <= this.lastIndex(), 'snapshot index within the log');
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; the entry at compactIndex stays as the new dummy. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    assert(compactIndex <= this.lastIndex(), 'compact within the log');
    const i = compactIndex - offset;
    const dummy = this.ents[i]!;
    this.ents = [{ index: dummy.index, term: dummy.term, type: EntryType.Normal, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, truncating any conflicting suffix. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    // Entries already compacted away are committed and therefore identical; skip them.
    const toAppend = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = toAppend[0]!.index - this.offset();
    assert(offset >= 1 && offset <= this.ents.length, `append leaves no gap (at ${toAppend[0]!.index}, last ${this.lastIndex()})`);
    // Truncate in place: copying a long log on every append would make appends O(log size).
    this.ents.length = offset;
    for (const e of toAppend) this.ents.push(e);
  }

  private offset(): number {
    return this.ents[0]!.index;
  }
}

/**
 * The initial membership as committed conf-change entries at term 1 (as etcd bootstraps):
 * every initial member writes the same entries, and a node that later replays the log from
 * index 1 derives the same membership.
 */
export function bootstrapEntries(voters: readonly number[], learners: readonly number[] = []): Entry[] {
  const out: Entry[] = [];
  const add = (type: ConfChangeType, nodeId: number): void => {
    out.push({ term: 1, index: out.length + 1, type: EntryType.ConfChange, data: encodeConfChange({ type, nodeId }) });
  };
  for (const v of [...voters].sort((a, b) => a - b)) add(ConfChangeType.AddVoter, v);
  for (const l of [...learners].sort((a, b) => a - b)) add(ConfChangeType.AddLearner, l);
  return out;
}
