import {
  describeTopicConfigs,
  effectiveTopicConfig,
  mergeTopicConfigs,
  MetadataError,
  normalizeConfigValue,
  placeReplicas,
  brokerLoad,
  topicByName,
  topicConfigKeys,
  validateTopicName,
  type MetadataState,
  type TopicState,
  NO_LEADER,
} from '@streambus/metadata';
import {
  AlterConfigOp,
  BrokerStatus,
  ConfigResourceType,
  ConfigSource,
  ErrorCode,
  StreamBusError,
  type AlterConfigsRequest,
  type AlterConfigsResponse,
  type Broker,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  type DescribeClusterRequest,
  type DescribeClusterResponse,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type DescribeTopicsRequest,
  type DescribeTopicsResponse,
  type MetadataRequest,
  type MetadataResponse,
  type PartitionDescription,
  type TopicDescription,
} from '@streambus/protocol';
import { type BrokerConfig } from '../config.js';
import { errorCodeOf, type MetadataNode } from '../cluster/metadata-node.js';
import { type PartitionManager } from '../data/partition-manager.js';

const ADMIN_TIMEOUT_MS_DEFAULT = 30_000;

function asStreamBusError(err: unknown): StreamBusError {
  if (err instanceof StreamBusError) return err;
  if (err instanceof MetadataError) return new StreamBusError(errorCodeOf(err.code), err.message, { cause: err });
  return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * Topic and cluster administration. Every change is a metadata command proposed through
 * Raft (forwarded to the leader when this broker is not it); the answer comes once the
 * change is applied here too, so a client that created a topic can use it at once.
 */
export class Admin {
  constructor(
    private readonly metadata: MetadataNode,
    private readonly partitions: PartitionManager,
    private readonly config: BrokerConfig,
  ) {}

  private get state(): MetadataState {
    return this.metadata.image;
  }

  /**
   * After a proposal (which resolves once this broker's metadata image has it): waits until
   * the partition manager has acted on that image too, so the answer reflects the change.
   */
  private async settle(timeoutMs: number): Promise<void> {
    await this.partitions.waitForApplied(this.state.appliedIndex, Math.max(1, timeoutMs));
  }

  async createTopics(req: CreateTopicsRequest): Promise<CreateTopicsResponse> {
    const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : ADMIN_TIMEOUT_MS_DEFAULT;
    const topics = [];
    for (const t of req.topics) {
      const numPartitions = t.numPartitions ?? (t.assignments.length > 0 ? t.assignments.length : this.config.topicDefaults.numPartitions);
      const rf = t.replicationFactor ?? (t.assignments[0]?.brokerIds.length ?? this.config.topicDefaults.replicationFactor);
      const base = { name: t.name, topicId: '', numPartitions, replicationFactor: rf };
      try {
        validateTopicName(t.name);
        if (topicByName(this.state, t.name) !== undefined) throw new StreamBusError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${t.name} already exists`);
        if (!Number.isInteger(numPartitions) || numPartitions < 1) throw new StreamBusError(ErrorCode.INVALID_PARTITIONS, `a topic needs at least one partition, got ${numPartitions}`);
        if (!Number.isInteger(rf) || rf < 1) throw new StreamBusError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be at least 1, got ${rf}`);
        const configs = this.withDefaults(t.configs);
        for (const [k, v] of Object.entries(configs)) configs[k] = normalizeConfigValue(k, v);
        const assignment = t.assignments.length > 0 ? [...t.assignments].sort((a, b) => a.partition - b.partition).map((a) => a.brokerIds) : this.place(numPartitions, rf);
        if (req.validateOnly) {
          topics.push(base);
          continue;
        }
        const outcome = await this.metadata.propose({ type: 'CreateTopic', name: t.name, assignment, configs }, timeoutMs);
        await this.settle(timeoutMs);
        topics.push({ ...base, topicId: outcome.result.type === 'CreateTopic' ? outcome.result.topicId : (topicByName(this.state, t.name)?.topicId ?? '') });
      } catch (err) {
        topics.push({ ...base, error: asStreamBusError(err).toProto() });
      }
    }
    return { topics };
  }

  /** Broker defaults (min.insync.replicas etc.) fill what the request leaves out. */
  private withDefaults(configs: Record<string, string>): Record<string, string> {
    const d = this.config.topicDefaults;
    const defaults: Record<string, string> = {
      'min.insync.replicas': String(d.minInsyncReplicas),
      'retention.ms': String(d.retentionMs),
      'retention.bytes': String(d.retentionBytes),
      'cleanup.policy': d.cleanupPolicy,
      'max.message.bytes': String(d.maxMessageBytes),
      'compression.type': d.compressionType,
      'unclean.leader.election.enable': String(d.uncleanLeaderElectionEnable),
    };
    return { ...defaults, ...configs };
  }

  private place(partitions: number, rf: number): number[][] {
    const live = [...this.state.brokers.values()].filter((b) => !b.fenced);
    if (rf > live.length) throw new StreamBusError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is larger than the ${live.length} available broker(s)`);
    return placeReplicas([...this.state.brokers.values()], partitions, rf, brokerLoad(this.state));
  }

  async deleteTopics(req: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
    const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : ADMIN_TIMEOUT_MS_DEFAULT;
    const topics = [];
    for (const name of req.names) {
      try {
        const topic = topicByName(this.state, name);
        if (topic === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
        await this.metadata.propose({ type: 'DeleteTopic', topicId: topic.topicId }, timeoutMs);
        await this.settle(timeoutMs);
        topics.push({ name });
      } catch (err) {
        topics.push({ name, error: asStreamBusError(err).toProto() });
      }
    }
    return { topics };
  }

  async createPartitions(req: CreatePartitionsRequest): Promise<CreatePartitionsResponse> {
    const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : ADMIN_TIMEOUT_MS_DEFAULT;
    const topics = [];
    for (const t of req.topics) {
      try {
        const topic = topicByName(this.state, t.name);
        if (topic === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${t.name} does not exist`);
        const current = topic.partitions.length;
        if (t.count <= current) throw new StreamBusError(ErrorCode.INVALID_PARTITIONS, `topic ${t.name} has ${current} partitions; the new count ${t.count} must be larger`);
        const rf = topic.partitions[0]?.replicas.length ?? 1;
        const assignment = t.assignments.length > 0 ? t.assignments.map((a) => a.brokerIds) : this.place(t.count - current, rf);
        if (!req.validateOnly) {
          await this.metadata.propose({ type: 'CreatePartitions', topicId: topic.topicId, assignment }, timeoutMs);
          await this.settle(timeoutMs);
        }
        topics.push({ name: t.name });
      } catch (err) {
        topics.push({ name: t.name, error: asStreamBusError(err).toProto() });
      }
    }
    return { topics };
  }

  describeConfigs(req: DescribeConfigsRequest): DescribeConfigsResponse {
    return {
      results: req.resources.map((r) => {
        const base = { type: r.type, name: r.name, configs: [] };
        if (r.type !== ConfigResourceType.TOPIC) return { ...base, error: new StreamBusError(ErrorCode.INVALID_REQUEST, 'only topic configs can be described so far').toProto() };
        const topic = topicByName(this.state, r.name);
        if (topic === undefined) return { ...base, error: new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${r.name} does not exist`).toProto() };
        const wanted = new Set(r.configNames);
        const configs = describeTopicConfigs(topic.configs)
          .filter((c) => wanted.size === 0 || wanted.has(c.key))
          .map((c) => ({ name: c.key, value: c.value, source: c.isDefault ? ConfigSource.DEFAULT_CONFIG : ConfigSource.DYNAMIC_TOPIC_CONFIG, readOnly: false, sensitive: false }));
        return { ...base, configs };
      }),
    };
  }

  async alterConfigs(req: AlterConfigsRequest): Promise<AlterConfigsResponse> {
    const results = [];
    for (const r of req.resources) {
      const base = { type: r.type, name: r.name };
      try {
        if (r.type !== ConfigResourceType.TOPIC) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'only topic configs can be altered so far');
        const topic = topicByName(this.state, r.name);
        if (topic === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${r.name} does not exist`);
        const set: Record<string, string> = {};
        const del: string[] = [];
        for (const c of r.configs) {
          if (!topicConfigKeys.includes(c.name)) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `unknown topic config ${c.name}; known: ${topicConfigKeys.join(', ')}`);
          if (c.op === AlterConfigOp.DELETE) del.push(c.name);
          else if (c.op === AlterConfigOp.SET || c.op === AlterConfigOp.UNSPECIFIED) {
            if (c.value === undefined) throw new StreamBusError(ErrorCode.INVALID_CONFIG, `config ${c.name} needs a value to be set`);
            set[c.name] = normalizeConfigValue(c.name, c.value);
          } else throw new StreamBusError(ErrorCode.INVALID_CONFIG, `operation ${String(c.op)} is not supported for ${c.name}`);
        }
        // Validates the whole change (unknown keys, bad values, min.insync.replicas > RF) before proposing.
        mergeTopicConfigs(topic.configs, set, del, topic.partitions[0]?.replicas.length ?? 1);
        if (!req.validateOnly) {
          await this.metadata.propose({ type: 'AlterConfigs', topicId: topic.topicId, set, delete: del });
          await this.settle(ADMIN_TIMEOUT_MS_DEFAULT);
        }
        results.push(base);
      } catch (err) {
        results.push({ ...base, error: asStreamBusError(err).toProto() });
      }
    }
    return { results };
  }

  // ---- descriptions ---------------------------------------------------------------------

  brokers(includeFenced: boolean): Broker[] {
    return [...this.state.brokers.values()]
      .filter((b) => includeFenced || !b.fenced)
      .sort((a, b) => a.brokerId - b.brokerId)
      .map((b) => ({
        brokerId: b.brokerId,
        host: b.host,
        port: b.port,
        rack: b.rack ?? undefined,
        status: b.fenced ? BrokerStatus.FENCED : BrokerStatus.ACTIVE,
        incarnationId: b.incarnationId,
        brokerEpoch: b.brokerEpoch,
      }));
  }

  describeTopic(topic: TopicState): TopicDescription {
    const minIsr = effectiveTopicConfig(topic.configs).minInsyncReplicas;
    const live = (id: number): boolean => this.state.brokers.get(id)?.fenced === false;
    return {
      name: topic.name,
      topicId: topic.topicId,
      internal: false,
      partitions: topic.partitions.map(
        (p): PartitionDescription => ({
          partition: p.partition,
          errorCode: p.leader === NO_LEADER ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
          leaderId: p.leader === NO_LEADER ? undefined : p.leader,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
          offlineReplicas: p.replicas.filter((id) => !live(id)),
          addingReplicas: [...p.addingReplicas],
          removingReplicas: [...p.removingReplicas],
          offline: p.leader === NO_LEADER,
          underReplicated: p.isr.length < p.replicas.length,
          underMinIsr: p.isr.length < minIsr,
        }),
      ),
    };
  }

  private describeByName(names: readonly string[]): TopicDescription[] {
    const all = [...this.state.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (names.length === 0) return all.map((t) => this.describeTopic(t));
    return names.map((name) => {
      const t = topicByName(this.state, name);
      if (t !== undefined) return this.describeTopic(t);
      return { name, topicId: '', internal: false, partitions: [], error: new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`).toProto() };
    });
  }

  metadataView(req: MetadataRequest): MetadataResponse {
    const leaderId = this.metadata.leaderId;
    return {
      clusterId: this.state.clusterId ?? this.config.clusterId,
      metadataLeaderId: leaderId === 0 ? undefined : leaderId,
      brokers: this.brokers(false),
      topics: this.describeByName(req.topics),
      metadataOffset: this.state.appliedIndex,
    };
  }

  describeTopics(req: DescribeTopicsRequest): DescribeTopicsResponse {
    return { topics: this.describeByName(req.names) };
  }

  describeCluster(req: DescribeClusterRequest): DescribeClusterResponse {
    const status = this.metadata.raftStatus();
    return {
      clusterId: this.state.clusterId ?? this.config.clusterId,
      metadataLeaderId: status === undefined || status.leaderId === 0 ? undefined : status.leaderId,
      metadataLeaderEpoch: status?.term ?? 0,
      brokers: this.brokers(req.includeFenced),
      metadataOffset: this.state.appliedIndex,
    };
  }
}
