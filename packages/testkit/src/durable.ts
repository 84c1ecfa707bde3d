import { SimDiskError } from './errors.js';
import { type Prng } from './prng.js';
import { type Simulator, type TimerId } from './simulator.js';

// Small simulated durable state for things that are not a file system: a Raft node's log and
// hard state in simulation. Writes land in a volatile view at once; `sync` makes the view as
// it was at the call durable after `syncDelayMs` of virtual time; `crash` throws the volatile
// view away. Entries are stored by reference: callers must not mutate them after writing.

export type SyncCallback = (err: SimDiskError | undefined) => void;

export interface SimDurableOptions {
  /** Without a simulator, syncs complete synchronously. */
  sim?: Simulator;
  /** Virtual time an fsync takes. */
  syncDelayMs?: number;
  /** Capacity; an append that would exceed it fails with ENOSPC. */
  entriesMax?: number;
}

export interface SimDurableStats {
  writes: number;
  syncs: number;
  syncsCompleted: number;
  crashes: number;
  /** Entries (or cell values) that were written but lost to a crash. */
  lost: number;
}

export interface CrashOptions {
  /**
   * Model a torn tail: with a Prng, a random prefix of the unsynced writes survives the crash
   * (the disk may have written some of them), instead of losing all of them.
   */
  tornTail?: Prng;
}

interface PendingSync<S> {
  snapshot: S;
  callback: SyncCallback | undefined;
  timer: TimerId | undefined;
  dueMs: number;
}

/** FIFO syncs with a simulated delay, ENOSPC and EIO switches; shared by the log and the cell. */
abstract class SimDurable<S> {
  /** When true, every write fails with ENOSPC (the switch a test flips). */
  diskFull = false;
  protected readonly counters: SimDurableStats = { writes: 0, syncs: 0, syncsCompleted: 0, crashes: 0, lost: 0 };
  protected readonly entriesMax: number;
  private readonly sim: Simulator | undefined;
  private readonly syncDelayMs: number;
  private readonly pendingSyncs: PendingSync<S>[] = [];
  private failNext = 0;
  /** After an EIO the store is fail-stop until crash(): a retried fsync cannot be trusted. */
  private failedWith: SimDiskError | undefined;

  constructor(options: SimDurableOptions) {
    this.sim = options.sim;
    this.syncDelayMs = options.syncDelayMs ?? 0;
    this.entriesMax = options.entriesMax ?? Number.MAX_SAFE_INTEGER;
    if (!(Number.isFinite(this.syncDelayMs) && this.syncDelayMs >= 0)) {
      throw new SimDiskError('SIM_DISK_BAD_ARGUMENT', `syncDelayMs must be >= 0, got ${this.syncDelayMs}`);
    }
    if (!(Number.isSafeInteger(this.entriesMax) && this.entriesMax >= 0)) {
      throw new SimDiskError('SIM_DISK_BAD_ARGUMENT', `entriesMax must be a non-negative integer, got ${this.entriesMax}`);
    }
  }

  get stats(): SimDurableStats {
    return { ...this.counters };
  }

  /** Syncs called and not yet durable. */
  get syncsPending(): number {
    return this.pendingSyncs.length;
  }

  /** Make the next `count` syncs fail with EIO (then the store is fail-stop until crash()). */
  failNextSync(count = 1): void {
    this.failNext += count;
  }

  /**
   * Make the current volatile view durable after syncDelayMs. Syncs complete in call order.
   * The callback runs on completion with undefined, or with an EIO error.
   */
  sync(callback?: SyncCallback): void {
    this.counters.syncs++;
    const failed = this.failedWith;
    if (failed !== undefined) {
      // Failures are reported through the event queue too, never inside the caller's stack.
      if (this.sim === undefined) this.complete(callback, failed);
      else this.sim.schedule(0, () => this.complete(callback, failed));
      return;
    }
    const snapshot = this.takeSnapshot();
    if (this.sim === undefined) {
      this.finishSync({ snapshot, callback, timer: undefined, dueMs: 0 });
      return;
    }
    const sim = this.sim;
    const last = this.pendingSyncs[this.pendingSyncs.length - 1];
    const dueMs = Math.max(sim.now + this.syncDelayMs, last?.dueMs ?? 0);
    const pending: PendingSync<S> = { snapshot, callback, timer: undefined, dueMs };
    pending.timer = sim.schedule(dueMs - sim.now, () => {
      const head = this.pendingSyncs.shift();
      if (head !== pending) throw new SimDiskError('SIM_DISK_BAD_ARGUMENT', 'invariant: syncs complete in order');
      this.finishSync(pending);
    });
    this.pendingSyncs.push(pending);
  }

