import { type RaftConfig, makeRaftConfig } from './config.js';
import { RaftError, assert, notLeader } from './errors.js';
import { LevelStorage } from './level-storage.js';
import { Raft, type RaftStatus } from './raft.js';
import { type Transport } from './transport.js';
import { type ConfChange, type Entry, type Message, type Ready, EntryType, StateRole, decodeConfChange } from './types.js';

/** The user's replicated state machine. apply() runs in log order, once per committed entry. */
export interface StateMachine {
  apply(data: Uint8Array, index: number): void;
  /** Serializes the state as of the last applied entry (used for compaction and catch-up). */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void;
}

export interface RaftNodeOptions {
  readonly id: number;
  /** Directory of the level database holding the Raft log and hard state. */
  readonly dir: string;
  /**
   * Initial membership, used only when the database is new and only if this node is one of
   * the `voters`: every initial voter must pass the same voters and learners, because they are
   * written as the first log entries. Any other node (a learner or voter added later) starts
   * with an empty log and joins when the leader adds it with changeMembership().
   */
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  /** Core settings; defaults from DEFAULT_RAFT_CONFIG. */
  readonly raft?: Partial<Omit<RaftConfig, 'id'>>;
  /** Wall-clock length of one tick. */
  readonly tickMs?: number;
  /** Compact the log after this many entries applied since the last snapshot. */
  readonly snapshotEntriesMax?: number;
  /** Most proposals coalesced into one append. */
  readonly proposalBatchMax?: number;
  /** Proposals queued but not yet handed to the core; beyond this propose() refuses. */
  readonly proposalQueueMax?: number;
  /** A proposal or read not answered within this fails with UNAVAILABLE (outcome unknown). */
  readonly requestTimeoutMs?: number;
  /** fsync every write (turning it off is for tests only: it voids durability). */
  readonly sync?: boolean;
  /** Called after a conf change entry is applied. */
  readonly onConfChange?: (cc: ConfChange, index: number) => void;
  /** Called when the known leader changes. */
  readonly onLeaderChange?: (leaderId: number, term: number) => void;
  /** Called when the node fails (storage error, broken invariant); it is stopped already. */
  readonly onFatal?: (err: RaftError) => void;
}

interface PendingProposal {
  readonly term: number;
  readonly deadline: number;
  readonly resolve: (v: { index: number; term: number }) => void;
  readonly reject: (e: unknown) => void;
}

interface QueuedProposal {
  readonly data: Uint8Array;
  readonly resolve: (v: { index: number; term: number }) => void;
  readonly reject: (e: unknown) => void;
}

interface PendingRead {
  index: number | undefined;
  readonly deadline: number;
  readonly resolve: (index: number) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Runs a Raft core for real: level storage (fsynced before messages leave, except a leader's
 * appends, which go out while it writes), a transport,
 * a ticker, proposal batching, snapshots and compaction. One Ready is in flight at a time;
 * proposals arriving meanwhile are coalesced into the next append, so a burst of proposals
 * costs about one fsync per node.
 */
export class RaftNode {
  private readonly raft: Raft;
  private readonly storage: LevelStorage;
  private readonly opts: RaftNodeOptions;
  private readonly snapshotEntriesMax: number;
  private readonly proposalBatchMax: number;
  private readonly proposalQueueMax: number;
  private readonly requestTimeoutMs: number;
  private ticker: NodeJS.Timeout | undefined;
  private queue: QueuedProposal[] = [];
  private readonly pending = new Map<number, PendingProposal>();
  private readonly reads = new Map<number, PendingRead>();
  private readSeq = 0;
  private running = false;
  private scheduled = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** A Ready's write is in flight and its committed entries are all applied (see applyTaken). */
  private applyingAhead = false;
  private applied = 0;
  private snapshotIndex = 0;
  private leaderId = 0;
  private fatal: RaftError | undefined;
  private readys = 0;
  private proposals = 0;
  private proposalBatches = 0;
  private leaderWaiters: { want: number; resolve: () => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }[] = [];

