import { NO_LEADER, type PartitionState } from '@streambus/metadata';
import { ErrorCode, type ReplicaFetchPartitionResponse, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@streambus/protocol';
import { isStorageError, type PartitionLog, type StorageEngine } from '@streambus/storage';
import { FollowerPartition, type FollowerOutcome, ReplicaFetcher, type SendReplicaFetch } from './follower.js';
import { type AlterPartitionFn, LeaderPartition, type ProduceResult, storageFailure } from './leader.js';
import {
  type Acks,
  partitionKeyOf,
  ReplicationError,
  resolveReplicationConfig,
  type ReplicationConfig,
  type Scheduler,
  type TopicPartitionRef,
} from './types.js';

/** One partition as the metadata log describes it, with the topic config replication needs. */
export interface PartitionAssignment {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly state: PartitionState;
  /** The topic's min.insync.replicas. */
  readonly minInsyncReplicas: number;
}

export interface ReplicaManagerOptions {
  readonly brokerId: number;
  /** The epoch of this broker's registration; read whenever a request needs it. */
  readonly brokerEpoch: () => number;
  readonly storage: StorageEngine;
  readonly scheduler: Scheduler;
  readonly config?: Partial<ReplicationConfig>;
  readonly send: SendReplicaFetch;
  readonly alterPartition: AlterPartitionFn;
  readonly clusterId?: string;
  /**
   * The registration epoch metadata knows for a broker. Fetches stamped with an older one come
   * from a replaced process (its reported position may be gone) and get STALE_BROKER_EPOCH.
   */
  readonly brokerEpochOf?: (brokerId: number) => number | undefined;
  /** Called when a led partition's high watermark moves forward (wakes consumers' long polls). */
  readonly onHighWatermark?: (tp: TopicPartitionRef, highWatermark: number) => void;
  /** Observes every follower outcome (metrics, simulation traces). */
  readonly onFollowerOutcome?: (tp: TopicPartitionRef, outcome: FollowerOutcome) => void;
}

export type ReplicaRole = 'leader' | 'follower' | 'offline' | 'none';

export interface ReplicationMetrics {
  readonly leaderPartitions: number;
  readonly followerPartitions: number;
  /** Led partitions whose ISR is smaller than their replica set. */
  readonly underReplicatedPartitions: number;
  /** Led partitions whose ISR is smaller than min.insync.replicas (acks=all refused). */
  readonly underMinIsrPartitions: number;
  /** Hosted partitions with no leader at all. */
  readonly offlinePartitions: number;
  readonly isrShrinksTotal: number;
  readonly isrExpandsTotal: number;
  readonly fetcherCount: number;
}

export interface PartitionReplicaStatus {
  readonly role: ReplicaRole;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
  readonly replicas: readonly number[];
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly transitionsPending: number;
}

interface Hosted {
  readonly tp: TopicPartitionRef;
  readonly key: string;
  topicId: string;
  minInsyncReplicas: number;
  state: PartitionState | null;
  role: ReplicaRole;
  log: PartitionLog | null;
  leader: LeaderPartition | null;
  follower: FollowerPartition | null;
  /** Transitions of one partition run one at a time, in metadata order. */
  chain: Promise<void>;
  /** Transitions queued or running (a stuck one shows here, in status()). */
  transitionsPending: number;
  highWatermark: number;
}

interface FetchWaiter {
  readonly keys: ReadonlySet<string>;
  readonly wake: () => void;
}

/**
 * The replication side of one broker: turns the metadata view of each partition into a
 * LeaderPartition or a FollowerPartition (in a fetcher shared per leader broker), serves
 * ReplicaFetch as a long poll, routes produce to leaders, and counts what operators alert on.
 */
export class ReplicaManager {
  readonly brokerId: number;
  readonly config: ReplicationConfig;
  private readonly hosted = new Map<string, Hosted>();
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private fetchWaiters = new Set<FetchWaiter>();
  private stopped = false;
  private shrinks = 0;
  private expands = 0;
  private readonly options: ReplicaManagerOptions;

  constructor(options: ReplicaManagerOptions) {
    this.options = options;
    this.brokerId = options.brokerId;
    this.config = resolveReplicationConfig(options.config);
  }

  // ---- metadata ------------------------------------------------------------------------------

  /**
   * Applies the metadata view of one partition. Stale views (older leader or partition epoch)
   * are ignored. Losing leadership takes effect before this returns; the rest of a transition
   * (storage work) completes when the promise resolves.
   */
  applyPartition(a: PartitionAssignment): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const tp = { topic: a.topic, partition: a.partition };
    const key = partitionKeyOf(tp);
    let h = this.hosted.get(key);
    if (h === undefined) {
      h = { tp, key, topicId: a.topicId, minInsyncReplicas: a.minInsyncReplicas, state: null, role: 'none', log: null, leader: null, follower: null, chain: Promise.resolve(), transitionsPending: 0, highWatermark: 0 };
      this.hosted.set(key, h);
    }
    const cur = h.state;
    const s = a.state;
    if (h.minInsyncReplicas !== a.minInsyncReplicas) {
      h.minInsyncReplicas = a.minInsyncReplicas;
      h.leader?.setMinInsyncReplicas(a.minInsyncReplicas);
    }
    if (cur !== null && (s.leaderEpoch < cur.leaderEpoch || (s.leaderEpoch === cur.leaderEpoch && s.partitionEpoch <= cur.partitionEpoch))) return h.chain;
    h.state = s;
    h.topicId = a.topicId;
    h.minInsyncReplicas = a.minInsyncReplicas;
    // Stop acknowledging at once: waiting behind a transition would let a deposed leader ack.
    const leader = h.leader;
    if (leader !== null && (s.leader !== this.brokerId || s.leaderEpoch !== leader.leaderEpoch)) {
      leader.resign(`leader is now ${s.leader} at epoch ${s.leaderEpoch}`);
      this.wakeFetches(key);
    }
    const hosted = h;
    hosted.transitionsPending++;
    h.chain = h.chain
      .then(() => this.transition(hosted, s))
      .catch(() => {
        // A failed transition (storage error) leaves the replica idle; the next metadata retries it.
        if (hosted.state === s) hosted.state = null;
      })
      .finally(() => {
        hosted.transitionsPending--;
      });
    return h.chain;
  }

  /**
   * The partition is no longer hosted here (its topic was deleted or the replica moved away):
   * stop leading or following it and forget it, so a re-created topic starts afresh.
   */
  async removePartition(tp: TopicPartitionRef): Promise<void> {
    const key = partitionKeyOf(tp);
    const h = this.hosted.get(key);
    if (h === undefined) return;
    h.state = null;
    h.transitionsPending++;
    h.chain = h.chain
      .then(() => this.becomeNone(h, 'none'))
      .finally(() => {
        h.transitionsPending--;
      });
    await h.chain;
    if (this.hosted.get(key) === h) this.hosted.delete(key);
  }

  /** The broker lost its session (fenced): nothing it leads is acknowledged until metadata says so again. */
  fence(): void {
    for (const h of this.hosted.values()) {
      if (h.leader === null) continue;
      h.leader.resign('broker fenced');
      this.wakeFetches(h.key);
      // Forget the view, so the next metadata (even the same epochs) re-establishes leadership.
      h.state = null;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const h of this.hosted.values()) h.leader?.resign('broker stopping');
    for (const w of [...this.fetchWaiters]) w.wake();
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    await Promise.all([...this.hosted.values()].map((h) => h.chain));
  }

  private async transition(h: Hosted, s: PartitionState): Promise<void> {
    if (this.stopped || h.state !== s) return; // superseded by a newer view queued behind us
    if (!s.replicas.includes(this.brokerId)) return this.becomeNone(h, 'none');
    if (s.leader === this.brokerId) {
      const leader = h.leader;
      if (leader !== null && !leader.isResigned && leader.leaderEpoch === s.leaderEpoch) {
        leader.applyState(s);
        return;
      }
      return this.becomeLeader(h, s);
    }
    if (s.leader === NO_LEADER) return this.becomeNone(h, 'offline');
    const f = h.follower;
    if (f !== null && !f.removed && f.leaderId === s.leader && f.leaderEpoch === s.leaderEpoch) return;
    return this.becomeFollower(h, s);
  }

  private async becomeLeader(h: Hosted, s: PartitionState): Promise<void> {
    await this.dropFollower(h);
    this.dropLeader(h);
    const log = await this.openLog(h);
    // The epoch is in the log's epoch cache before the first write of this epoch.
    await log.assignLeaderEpoch(s.leaderEpoch);
    if (this.stopped || h.state !== s) return;
    h.leader = new LeaderPartition({
      tp: h.tp,
      topicId: h.topicId,
      brokerId: this.brokerId,
      brokerEpoch: this.options.brokerEpoch,
      log,
      state: s,
      minInsyncReplicas: h.minInsyncReplicas,
      initialHighWatermark: h.highWatermark,
      config: this.config,
      scheduler: this.options.scheduler,
      alterPartition: this.options.alterPartition,
      onAppend: () => this.wakeFetches(h.key),
      onHighWatermark: (hw) => this.options.onHighWatermark?.(h.tp, hw),
      onIsrChange: (kind) => {
        if (kind === 'shrink') this.shrinks++;
        else this.expands++;
      },
    });
    h.role = 'leader';
  }

  private async becomeFollower(h: Hosted, s: PartitionState): Promise<void> {
    this.dropLeader(h);
    await this.dropFollower(h);
    const log = await this.openLog(h);
    if (this.stopped || h.state !== s) return;
    const fp = new FollowerPartition({ tp: h.tp, log, leaderId: s.leader, leaderEpoch: s.leaderEpoch, initialHighWatermark: h.highWatermark });
    h.follower = fp;
    h.role = 'follower';
    this.fetcherFor(s.leader).addPartition(fp);
  }

  private async becomeNone(h: Hosted, role: 'none' | 'offline'): Promise<void> {
    this.dropLeader(h);
    await this.dropFollower(h);
    h.role = role;
  }

  private dropLeader(h: Hosted): void {
    const leader = h.leader;
    if (leader === null) return;
    leader.resign();
    h.highWatermark = Math.max(h.highWatermark, leader.highWatermark);
    h.leader = null;
    this.wakeFetches(h.key);
  }

  private async dropFollower(h: Hosted): Promise<void> {
    const f = h.follower;
    if (f === null) return;
    h.follower = null;
    const fetcher = this.fetchers.get(f.leaderId);
    await fetcher?.removePartition(h.tp);
    h.highWatermark = f.highWatermark;
    if (fetcher !== undefined && fetcher.partitionCount === 0) {
      this.fetchers.delete(f.leaderId);
      await fetcher.stop();
    }
  }

  private fetcherFor(leaderId: number): ReplicaFetcher {
    let f = this.fetchers.get(leaderId);
    if (f === undefined) {
      f = new ReplicaFetcher({
        brokerId: this.brokerId,
        brokerEpoch: this.options.brokerEpoch,
        leaderId,
        ...(this.options.clusterId === undefined ? {} : { clusterId: this.options.clusterId }),
        config: this.config,
        scheduler: this.options.scheduler,
        send: this.options.send,
        onOutcome: (fp, outcome) => this.options.onFollowerOutcome?.(fp.tp, outcome),
      });
      this.fetchers.set(leaderId, f);
    }
    return f;
  }

  private async openLog(h: Hosted): Promise<PartitionLog> {
    if (h.log !== null) return h.log;
    const storage = this.options.storage;
    let log: PartitionLog;
    try {
      log = storage.partition(h.tp);
    } catch (err) {
      if (!isStorageError(err, 'PARTITION_NOT_FOUND')) throw err;
      log = await storage.createPartition(h.tp);
    }
    h.log = log;
    return log;
  }

  // ---- produce -------------------------------------------------------------------------------

  async produce(tp: TopicPartitionRef, batches: Uint8Array | readonly Uint8Array[], acks: Acks, timeoutMs: number): Promise<ProduceResult> {
    const h = this.hosted.get(partitionKeyOf(tp));
    if (h === undefined || h.state === null && h.leader === null) {
      throw new ReplicationError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${tp.topic}-${tp.partition} is not hosted on broker ${this.brokerId}`);
    }
    const leader = h.leader;
    if (leader === null || leader.isResigned) {
      throw new ReplicationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.brokerId} does not lead ${tp.topic}-${tp.partition} (leader ${h.state?.leader ?? 'unknown'})`);
    }
    try {
      return await leader.append(batches, acks, timeoutMs);
    } catch (err) {
      throw storageFailure(err, `${tp.topic}-${tp.partition}`);
    }
  }

  /**
   * Kafka DeleteRecords on a led partition: only committed offsets (<= high watermark) can be
   * deleted; followers follow through the log start offset in fetch answers.
   */
  async deleteRecordsBefore(tp: TopicPartitionRef, offset: number): Promise<number> {
    const leader = this.leaderOf(tp);
    const log = this.hosted.get(partitionKeyOf(tp))?.log ?? null;
    if (leader === undefined || log === null) throw new ReplicationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${this.brokerId} does not lead ${tp.topic}-${tp.partition}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > leader.highWatermark) {
      throw new ReplicationError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot delete before ${offset}: high watermark is ${leader.highWatermark}`);
    }
    try {
      return await log.deleteRecordsBefore(offset);
    } catch (err) {
      throw storageFailure(err, `${tp.topic}-${tp.partition}`);
    }
  }

  // ---- replica fetch -------------------------------------------------------------------------

  /**
   * Serves a follower's ReplicaFetch. Without anything to say for any partition, it waits up
   * to maxWaitMs for an append to one of them (the long poll), then answers once more.
   */
  async handleReplicaFetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResponse> {
    const known = this.options.brokerEpochOf?.(req.replicaId);
    if (known !== undefined && req.brokerEpoch < known) {
      return { partitions: req.partitions.map((p) => errorPart(p, ErrorCode.STALE_BROKER_EPOCH, `broker ${req.replicaId} epoch ${req.brokerEpoch} was replaced by ${known}`)) };
    }
    const first = await this.fetchOnce(req);
    const waitMs = Math.min(Math.max(0, req.maxWaitMs), this.config.replicaFetchWaitMaxMs);
    const worthAnswering = first.partitions.some((p) => p.errorCode !== ErrorCode.NONE || p.divergingEpoch !== undefined || p.records.length > 0);
    if (worthAnswering || waitMs === 0 || this.stopped) return first;
    const keys = new Set(req.partitions.map((p) => partitionKeyOf(p)));
    const fresh = req.partitions.some((p) => this.hosted.get(partitionKeyOf(p))?.leader?.hasDataFor(p.fetchOffset) ?? true);
    if (!fresh) {
      await new Promise<void>((resolve) => {
        const waiter: FetchWaiter = {
          keys,
          wake: () => {
            this.fetchWaiters.delete(waiter);
            this.options.scheduler.clearTimeout(timer);
            resolve();
          },
        };
        const timer = this.options.scheduler.setTimeout(() => waiter.wake(), waitMs);
        this.fetchWaiters.add(waiter);
      });
    }
    return this.fetchOnce(req);
  }

  private async fetchOnce(req: ReplicaFetchRequest): Promise<ReplicaFetchResponse> {
    const now = this.options.scheduler.now();
    let budget = Math.min(req.maxBytes > 0 ? req.maxBytes : this.config.replicaFetchResponseBytesMax, this.config.replicaFetchResponseBytesMax);
    const partitions: ReplicaFetchPartitionResponse[] = [];
    for (const p of req.partitions) {
      const h = this.hosted.get(partitionKeyOf(p));
      const leader = h?.leader ?? null;
      if (h === undefined || leader === null || this.stopped) {
        const code = h === undefined ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.NOT_LEADER_OR_FOLLOWER;
        partitions.push(errorPart(p, code, `broker ${this.brokerId} does not lead ${p.topic}-${p.partition}`));
        continue;
      }
      const r = await leader.handleReplicaFetch(p, req.replicaId, now, budget);
      budget = Math.max(0, budget - r.records.length);
      partitions.push(r);
    }
    return { partitions };
  }

  private wakeFetches(key: string): void {
    for (const w of [...this.fetchWaiters]) if (w.keys.has(key)) w.wake();
  }

  // ---- status and metrics --------------------------------------------------------------------

  status(tp: TopicPartitionRef): PartitionReplicaStatus | undefined {
    const h = this.hosted.get(partitionKeyOf(tp));
    if (h === undefined) return undefined;
    const leader = h.leader !== null && !h.leader.isResigned ? h.leader : null;
    return {
      role: leader !== null ? 'leader' : h.role === 'leader' ? 'none' : h.role,
      leaderEpoch: leader?.leaderEpoch ?? h.state?.leaderEpoch ?? -1,
      partitionEpoch: leader?.partitionEpoch ?? h.state?.partitionEpoch ?? -1,
      isr: leader?.isr ?? h.state?.isr ?? [],
      replicas: leader?.replicas ?? h.state?.replicas ?? [],
      highWatermark: leader?.highWatermark ?? h.follower?.highWatermark ?? h.highWatermark,
      logStartOffset: h.log?.logStartOffset ?? 0,
      logEndOffset: h.log?.logEndOffset ?? 0,
      transitionsPending: h.transitionsPending,
    };
  }

  leaderOf(tp: TopicPartitionRef): LeaderPartition | undefined {
    const l = this.hosted.get(partitionKeyOf(tp))?.leader ?? undefined;
    return l !== undefined && !l.isResigned ? l : undefined;
  }

  /** The local log of a hosted partition (read-only use: reads, checks). */
  logOf(tp: TopicPartitionRef): PartitionLog | undefined {
    return this.hosted.get(partitionKeyOf(tp))?.log ?? undefined;
  }

  followerOf(tp: TopicPartitionRef): FollowerPartition | undefined {
    return this.hosted.get(partitionKeyOf(tp))?.follower ?? undefined;
  }

  metrics(): ReplicationMetrics {
    let leaders = 0;
    let followers = 0;
    let under = 0;
    let underMin = 0;
    let offline = 0;
    for (const h of this.hosted.values()) {
      if (h.state?.leader === NO_LEADER) offline++;
      const l = h.leader;
      if (l !== null && !l.isResigned) {
        leaders++;
        if (l.isr.length < l.replicas.length) under++;
        if (l.isr.length < l.minInsyncReplicas) underMin++;
      } else if (h.follower !== null) {
        followers++;
      }
    }
    return {
      leaderPartitions: leaders,
      followerPartitions: followers,
      underReplicatedPartitions: under,
      underMinIsrPartitions: underMin,
      offlinePartitions: offline,
      isrShrinksTotal: this.shrinks,
      isrExpandsTotal: this.expands,
      fetcherCount: this.fetchers.size,
    };
  }
}

function errorPart(p: TopicPartitionRef, errorCode: ErrorCode, errorMessage: string): ReplicaFetchPartitionResponse {
  return { topic: p.topic, partition: p.partition, errorCode, errorMessage, highWatermark: -1, logStartOffset: -1, logEndOffset: -1, records: Buffer.alloc(0) };
}
