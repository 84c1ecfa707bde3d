import { type Logger } from 'pino';
import { effectiveTopicConfig, localChanges, type MetadataDelta, type MetadataState, type PartitionState, type TopicConfig } from '@streambus/metadata';
import { type PartitionConfig, type PartitionLog, type StorageEngine, StorageError } from '@streambus/storage';
import { ErrorCode, StreamBusError } from '@streambus/protocol';

export type ReplicaRole = 'leader' | 'follower';

/**
 * One partition replica hosted by this broker: its log, its role and epochs as the metadata
 * says, its high watermark, and the waiters (long-poll fetches, acks=all produces) woken
 * when the log or the high watermark moves.
 */
export class LocalReplica {
  role: ReplicaRole;
  state: PartitionState;
  config: TopicConfig;
  /** Consumers see offsets below it only. */
  highWatermark: number;
  private waiters = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly partition: number,
    readonly log: PartitionLog,
    role: ReplicaRole,
    state: PartitionState,
    config: TopicConfig,
  ) {
    this.role = role;
    this.state = state;
    this.config = config;
    // Single-replica partitions have everything committed that is on disk; with replication the
    // leader starts from its own log end too and followers' fetches only move it forward.
    this.highWatermark = log.logEndOffset;
  }

  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }

  /** Resolves on the next change to the log or high watermark, or after `timeoutMs`. */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  notify(): void {
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Moves the high watermark forward (never back) and wakes waiters. */
  advanceHighWatermark(offset: number): void {
    if (offset > this.highWatermark) {
      this.highWatermark = offset;
      this.notify();
    }
  }
}

export function partitionConfigOf(config: TopicConfig): Partial<PartitionConfig> {
  return {
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
    cleanupPolicy: config.cleanupPolicy === 'delete' ? 'delete' : 'compact',
    deleteRetentionMs: config.deleteRetentionMs,
    segmentBytes: config.segmentBytes,
  };
}

export interface ReplicaListener {
  becameLeader?(replica: LocalReplica): Promise<void> | void;
  becameFollower?(replica: LocalReplica): Promise<void> | void;
  removed?(replica: LocalReplica): Promise<void> | void;
}

/**
 * Keeps the broker's partition logs in step with the metadata image: opens or creates a log
 * for every replica assigned here, makes it leader (recording the leader epoch in the log's
 * epoch cache before any write in that epoch) or follower, applies config changes, and
 * deletes the logs of deleted topics and removed replicas. Changes are applied one at a
 * time, in metadata log order.
 */
export class PartitionManager {
  private readonly replicas = new Map<string, LocalReplica>();
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners: ReplicaListener[] = [];
  private appliedIndex = 0;
  private readonly appliedWaiters: { index: number; resolve(): void }[] = [];

  constructor(
    private readonly brokerId: number,
    private readonly storageRef: { readonly engine: StorageEngine },
    private readonly logger: Logger,
  ) {}

  private get storage(): StorageEngine {
    return this.storageRef.engine;
  }

  addListener(listener: ReplicaListener): void {
    this.listeners.push(listener);
  }

  get(topic: string, partition: number): LocalReplica | undefined {
    return this.replicas.get(key(topic, partition));
  }

  all(): IterableIterator<LocalReplica> {
    return this.replicas.values();
  }

