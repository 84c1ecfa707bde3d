import { type PartitionChange, type PartitionState } from '@streambus/metadata';
import { ErrorCode, type ReplicaFetchPartition, type ReplicaFetchPartitionResponse } from '@streambus/protocol';
import { type AssignedBatch, isStorageError, type PartitionLog } from '@streambus/storage';
import { type Acks, invariant, ReplicationError, type ReplicationConfig, type Scheduler, type TopicPartitionRef } from './types.js';

/** The controller's answer to an ISR change (Kafka's AlterPartition response). */
export type AlterPartitionResult =
  | { readonly accepted: true; readonly state: PartitionState }
  | { readonly accepted: false; readonly errorCode: string; readonly message?: string };

/** Proposes an ISR change to the metadata log; rejects only on transport failure. */
export type AlterPartitionFn = (change: PartitionChange) => Promise<AlterPartitionResult>;

export interface LeaderPartitionOptions {
  readonly tp: TopicPartitionRef;
  readonly topicId: string;
  readonly brokerId: number;
  /** Read at proposal time: a restarted broker gets a new epoch from its registration. */
  readonly brokerEpoch: () => number;
  /** The partition's log; the caller has already run assignLeaderEpoch(state.leaderEpoch). */
  readonly log: PartitionLog;
  /** The metadata view that made this broker leader (state.leader === brokerId). */
  readonly state: PartitionState;
  readonly minInsyncReplicas: number;
  /** The high watermark this broker knew as a follower; the leader's only moves forward from it. */
  readonly initialHighWatermark: number;
  readonly config: ReplicationConfig;
  readonly scheduler: Scheduler;
  readonly alterPartition: AlterPartitionFn;
  /** Called after an append lands in the leader's log (wakes long-polling fetches). */
  readonly onAppend?: () => void;
  /** Called after the high watermark moved forward (wakes consumers' long polls). */
  readonly onHighWatermark?: (highWatermark: number) => void;
  /** Called with every accepted ISR change (metrics). */
  readonly onIsrChange?: (kind: 'shrink' | 'expand', isr: readonly number[]) => void;
}

export interface ProduceResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
}

/** What the leader knows of one follower, learnt only from its fetches in this leader epoch. */
export interface FollowerState {
  /** -1 until the follower fetched in this epoch: an unknown follower holds the high watermark back. */
  logEndOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's log end offset when that fetch arrived (Kafka's lastFetchLeaderLogEndOffset). */
  lastFetchLeaderLogEndOffset: number;
}

interface AckWaiter {
  readonly requiredOffset: number;
  readonly resolve: () => void;
  readonly reject: (err: ReplicationError) => void;
  readonly timer: unknown;
}

interface Proposal {
  readonly isr: readonly number[];
  readonly kind: 'shrink' | 'expand';
}

const EMPTY = Buffer.alloc(0);

/**
 * One partition this broker leads, for one leader epoch. It assigns offsets, answers
 * ReplicaFetch, moves the high watermark (min log end offset over the ISR), acknowledges
 * acks=all writes once the high watermark passes them, and proposes ISR changes through
 * AlterPartition. A new leader epoch means a new LeaderPartition: `resign()` ends this one.
 */
/** An append whose offsets are assigned and whose write is in flight. */
interface UnsyncedAppend {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly batches: readonly AssignedBatch[];
}

export class LeaderPartition {
  readonly tp: TopicPartitionRef;
  readonly leaderEpoch: number;
  /** The log end offset when this epoch began: a follower must reach it to rejoin the ISR. */
  readonly leaderEpochStartOffset: number;
  private partitionEpochValue: number;
  private isrValue: readonly number[];
  private replicasValue: readonly number[];
  private hw: number;
  private readonly followers = new Map<number, FollowerState>();
  private waiters: AckWaiter[] = [];
  private inflight: Proposal | null = null;
  /**
   * Appends whose offsets are assigned but whose write is not yet durable here, in offset order
   * from the log end: followers fetch them while the leader's own fsync is in flight (ADR 0011).
   * The high watermark still never passes the durable log end.
   */
  private unsynced: UnsyncedAppend[] = [];
  private proposeNotBeforeMs = 0;
  private minIsr: number;
  private resigned = false;
  private shrinkTimer: unknown;
  private readonly options: LeaderPartitionOptions;