  private constructor(opts: RaftNodeOptions, storage: LevelStorage, raft: Raft) {
    this.opts = opts;
    this.storage = storage;
    this.raft = raft;
    this.snapshotEntriesMax = opts.snapshotEntriesMax ?? 10_000;
    this.proposalBatchMax = opts.proposalBatchMax ?? 4096;
    this.proposalQueueMax = opts.proposalQueueMax ?? 65_536;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    const snap = storage.cache.snapshot();
    this.snapshotIndex = snap.metadata.index;
    this.applied = snap.metadata.index;
  }

  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const initial = opts.voters.includes(opts.id) ? { voters: [...opts.voters], learners: [...(opts.learners ?? [])] } : { voters: [], learners: [] };
    const storage = await LevelStorage.open(opts.dir, initial, { sync: opts.sync ?? true });
    let raft: Raft;
    try {
      raft = new Raft(makeRaftConfig({ ...opts.raft, id: opts.id }), storage.cache);
      const snap = storage.cache.snapshot();
      if (snap.metadata.index > 0) opts.stateMachine.restore(snap.data);
    } catch (e) {
      await storage.close();
      throw e;
    }
    const node = new RaftNode(opts, storage, raft);
    opts.transport.onMessage((m) => node.receive(m));
    node.ticker = setInterval(() => node.onTick(), opts.tickMs ?? 100);
    node.kick();
    return node;
  }