  /** Resolves when every metadata change up to `index` has been applied to the local logs. */
  async waitForApplied(index: number, timeoutMs: number): Promise<void> {
    if (this.appliedIndex >= index) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StreamBusError(ErrorCode.REQUEST_TIMED_OUT, `metadata change ${index} not applied locally within ${timeoutMs} ms`)), timeoutMs);
      this.appliedWaiters.push({ index, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Feed of metadata changes (from MetadataNode.onChange). */
  onMetadata(event: { delta: MetadataDelta; state: MetadataState } | { reset: true; state: MetadataState }): void {
    const state = event.state;
    this.chain = this.chain
      .then(() => ('reset' in event ? this.reconcile(state) : this.applyDelta(event.delta, state)))
      .catch((err: unknown) => this.logger.error({ err }, 'applying a metadata change to local partitions failed'))
      .then(() => this.markApplied(state.appliedIndex));
  }

  /** Waits for queued metadata changes to be applied. */
  async settle(): Promise<void> {
    await this.chain;
  }

  private markApplied(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i];
      if (w !== undefined && w.index <= this.appliedIndex) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private async applyDelta(delta: MetadataDelta, state: MetadataState): Promise<void> {
    const changes = localChanges(delta, state, this.brokerId);
    for (const d of changes.deletes) await this.remove(d.topicName, d.partition);
    for (const l of changes.leaders) await this.ensure(state, l.topicId, l.topicName, l.state);
    for (const f of changes.followers) await this.ensure(state, f.topicId, f.topicName, f.state);
    for (const name of delta.configsChanged) {
      const topic = [...state.topics.values()].find((t) => t.topicId === name || t.name === name);
      if (topic === undefined) continue;
      const config = effectiveTopicConfig(topic.configs);
      for (const r of this.replicas.values()) {
        if (r.topicId !== topic.topicId) continue;
        r.config = config;
        await r.log.setConfig({ ...r.log.config, ...partitionConfigOf(config) });
      }
    }
  }

  /** Full resync after a metadata snapshot was installed. */
  async reconcile(state: MetadataState): Promise<void> {
    const wanted = new Set<string>();
    for (const topic of state.topics.values()) {
      for (const p of topic.partitions) {
        if (!p.replicas.includes(this.brokerId)) continue;
        wanted.add(key(topic.name, p.partition));
        await this.ensure(state, topic.topicId, topic.name, p);
      }
    }
    for (const r of [...this.replicas.values()]) if (!wanted.has(key(r.topic, r.partition))) await this.remove(r.topic, r.partition);
    for (const tp of this.storage.listPartitions()) if (!wanted.has(key(tp.topic, tp.partition))) await this.remove(tp.topic, tp.partition);
  }

  private async ensure(state: MetadataState, topicId: string, topicName: string, p: PartitionState): Promise<void> {
    const topic = state.topics.get(topicId);
    if (topic === undefined) return;
    const config = effectiveTopicConfig(topic.configs);
    const k = key(topicName, p.partition);
    let replica = this.replicas.get(k);
    const role: ReplicaRole = p.leader === this.brokerId ? 'leader' : 'follower';
    if (replica !== undefined && replica.topicId !== topicId) {
      // Same name, new topic id: the old topic was deleted and re-created.
      await this.remove(topicName, p.partition);
      replica = undefined;
    }
    const fresh = replica === undefined;
    if (replica === undefined) {
      const tp = { topic: topicName, partition: p.partition };
      const exists = this.storage.listPartitions().some((x) => x.topic === topicName && x.partition === p.partition);
      const log = exists ? this.storage.partition(tp) : await this.storage.createPartition(tp, partitionConfigOf(config));
      replica = new LocalReplica(topicName, topicId, p.partition, log, role, p, config);
      this.replicas.set(k, replica);
    }
    const epochChanged = replica.state.leaderEpoch !== p.leaderEpoch || replica.role !== role;
    replica.state = p;
    replica.config = config;
    if (!fresh && !epochChanged) return;
    replica.role = role;
    if (role === 'leader') {
      await replica.log.assignLeaderEpoch(p.leaderEpoch);
      this.logger.info({ topic: topicName, partition: p.partition, leaderEpoch: p.leaderEpoch }, 'became leader');
      for (const l of this.listeners) await l.becameLeader?.(replica);
    } else {
      this.logger.info({ topic: topicName, partition: p.partition, leaderEpoch: p.leaderEpoch, leader: p.leader }, 'became follower');
      for (const l of this.listeners) await l.becameFollower?.(replica);
    }
    replica.notify();
  }

  private async remove(topic: string, partition: number): Promise<void> {
    const k = key(topic, partition);
    const replica = this.replicas.get(k);
    this.replicas.delete(k);
    if (replica !== undefined) {
      for (const l of this.listeners) await l.removed?.(replica);
      replica.notify();
    }
    try {
      await this.storage.deletePartition({ topic, partition });
      this.logger.info({ topic, partition }, 'partition log deleted');
    } catch (err) {
      if (!(err instanceof StorageError && err.code === 'PARTITION_NOT_FOUND')) throw err;
    }
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