  constructor(options: LeaderPartitionOptions) {
    const { state, brokerId, log } = options;
    invariant(state.leader === brokerId, `broker ${brokerId} is not the leader in the state it was given (leader ${state.leader})`);
    invariant(state.isr.includes(brokerId), `leader ${brokerId} is not in its ISR`);
    invariant(Number.isSafeInteger(options.minInsyncReplicas) && options.minInsyncReplicas >= 1, 'minInsyncReplicas must be >= 1');
    const latest = log.latestEpoch;
    invariant(latest !== undefined && latest >= state.leaderEpoch, `assignLeaderEpoch(${state.leaderEpoch}) must precede leadership (log has ${latest})`);
    this.options = options;
    this.minIsr = options.minInsyncReplicas;
    this.tp = options.tp;
    this.leaderEpoch = state.leaderEpoch;
    this.leaderEpochStartOffset = log.logEndOffset;
    this.partitionEpochValue = state.partitionEpoch;
    this.isrValue = [...state.isr];
    this.replicasValue = [...state.replicas];
    this.hw = Math.min(Math.max(0, options.initialHighWatermark), log.logEndOffset);
    const now = options.scheduler.now();
    for (const id of state.replicas) if (id !== brokerId) this.followers.set(id, newFollower(state.isr.includes(id) ? now : 0));
    this.armShrinkCheck();
    this.maybeIncrementHighWatermark();
  }

  get highWatermark(): number {
    return this.hw;
  }

  get logEndOffset(): number {
    return this.options.log.logEndOffset;
  }

  get isr(): readonly number[] {
    return this.isrValue;
  }

  get replicas(): readonly number[] {
    return this.replicasValue;
  }

  get partitionEpoch(): number {
    return this.partitionEpochValue;
  }

  get minInsyncReplicas(): number {
    return this.minIsr;
  }

  /** A topic config change (min.insync.replicas) applies to the next write and the next HW move. */
  setMinInsyncReplicas(n: number): void {
    invariant(Number.isSafeInteger(n) && n >= 1, 'minInsyncReplicas must be >= 1');
    this.minIsr = n;
    this.maybeIncrementHighWatermark();
  }

  get isResigned(): boolean {
    return this.resigned;
  }

  get pendingIsrChange(): readonly number[] | null {
    return this.inflight?.isr ?? null;
  }

  follower(id: number): Readonly<FollowerState> | undefined {
    return this.followers.get(id);
  }

  /**
   * The ISR that bounds the high watermark: the committed ISR plus a proposed one while it
   * is in flight (Kafka's maximal ISR). A pending shrink still waits for the leaving member;
   * a pending expand already waits for the joining one.
   */
  get maximalIsr(): readonly number[] {
    const pending = this.inflight?.isr ?? [];
    return [...new Set([...this.isrValue, ...pending])];
  }

  // ---- produce -------------------------------------------------------------------------------

