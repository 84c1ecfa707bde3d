import { type Logger } from 'pino';
import { effectiveTopicConfig, localChanges, type MetadataDelta, type MetadataState, type PartitionState, type TopicConfig } from '@streambus/metadata';
import { type PartitionConfig, type PartitionLog, type StorageEngine, StorageError } from '@streambus/storage';
import { ErrorCode, StreamBusError } from '@streambus/protocol';

/**
 * One partition replica hosted by this broker: its log, the metadata view of the partition
 * and its topic config, and the waiters (long-poll fetches) woken when the log or the high
 * watermark moves. Leadership itself is the replication layer's (ReplicaManager).
 */
export class LocalReplica {
  state: PartitionState;
  config: TopicConfig;
  private waiters = new Set<() => void>();

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly partition: number,
    readonly log: PartitionLog,
    state: PartitionState,
    config: TopicConfig,
  ) {
    this.state = state;
    this.config = config;
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

/** Told about every metadata view of a hosted replica, in metadata log order. */
export interface ReplicaListener {
  updated(replica: LocalReplica): Promise<void> | void;
  removed(replica: { readonly topic: string; readonly partition: number }): Promise<void> | void;
}

/**
 * Keeps the broker's partition logs in step with the metadata image: opens or creates a log
 * for every replica assigned here, hands every view of it to the listeners (replication
 * decides leader or follower), applies config changes, and deletes the logs of deleted topics
 * and removed replicas. Changes are applied one at a time, in metadata log order.
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
    void this.enqueue(() => ('reset' in event ? this.reconcile(state) : this.applyDelta(event.delta, state)), state.appliedIndex);
  }

  /** Re-sends every hosted replica's current view to the listeners (a listener that starts late). */
  resync(state: MetadataState): Promise<void> {
    return this.enqueue(() => this.reconcile(state), state.appliedIndex);
  }

  private enqueue(work: () => Promise<void>, index: number): Promise<void> {
    this.chain = this.chain
      .then(work)
      .catch((err: unknown) => this.logger.error({ err }, 'applying a metadata change to local partitions failed'))
      .then(() => this.markApplied(index));
    return this.chain;
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
    for (const l of [...changes.leaders, ...changes.followers]) await this.ensure(state, l.topicId, l.topicName, l.state);
    for (const changed of delta.configsChanged) {
      const topic = state.topics.get(changed) ?? [...state.topics.values()].find((t) => t.name === changed);
      if (topic === undefined) continue;
      const config = effectiveTopicConfig(topic.configs);
      for (const r of this.replicas.values()) {
        if (r.topicId !== topic.topicId) continue;
        r.config = config;
        await r.log.setConfig({ ...r.log.config, ...partitionConfigOf(config) });
        for (const l of this.listeners) await l.updated(r);
      }
    }
  }

  /**
   * Full resync (after a metadata snapshot was installed, or for a late listener). It never
   * deletes a log the image does not mention: during start-up the image may be a snapshot
   * older than the log's topic, whose creation is still to be replayed. Logs of topics deleted
   * while this broker was away are removed by `removeOrphans` once the image has caught up.
   */
  private async reconcile(state: MetadataState): Promise<void> {
    const wanted = wantedKeys(state, this.brokerId);
    for (const topic of state.topics.values()) {
      for (const p of topic.partitions) if (p.replicas.includes(this.brokerId)) await this.ensure(state, topic.topicId, topic.name, p);
    }
    for (const r of [...this.replicas.values()]) if (!wanted.has(key(r.topic, r.partition))) await this.remove(r.topic, r.partition);
  }

  /**
   * Deletes logs no topic in the image claims (their topic was deleted while this broker was
   * down, and the deletion reached it inside a snapshot). Call only once the image has caught
   * up with the metadata log, i.e. after the broker's own registration was applied.
   */
  removeOrphans(state: MetadataState): Promise<void> {
    return this.enqueue(async () => {
      const wanted = wantedKeys(state, this.brokerId);
      for (const tp of this.storage.listPartitions()) {
        if (wanted.has(key(tp.topic, tp.partition))) continue;
        this.logger.warn({ topic: tp.topic, partition: tp.partition }, 'removing the log of a partition no topic claims');
        await this.remove(tp.topic, tp.partition);
      }
    }, state.appliedIndex);
  }

  private async ensure(state: MetadataState, topicId: string, topicName: string, p: PartitionState): Promise<void> {
    const topic = state.topics.get(topicId);
    if (topic === undefined) return;
    const config = effectiveTopicConfig(topic.configs);
    const k = key(topicName, p.partition);
    let replica = this.replicas.get(k);
    if (replica !== undefined && replica.topicId !== topicId) {
      // Same name, new topic id: the old topic was deleted and re-created.
      await this.remove(topicName, p.partition);
      replica = undefined;
    }
    if (replica === undefined) {
      const tp = { topic: topicName, partition: p.partition };
      const exists = this.storage.listPartitions().some((x) => x.topic === topicName && x.partition === p.partition);
      const log = exists ? this.storage.partition(tp) : await this.storage.createPartition(tp, partitionConfigOf(config));
      replica = new LocalReplica(topicName, topicId, p.partition, log, p, config);
      this.replicas.set(k, replica);
    }
    replica.state = p;
    replica.config = config;
    for (const l of this.listeners) await l.updated(replica);
    replica.notify();
  }

  private async remove(topic: string, partition: number): Promise<void> {
    const k = key(topic, partition);
    const replica = this.replicas.get(k);
    this.replicas.delete(k);
    for (const l of this.listeners) await l.removed({ topic, partition });
    replica?.notify();
    try {
      await this.storage.deletePartition({ topic, partition });
      this.logger.info({ topic, partition }, 'partition log deleted');
    } catch (err) {
      if (!(err instanceof StorageError && err.code === 'PARTITION_NOT_FOUND')) throw err;
    }
  }
}

function wantedKeys(state: MetadataState, brokerId: number): Set<string> {
  const wanted = new Set<string>();
  for (const topic of state.topics.values()) for (const p of topic.partitions) if (p.replicas.includes(brokerId)) wanted.add(key(topic.name, p.partition));
  return wanted;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