  /** Sync at once, ignoring syncDelayMs (setup code, or stores without a simulator). */
  syncNow(): void {
    if (this.failedWith !== undefined) throw this.failedWith;
    this.counters.syncs++;
    this.finishSync({ snapshot: this.takeSnapshot(), callback: undefined, timer: undefined, dueMs: 0 });
  }

  /** Power loss: unsynced writes are lost (or, with tornTail, a random prefix survives). */
  crash(options: CrashOptions = {}): void {
    this.counters.crashes++;
    for (const p of this.pendingSyncs) {
      if (p.timer !== undefined) this.sim?.cancel(p.timer);
    }
    this.pendingSyncs.length = 0;
    this.failedWith = undefined;
    this.failNext = 0;
    this.restoreAfterCrash(options.tornTail);
  }

  protected checkWritable(extraEntries: number, size: number): void {
    if (this.failedWith !== undefined) throw this.failedWith;
    if (this.diskFull) throw new SimDiskError('ENOSPC', 'simulated disk full (diskFull switch)');
    if (size + extraEntries > this.entriesMax) {
      throw new SimDiskError('ENOSPC', `simulated disk full: ${size} + ${extraEntries} entries > entriesMax ${this.entriesMax}`);
    }
  }

  protected abstract takeSnapshot(): S;
  protected abstract applySnapshot(snapshot: S): void;
  protected abstract restoreAfterCrash(tornTail: Prng | undefined): void;

  private finishSync(p: PendingSync<S>): void {
    if (this.failNext > 0) {
      this.failNext--;
      this.failedWith = new SimDiskError('EIO', 'simulated fsync failure (EIO); the store is fail-stop until crash()');
      // Syncs queued behind a failed one cannot succeed either.
      this.complete(p.callback, this.failedWith);
      return;
    }
    if (this.failedWith !== undefined) {
      this.complete(p.callback, this.failedWith);
      return;
    }
    this.applySnapshot(p.snapshot);
    this.counters.syncsCompleted++;
    this.complete(p.callback, undefined);
  }

  private complete(callback: SyncCallback | undefined, err: SimDiskError | undefined): void {
    callback?.(err);
  }
}

interface LogSnapshot<T> {
  /** Durable entries from this index on are replaced by `tail`. */
  from: number;
  tail: T[];
}

/** An append-only log with truncation (a Raft log), durable only after sync. */
export class SimDurableLog<T> extends SimDurable<LogSnapshot<T>> {
  private volatile: T[] = [];
  private durable: T[] = [];
  /** Lowest index changed since the last sync call: the next sync rewrites from here. */
  private dirtyFrom = 0;

  constructor(options: SimDurableOptions = {}) {
    super(options);
  }

  get length(): number {
    return this.volatile.length;
  }

  get durableLength(): number {
    return this.durable.length;
  }

  get(index: number): T | undefined {
    return this.volatile[index];
  }

  /** The volatile view (what a running process reads). Do not mutate. */
  entries(): readonly T[] {
    return this.volatile;
  }

  /** What would survive a crash right now (without a torn tail). */
  durableEntries(): readonly T[] {
    return this.durable;
  }

  slice(from: number, to?: number): T[] {
    return this.volatile.slice(from, to);
  }

  /** Append entries (unsynced). Throws SimDiskError ENOSPC/EIO. */
  append(entries: readonly T[]): void {
    this.checkWritable(entries.length, this.volatile.length);
    this.counters.writes++;
    for (const e of entries) this.volatile.push(e);
  }