  /**
   * Appends a producer's batches (offsets assigned here, stamped with the leader epoch). Resolves
   * per `acks`: 0 and 1 once the leader's log has them, -1 (all) once the high watermark passes
   * the last one. Errors are ReplicationErrors carrying the wire code.
   */
  async append(batches: Uint8Array | readonly Uint8Array[], acks: Acks, timeoutMs: number): Promise<ProduceResult> {
    if (acks !== 0 && acks !== 1 && acks !== -1) throw new ReplicationError(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, got ${String(acks)}`);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw new ReplicationError(ErrorCode.INVALID_REQUEST, `timeoutMs must be a non-negative integer, got ${timeoutMs}`);
    this.checkLeader();
    if (acks === -1 && this.isrValue.length < this.minIsr) {
      throw new ReplicationError(ErrorCode.NOT_ENOUGH_REPLICAS, `${this.describe()}: ISR ${this.isrValue.join(',')} is smaller than min.insync.replicas ${this.minIsr}`);
    }
    let appended;
    let pending: UnsyncedAppend | undefined;
    const onAssigned = (written: readonly AssignedBatch[]): void => {
      const first = written[0];
      const last = written.at(-1);
      if (first === undefined || last === undefined || this.resigned) return;
      pending = { baseOffset: first.baseOffset, nextOffset: last.nextOffset, batches: written };
      this.unsynced.push(pending);
      this.options.onAppend?.(); // wakes parked follower fetches: they copy it while we write it
    };
    try {
      appended = await this.options.log.append(batches, { assignOffsets: true, leaderEpoch: this.leaderEpoch, onAssigned });
    } catch (err) {
      throw storageFailure(err, this.describe());
    } finally {
      if (pending !== undefined) this.unsynced = this.unsynced.filter((u) => u !== pending);
    }
    // Leadership may have moved while the append waited for its fsync: nothing is acknowledged then.
    this.checkLeader();
    this.maybeIncrementHighWatermark();
    const result = (): ProduceResult => ({
      baseOffset: appended.baseOffsets[0] ?? appended.lastOffset,
      lastOffset: appended.lastOffset,
      logEndOffset: appended.logEndOffset,
      highWatermark: this.hw,
    });
    const requiredOffset = appended.lastOffset + 1;
    if (acks !== -1 || this.hw >= requiredOffset) return result();
    await new Promise<void>((resolve, reject) => {
      const waiter: AckWaiter = {
        requiredOffset,
        resolve,
        reject,
        timer: this.options.scheduler.setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new ReplicationError(ErrorCode.REQUEST_TIMED_OUT, `${this.describe()}: offset ${appended.lastOffset} not replicated to the ISR within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
    return result();
  }

  // ---- replica fetch -------------------------------------------------------------------------

  /**
   * Answers one partition of a follower's ReplicaFetch (KIP-320 for divergence). A valid fetch
   * reports the follower's log end offset, which may move the high watermark and the ISR.
   * `maxBytes` is what is left of the request's byte budget.
   */
  async handleReplicaFetch(req: ReplicaFetchPartition, replicaId: number, nowMs: number, maxBytes: number): Promise<ReplicaFetchPartitionResponse> {
    const log = this.options.log;
    const answer = (errorCode: ErrorCode, errorMessage = '', records: Buffer = EMPTY): ReplicaFetchPartitionResponse => ({
      topic: this.tp.topic,
      partition: this.tp.partition,
      errorCode,
      errorMessage,
      highWatermark: this.hw,
      logStartOffset: log.logStartOffset,
      logEndOffset: this.fetchableEnd(),
      currentLeader: { leaderId: this.options.brokerId, leaderEpoch: this.leaderEpoch },
      records,
    });
    if (this.resigned) return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.describe()} resigned`);
    if (req.currentLeaderEpoch < this.leaderEpoch) return answer(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${req.currentLeaderEpoch} < ${this.leaderEpoch}`);
    if (req.currentLeaderEpoch > this.leaderEpoch) return answer(ErrorCode.UNKNOWN_LEADER_EPOCH, `leader epoch ${req.currentLeaderEpoch} > ${this.leaderEpoch}`);
    const follower = this.followers.get(replicaId);
    if (follower === undefined) return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${replicaId} is not a follower of ${this.describe()}`);
    if (!Number.isSafeInteger(req.fetchOffset) || req.fetchOffset < 0) return answer(ErrorCode.INVALID_REQUEST, `bad fetchOffset ${req.fetchOffset}`);
    // In this epoch the log ends where the appends in flight end: a follower may be past the durable end.
    if (req.lastFetchedEpoch !== undefined && req.lastFetchedEpoch !== this.leaderEpoch) {
      const end = log.endOffsetForEpoch(req.lastFetchedEpoch);
      if (end.epoch < req.lastFetchedEpoch || end.endOffset < req.fetchOffset) {
        return { ...answer(ErrorCode.NONE), divergingEpoch: { epoch: end.epoch, endOffset: end.endOffset } };
      }
    }
    const fetchableEnd = this.fetchableEnd();
    if (req.fetchOffset < log.logStartOffset || req.fetchOffset > fetchableEnd) {
      return answer(ErrorCode.OFFSET_OUT_OF_RANGE, `fetch offset ${req.fetchOffset} outside [${log.logStartOffset}, ${fetchableEnd}]`);
    }
    this.updateFollower(follower, req.fetchOffset, nowMs);
    this.maybeExpandIsr(replicaId, follower, nowMs);
    this.maybeIncrementHighWatermark();
    const budget = Math.min(maxBytes, req.partitionMaxBytes > 0 ? req.partitionMaxBytes : this.options.config.replicaFetchPartitionBytesMax, this.options.config.replicaFetchPartitionBytesMax);
    if (budget <= 0) return answer(ErrorCode.NONE);
    if (req.fetchOffset >= log.logEndOffset) {
      const inFlight = this.unsyncedFrom(req.fetchOffset, budget);
      return answer(ErrorCode.NONE, '', inFlight.length === 1 ? (inFlight[0] ?? EMPTY) : Buffer.concat(inFlight));
    }
    let records: Buffer;
    try {
      const read = await log.read(req.fetchOffset, budget);
      records = read.batches.length === 1 ? (read.batches[0] ?? EMPTY) : Buffer.concat(read.batches);
    } catch (err) {
      // A truncation or retention raced with the read: the follower retries with fresh bounds.
      if (isStorageError(err, 'OFFSET_OUT_OF_RANGE')) return answer(ErrorCode.OFFSET_OUT_OF_RANGE, (err as Error).message);
      return answer(ErrorCode.KAFKA_STORAGE_ERROR, (err as Error).message);
    }
    if (this.resigned) return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.describe()} resigned`);
    return answer(ErrorCode.NONE, '', records);
  }

  /** Appends whose offsets are assigned and whose write here is not yet durable. */
  get appendsInFlight(): number {
    return this.unsynced.length;
  }

  /** Whether a fetch for `fetchOffset` would find records now (long-poll completion). */
  hasDataFor(fetchOffset: number): boolean {
    return this.resigned || fetchOffset < this.fetchableEnd();
  }

  /** The end of what followers may fetch: the log end, or past it the appends in flight. */
  private fetchableEnd(): number {
    return Math.max(this.options.log.logEndOffset, this.unsynced.at(-1)?.nextOffset ?? 0);
  }

  /** Whole batches of appends in flight from `offset` (none unless one starts at or before it). */
  private unsyncedFrom(offset: number, maxBytes: number): Buffer[] {
    const out: Buffer[] = [];
    let taken = 0;
    for (const u of this.unsynced) {
      if (u.nextOffset <= offset) continue;
      if (out.length === 0 && u.baseOffset > offset) return out; // a gap: nothing contiguous to serve
      for (const b of u.batches) {
        if (b.nextOffset <= offset) continue;
        if (out.length > 0 && taken + b.bytes.length > maxBytes) return out;
        out.push(b.bytes);
        taken += b.bytes.length;
      }
    }
    return out;
  }

  // ---- metadata ------------------------------------------------------------------------------

  /**
   * A newer view of this partition within the same leader epoch (an accepted ISR change, or a
   * controller decision such as fencing a follower). Older partition epochs are ignored.
   */
  applyState(state: PartitionState): void {
    if (this.resigned) return;
    invariant(state.leaderEpoch === this.leaderEpoch && state.leader === this.options.brokerId, `${this.describe()}: applyState with leader ${state.leader} epoch ${state.leaderEpoch}; resign instead`);
    if (state.partitionEpoch <= this.partitionEpochValue) return;
    const before = this.isrValue;
    this.partitionEpochValue = state.partitionEpoch;
    this.isrValue = [...state.isr];
    this.replicasValue = [...state.replicas];
    const now = this.options.scheduler.now();
    for (const id of state.replicas) if (id !== this.options.brokerId && !this.followers.has(id)) this.followers.set(id, newFollower(0));
    for (const id of [...this.followers.keys()]) if (!state.replicas.includes(id)) this.followers.delete(id);
    // A member that just joined was caught up a moment ago; its lag clock starts now.
    for (const id of state.isr) if (!before.includes(id)) bump(this.followers.get(id), now);
    if (this.isrValue.length < this.minIsr) {
      this.failWaiters(
        new ReplicationError(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, `${this.describe()}: ISR shrank to ${this.isrValue.join(',')}, below min.insync.replicas ${this.minIsr}`),
      );
    }
    this.maybeIncrementHighWatermark();
  }

  /** Leadership is over (a newer epoch, fencing, shutdown): nothing more is acknowledged. */
  resign(reason = 'leadership moved'): void {
    if (this.resigned) return;
    this.resigned = true;
    this.unsynced = [];
    this.options.scheduler.clearTimeout(this.shrinkTimer);
    this.failWaiters(new ReplicationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.describe()}: ${reason}`));
  }

  /** Proposes to drop followers that have not caught up within replica.lag.time.max.ms. */
  maybeShrinkIsr(nowMs: number): void {
    if (this.resigned || this.inflight !== null || nowMs < this.proposeNotBeforeMs) return;
    const lagging = this.isrValue.filter((id) => {
      const f = this.followers.get(id);
      return id !== this.options.brokerId && (f === undefined || nowMs - f.lastCaughtUpTimeMs > this.options.config.replicaLagTimeMaxMs);
    });
    if (lagging.length === 0) return;
    this.propose(
      this.isrValue.filter((id) => !lagging.includes(id)),
      'shrink',
    );
  }

  // ---- internals -----------------------------------------------------------------------------

  private updateFollower(f: FollowerState, fetchOffset: number, nowMs: number): void {
    const leo = this.options.log.logEndOffset;
    invariant(fetchOffset <= this.fetchableEnd(), `follower offset ${fetchOffset} beyond leader log end ${this.fetchableEnd()}`);
    if (fetchOffset >= leo) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
    else if (fetchOffset >= f.lastFetchLeaderLogEndOffset) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    f.logEndOffset = fetchOffset;
    f.lastFetchLeaderLogEndOffset = leo;
    f.lastFetchTimeMs = nowMs;
  }

  private maybeExpandIsr(replicaId: number, f: FollowerState, nowMs: number): void {
    if (this.inflight !== null || nowMs < this.proposeNotBeforeMs || this.isrValue.includes(replicaId)) return;
    // Caught up to the high watermark *within this epoch*: its log matches ours up to there.
    if (f.logEndOffset < this.hw || f.logEndOffset < this.leaderEpochStartOffset) return;
    this.propose([...this.isrValue, replicaId], 'expand');
  }

  private propose(isr: readonly number[], kind: 'shrink' | 'expand'): void {
    invariant(this.inflight === null, 'one ISR change in flight per partition');
    invariant(isr.includes(this.options.brokerId), 'the leader never proposes an ISR without itself');
    const proposal: Proposal = { isr, kind };
    this.inflight = proposal;
    const change: PartitionChange = {
      type: 'PartitionChange',
      topicId: this.options.topicId,
      partition: this.tp.partition,
      partitionEpoch: this.partitionEpochValue,
      byLeader: { brokerId: this.options.brokerId, brokerEpoch: this.options.brokerEpoch(), leaderEpoch: this.leaderEpoch },
      isr: [...isr],
    };
    const settle = (result: AlterPartitionResult | null): void => {
      if (this.inflight !== proposal) return;
      this.inflight = null;
      this.options.scheduler.clearTimeout(timer);
      if (this.resigned) return;
      if (result !== null && result.accepted) {
        if (result.state.leader === this.options.brokerId && result.state.leaderEpoch === this.leaderEpoch) {
          const grew = result.state.partitionEpoch > this.partitionEpochValue;
          this.applyState(result.state);
          if (grew) this.options.onIsrChange?.(kind, result.state.isr);
        }
      } else {
        // Stale view or lost request: wait for metadata (or a moment) before trying again.
        this.proposeNotBeforeMs = this.options.scheduler.now() + this.options.config.alterPartitionBackoffMs;
      }
      this.maybeIncrementHighWatermark();
    };
    // A proposal lost on the way must not block every later ISR change of this partition.
    const timer = this.options.scheduler.setTimeout(() => settle(null), this.options.config.alterPartitionTimeoutMs);
    this.options.alterPartition(change).then(settle, () => settle(null));
  }

  private maybeIncrementHighWatermark(): void {
    if (this.resigned) return;
    // KAFKA-15583: with fewer in-sync replicas than required, nothing new becomes visible.
    if (this.isrValue.length < this.minIsr) return;
    const leo = this.options.log.logEndOffset;
    let min = leo;
    for (const id of this.maximalIsr) {
      if (id === this.options.brokerId) continue;
      min = Math.min(min, this.followers.get(id)?.logEndOffset ?? -1);
    }
    if (min <= this.hw) return;
    invariant(min <= leo, `high watermark ${min} beyond log end ${leo}`);
    this.hw = min;
    this.completeWaiters();
    this.options.onHighWatermark?.(min);
  }

  private completeWaiters(): void {
    if (this.waiters.length === 0) return;
    const done = this.waiters.filter((w) => w.requiredOffset <= this.hw);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.requiredOffset > this.hw);
    for (const w of done) {
      this.options.scheduler.clearTimeout(w.timer);
      w.resolve();
    }
  }

  private failWaiters(err: ReplicationError): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) {
      this.options.scheduler.clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private armShrinkCheck(): void {
    this.shrinkTimer = this.options.scheduler.setTimeout(() => {
      if (this.resigned) return;
      this.maybeShrinkIsr(this.options.scheduler.now());
      this.armShrinkCheck();
    }, this.options.config.isrCheckIntervalMs);
  }

  private checkLeader(): void {
    if (this.resigned) throw new ReplicationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.describe()} is no longer the leader`);
  }

  private describe(): string {
    return `${this.tp.topic}-${this.tp.partition} (leader ${this.options.brokerId}, epoch ${this.leaderEpoch})`;
  }
}

function newFollower(lastCaughtUpTimeMs: number): FollowerState {
  return { logEndOffset: -1, lastCaughtUpTimeMs, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: 0 };
}

function bump(f: FollowerState | undefined, nowMs: number): void {
  if (f !== undefined) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
}

/** Maps a storage failure to the produce error a client understands. */
export function storageFailure(err: unknown, where: string): ReplicationError {
  if (err instanceof ReplicationError) return err;
  if (isStorageError(err, 'INVALID_RECORD')) return new ReplicationError(ErrorCode.INVALID_RECORD, `${where}: ${(err as Error).message}`, { cause: err });
  if (isStorageError(err, 'INVALID_ARGUMENT')) return new ReplicationError(ErrorCode.INVALID_REQUEST, `${where}: ${(err as Error).message}`, { cause: err });
  return new ReplicationError(ErrorCode.KAFKA_STORAGE_ERROR, `${where}: ${(err as Error).message}`, { cause: err });
}