  /** Resolves once `data` is committed and applied here; NOT_LEADER (with leaderId) elsewhere. */
  propose(data: Uint8Array): Promise<{ index: number; term: number }> {
    const err = this.checkProposable();
    if (err !== undefined) return Promise.reject(err);
    if (this.queue.length >= this.proposalQueueMax) {
      return Promise.reject(new RaftError('PROPOSAL_DROPPED', `proposal queue full (proposalQueueMax ${this.proposalQueueMax})`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.kick();
    });
  }

  /** Resolves with an index such that reads of the local state are linearizable once it returns. */
  readIndex(): Promise<number> {
    const err = this.checkProposable();
    if (err !== undefined) return Promise.reject(err);
    const id = ++this.readSeq;
    return new Promise((resolve, reject) => {
      this.reads.set(id, { index: undefined, deadline: Date.now() + this.requestTimeoutMs, resolve, reject });
      try {
        this.raft.readIndex(id);
      } catch (e) {
        this.reads.delete(id);
        reject(asRaftError(e));
        return;
      }
      this.kick();
    });
  }

  /** Proposes one membership change; resolves when it is applied here. */
  changeMembership(cc: ConfChange): Promise<{ index: number; term: number }> {
    const err = this.checkProposable();
    if (err !== undefined) return Promise.reject(err);
    return new Promise((resolve, reject) => {
      try {
        const r = this.raft.proposeConfChange(cc);
        this.pending.set(r.index, { term: r.term, deadline: Date.now() + this.requestTimeoutMs, resolve, reject });
      } catch (e) {
        reject(asRaftError(e));
        return;
      }
      this.kick();
    });
  }

  /** Asks the leader to hand over to `to`; resolves when this node sees `to` lead. */
  transferLeadership(to: number, timeoutMs?: number): Promise<void> {
    const err = this.checkProposable();
    if (err !== undefined) return Promise.reject(err);
    const cfg = makeRaftConfig({ ...this.opts.raft, id: this.opts.id });
    const limit = timeoutMs ?? cfg.electionTimeoutTicks * 2 * (this.opts.tickMs ?? 100);
    return new Promise((resolve, reject) => {
      try {
        this.raft.transferLeadership(to);
      } catch (e) {
        reject(asRaftError(e));
        return;
      }
      const timer = setTimeout(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w.timer !== timer);
        reject(new RaftError('UNAVAILABLE', `leadership did not move to ${to} within ${limit} ms`));
      }, limit);
      this.leaderWaiters.push({ want: to, resolve, reject, timer });
      this.kick();
    });
  }

  /** Starts an election now (tests and operator tooling). */
  campaign(): void {
    this.raft.campaign();
    this.kick();
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  /** Counters for metrics and benchmarks. */
  stats(): { readys: number; syncedWrites: number; unsyncedWrites: number; proposals: number; proposalBatches: number } {
    return { readys: this.readys, syncedWrites: this.storage.syncedWrites, unsyncedWrites: this.storage.unsyncedWrites, proposals: this.proposals, proposalBatches: this.proposalBatches };
  }

  get id(): number {
    return this.opts.id;
  }

  isLeader(): boolean {
    return this.raft.role === StateRole.Leader;
  }

  /** Stops ticking and processing, closes the database and fails pending work with STOPPED. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    await this.loopDone;
    this.failAll(this.fatal ?? new RaftError('STOPPED', 'raft node stopped'));
    await this.storage.close(this.fatal === undefined);
  }

  // ---------------------------------------------------------------- internals

  private checkProposable(): RaftError | undefined {
    if (this.stopped) return this.fatal ?? new RaftError('STOPPED', 'raft node stopped');
    if (this.raft.role !== StateRole.Leader) return notLeader(this.raft.leaderId);
    return undefined;
  }

  private receive(m: Message): void {
    if (this.stopped) return;
    this.guard(() => {
      this.raft.step(m);
      if (this.applyingAhead) this.applyTaken();
    });
    this.kick();
  }

  /** Applies what a leader's followers committed while its own write is in flight (takeCommitted). */
  private applyTaken(): void {
    const ents = this.raft.takeCommitted();
    if (ents.length === 0) return;
    for (const e of ents) this.applyEntry(e);
    this.serveReads();
  }

  private onTick(): void {
    if (this.stopped) return;
    this.guard(() => this.raft.tick());
    this.expireRequests(Date.now());
    this.kick();
  }

  /** Bounded waits: a request whose entry never reaches this node must not hang forever. */
  private expireRequests(now: number): void {
    // Maps iterate in insertion order, which is deadline order: stop at the first live one.
    for (const [index, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(index);
      p.reject(new RaftError('UNAVAILABLE', `proposal at ${index} not applied within ${this.requestTimeoutMs} ms; outcome unknown`));
    }
    for (const [id, r] of this.reads) {
      if (r.deadline > now) break;
      this.reads.delete(id);
      r.reject(new RaftError('UNAVAILABLE', `read not confirmed within ${this.requestTimeoutMs} ms`));
    }
  }

  private kick(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    // setImmediate, not a microtask: proposals and messages arriving in this turn join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.loopDone = this.loop();
    });
  }

  private async loop(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (;;) {
        this.flushProposals();
        if (this.stopped || !this.raft.hasReady()) break;
        const rd = this.raft.ready();
        this.readys++;
        // A leader replicates while it writes its own disk; everyone else persists first.
        if (rd.messagesBeforePersist) this.opts.transport.send(rd.messages);
        // Committed entries already on disk apply before this Ready's write (the Ready contract
        // allows it): their proposals resolve one write sooner. With all of them applied, what
        // the followers commit meanwhile applies as it does (takeCommitted).
        for (let i = 0; i < rd.durableCommitted; i++) this.applyEntry(rd.committedEntries[i]!);
        this.applyingAhead = rd.durableCommitted === rd.committedEntries.length;
        await this.storage.persist(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
        this.applyingAhead = false;
        if (this.stopped) return;
        if (!rd.messagesBeforePersist) this.opts.transport.send(rd.messages);
        this.apply(rd);
        this.raft.advance(rd);
        await this.maybeCompact();
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.running = false;
    }
    if (!this.stopped && (this.queue.length > 0 || this.raft.hasReady())) this.kick();
  }

  private flushProposals(): void {
    const now = Date.now();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.proposalBatchMax);
      this.proposals += batch.length;
      this.proposalBatches++;
      try {
        const results = this.raft.proposeBatch(batch.map((p) => p.data));
        for (let i = 0; i < batch.length; i++) {
          const r = results[i]!;
          const p = batch[i]!;
          this.pending.set(r.index, { term: r.term, deadline: now + this.requestTimeoutMs, resolve: p.resolve, reject: p.reject });
        }
      } catch (e) {
        const err = asRaftError(e);
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** The rest of `rd` once persisted: soft state, snapshot, committed entries past the durable ones, reads. */
  private apply(rd: Ready): void {
    if (rd.softState !== undefined) this.onSoftState(rd.softState.leaderId, rd.softState.role);
    if (rd.snapshot !== undefined) {
      this.opts.stateMachine.restore(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = rd.snapshot.metadata.index;
      // Proposals covered by a snapshot may or may not have been committed as proposed.
      for (const [index, p] of this.pending) {
        if (index <= this.applied) {
          this.pending.delete(index);
          p.reject(new RaftError('UNAVAILABLE', `outcome of proposal at ${index} unknown: replaced by a snapshot`));
        }
      }
    }
    for (let i = rd.durableCommitted; i < rd.committedEntries.length; i++) this.applyEntry(rd.committedEntries[i]!);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.requestId);
      if (r !== undefined) r.index = rs.index;
    }
    this.serveReads();
  }

  private serveReads(): void {
    for (const [id, r] of this.reads) {
      if (r.index !== undefined && r.index <= this.applied) {
        this.reads.delete(id);
        r.resolve(r.index);
      }
    }
  }

  private applyEntry(e: Entry): void {
    assert(e.index === this.applied + 1, `entries apply in order (${this.applied} then ${e.index})`);
    this.applied = e.index;
    if (e.type === EntryType.Normal) {
      if (e.data.byteLength > 0) this.opts.stateMachine.apply(e.data, e.index);
    } else {
      const cc = decodeConfChange(e.data);
      if (cc !== undefined) this.opts.onConfChange?.(cc, e.index);
    }
    const p = this.pending.get(e.index);
    if (p === undefined) return;
    this.pending.delete(e.index);
    if (p.term === e.term) p.resolve({ index: e.index, term: e.term });
    else p.reject(new RaftError('PROPOSAL_DROPPED', `proposal at ${e.index} was overwritten by term ${e.term}`));
  }

  private onSoftState(leaderId: number, role: StateRole): void {
    if (role !== StateRole.Leader) {
      for (const [id, r] of this.reads) {
        this.reads.delete(id);
        r.reject(notLeader(leaderId));
      }
    }
    if (leaderId === this.leaderId) return;
    this.leaderId = leaderId;
    this.opts.onLeaderChange?.(leaderId, this.raft.term);
    for (const w of this.leaderWaiters.filter((x) => x.want === leaderId)) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.leaderWaiters = this.leaderWaiters.filter((x) => x.want !== leaderId);
  }

  private async maybeCompact(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.snapshotEntriesMax) return;
    const index = this.applied;
    await this.storage.compact(index, this.raft.appliedConfState(), this.opts.stateMachine.snapshot());
    this.snapshotIndex = index;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    // Fail-stop: after a storage error or a broken invariant nothing here can be trusted.
    const err = e instanceof RaftError ? e : new RaftError('STORAGE', 'raft node failed', { cause: e });
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.failAll(err);
    this.opts.onFatal?.(err);
    void this.stop().catch(() => undefined);
  }

  private failAll(err: RaftError): void {
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
    for (const w of this.leaderWaiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.leaderWaiters = [];
  }
}

function asRaftError(e: unknown): RaftError {
  return e instanceof RaftError ? e : new RaftError('INVARIANT', 'unexpected failure in the raft core', { cause: e });
}