  /** Same as append: the brief's name for an unsynced write. */
  write(entries: readonly T[]): void {
    this.append(entries);
  }

  /** Drop entries at `fromIndex` and after (unsynced, like any write). */
  truncate(fromIndex: number): void {
    if (!Number.isSafeInteger(fromIndex) || fromIndex < 0) {
      throw new SimDiskError('SIM_DISK_BAD_ARGUMENT', `truncate index must be a non-negative integer, got ${fromIndex}`);
    }
    this.checkWritable(0, 0);
    if (fromIndex >= this.volatile.length) return;
    this.counters.writes++;
    this.volatile.length = fromIndex;
    this.dirtyFrom = Math.min(this.dirtyFrom, fromIndex);
  }

  get hasUnsynced(): boolean {
    return this.dirtyFrom < this.volatile.length || this.volatile.length !== this.durable.length || this.syncsPending > 0;
  }

  protected takeSnapshot(): LogSnapshot<T> {
    const from = Math.min(this.dirtyFrom, this.volatile.length);
    const snap = { from, tail: this.volatile.slice(from) };
    this.dirtyFrom = this.volatile.length;
    return snap;
  }

  protected applySnapshot(s: LogSnapshot<T>): void {
    // By induction the durable prefix [0, from) equals the snapshot's: every change below
    // `from` since the previous sync call would have lowered `from`.
    this.durable.length = Math.min(this.durable.length, s.from);
    for (const e of s.tail) this.durable.push(e);
  }

  protected restoreAfterCrash(tornTail: Prng | undefined): void {
    let survivors: T[] = this.durable;
    if (tornTail !== undefined) {
      const common = commonPrefix(this.durable, this.volatile);
      // Either nothing unsynced reached the disk, or the writes up to some entry did (in order).
      const choice = tornTail.int(this.volatile.length - common + 2) - 1;
      if (choice >= 0) survivors = this.volatile.slice(0, common + choice);
    }
    this.counters.lost += this.volatile.length - commonPrefix(survivors, this.volatile);
    this.durable = survivors.slice();
    this.volatile = survivors.slice();
    this.dirtyFrom = this.volatile.length;
  }
}

function commonPrefix<T>(a: readonly T[], b: readonly T[]): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i < max && a[i] === b[i]) i++;
  return i;
}

/** A single durable value (a Raft node's term and vote), durable only after sync. */
export class SimDurableCell<T> extends SimDurable<{ value: T }> {
  private volatileValue: T;
  private durableValue: T;
  private dirty = false;

  constructor(initial: T, options: SimDurableOptions = {}) {
    super(options);
    this.volatileValue = initial;
    this.durableValue = initial;
  }

  get(): T {
    return this.volatileValue;
  }

  /** What would survive a crash right now (without a torn tail). */
  getDurable(): T {
    return this.durableValue;
  }

  /** Set the value (unsynced). Throws SimDiskError ENOSPC/EIO. */
  set(value: T): void {
    this.checkWritable(0, 0);
    this.counters.writes++;
    this.volatileValue = value;
    this.dirty = true;
  }

  /** Same as set. */
  write(value: T): void {
    this.set(value);
  }

  get hasUnsynced(): boolean {
    return this.dirty || this.syncsPending > 0;
  }

  protected takeSnapshot(): { value: T } {
    this.dirty = false;
    return { value: this.volatileValue };
  }

  protected applySnapshot(s: { value: T }): void {
    this.durableValue = s.value;
  }

  protected restoreAfterCrash(tornTail: Prng | undefined): void {
    // A cell is written atomically (write temp + rename): either old or new survives.
    const keepNew = tornTail !== undefined && this.volatileValue !== this.durableValue && tornTail.chance(0.5);
    if (keepNew) this.durableValue = this.volatileValue;
    else if (this.volatileValue !== this.durableValue) this.counters.lost++;
    this.volatileValue = this.durableValue;
    this.dirty = false;
  }
}
