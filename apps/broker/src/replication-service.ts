import { type Logger } from 'pino';
import { effectiveTopicConfig, type PartitionChange } from '@streambus/metadata';
import { createReplicaFetcherClient, StreamBusError, type ReplicaFetcherClient, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@streambus/protocol';
import { type BrokerComponent, type BrokerContext } from './broker.js';
import { type MetadataNode } from './cluster/metadata-node.js';
import { type LocalReplica, type PartitionManager, type ReplicaListener } from './data/partition-manager.js';
import { type AlterPartitionResult, ReplicaManager, systemScheduler } from './replication/index.js';
import { type StorageComponent } from './services-storage.js';

/** A ReplicaFetch waits at most this much longer than the leader's long-poll before it is abandoned. */
const FETCH_DEADLINE_SLACK_MS = 5_000;

/**
 * Partition replication as a broker component: owns the ReplicaManager, feeds it every
 * metadata view of the partitions hosted here, carries follower fetches to leaders over gRPC
 * (one client per leader broker) and ISR changes to the metadata log.
 */
export class ReplicationService implements BrokerComponent, ReplicaListener {
  readonly name = 'replication';
  private manager: ReplicaManager | undefined;
  private readonly clients = new Map<number, ReplicaFetcherClient>();
  private readonly logger: Logger;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly storage: StorageComponent,
    private readonly metadata: MetadataNode,
    private readonly partitions: PartitionManager,
  ) {
    this.logger = ctx.logger.child({ component: 'replication' });
  }

  get replicas(): ReplicaManager {
    if (this.manager === undefined) throw new StreamBusError(13, 'replication is not running');
    return this.manager;
  }

  get running(): boolean {
    return this.manager !== undefined;
  }

  async start(): Promise<void> {
    const { config } = this.ctx;
    this.manager = new ReplicaManager({
      brokerId: config.brokerId,
      brokerEpoch: () => this.metadata.currentBrokerEpoch ?? -1,
      storage: this.storage.engine,
      scheduler: systemScheduler(),
      clusterId: config.clusterId,
      config: {
        replicaLagTimeMaxMs: config.replication.replicaLagMsMax,
        replicaFetchWaitMaxMs: config.replication.replicaFetchWaitMsMax,
        replicaFetchPartitionBytesMax: config.replication.replicaFetchBytesMax,
        replicaFetchResponseBytesMax: config.replication.replicaFetchResponseBytesMax,
      },
      send: (leaderId, req) => this.send(leaderId, req),
      alterPartition: (change) => this.alterPartition(change),
      brokerEpochOf: (id) => this.metadata.image.brokers.get(id)?.brokerEpoch,
      onHighWatermark: (tp) => this.partitions.get(tp.topic, tp.partition)?.notify(),
    });
    let shrinksSeen = 0;
    let expandsSeen = 0;
    this.ctx.registry.addCollector(() => {
      const m = this.manager?.metrics();
      if (m === undefined) return;
      this.ctx.metrics.isrShrinks.inc(m.isrShrinksTotal - shrinksSeen);
      this.ctx.metrics.isrExpands.inc(m.isrExpandsTotal - expandsSeen);
      shrinksSeen = m.isrShrinksTotal;
      expandsSeen = m.isrExpandsTotal;
      this.ctx.metrics.underReplicatedPartitions.set(m.underReplicatedPartitions);
      this.ctx.metrics.offlinePartitions.set(m.offlinePartitions);
      this.ctx.metrics.underMinIsrPartitions.set(m.underMinIsrPartitions);
    });
    this.partitions.addListener(this);
    // Views applied before replication started are re-sent now.
    await this.partitions.resync(this.metadata.image);
  }

  async stop(): Promise<void> {
    await this.manager?.stop();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  updated(replica: LocalReplica): Promise<void> {
    const topic = this.metadata.image.topics.get(replica.topicId);
    const minInsyncReplicas = topic === undefined ? 1 : effectiveTopicConfig(topic.configs).minInsyncReplicas;
    return this.replicas.applyPartition({ topic: replica.topic, topicId: replica.topicId, partition: replica.partition, state: replica.state, minInsyncReplicas });
  }

  removed(tp: { readonly topic: string; readonly partition: number }): Promise<void> {
    return this.replicas.removePartition(tp);
  }

  /** Server side of ReplicaFetcher.ReplicaFetch. */
  handleReplicaFetch(req: ReplicaFetchRequest): Promise<ReplicaFetchResponse> {
    return this.replicas.handleReplicaFetch(req);
  }

  private send(leaderId: number, req: ReplicaFetchRequest): Promise<ReplicaFetchResponse> {
    let client = this.clients.get(leaderId);
    if (client === undefined) {
      const address = this.metadata.peerAddressOf(leaderId);
      if (address === undefined) return Promise.reject(new Error(`no peer address known for broker ${leaderId}`));
      client = createReplicaFetcherClient(address);
      this.clients.set(leaderId, client);
    }
    return client.replicaFetch(req, { timeoutMs: req.maxWaitMs + FETCH_DEADLINE_SLACK_MS });
  }

  private async alterPartition(change: PartitionChange): Promise<AlterPartitionResult> {
    try {
      const outcome = await this.metadata.propose(change);
      if (outcome.result.type !== 'PartitionChange') throw new Error(`unexpected result ${outcome.result.type} for a partition change`);
      return { accepted: true, state: outcome.result.partition };
    } catch (err) {
      if (err instanceof StreamBusError && !err.retriable) return { accepted: false, errorCode: err.code, message: err.message };
      this.logger.debug({ err, topicId: change.topicId, partition: change.partition }, 'ISR change not answered');
      throw err;
    }
  }
}
