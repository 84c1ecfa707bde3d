// Topic, config and cluster administration. Every call goes to any live broker (the broker
// forwards to the metadata leader); per-resource failures are thrown as StreamBusError.
import {
  AlterConfigOp,
  type Broker,
  ConfigResourceType,
  ConfigSource,
  ErrorCode,
  type ErrorProto,
  type LeaderHint,
  OffsetSpec,
  StreamBusError,
  type StreamBusClient,
  type TopicDescription,
} from '@streambus/protocol';
import { type Cluster } from './cluster.js';
import { ClientError, isRetriableError } from './errors.js';
import { backoffMs, sleep } from './util.js';

export interface NewTopic {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  /** Manual placement: broker ids per partition, preferred leader first. */
  assignments?: readonly (readonly number[])[];
  configs?: { readonly [name: string]: string };
}

export interface AdminCallOptions {
  signal?: AbortSignal;
  /** How long the broker may wait for the metadata log, in ms. Default requestTimeoutMs. */
  timeoutMs?: number;
  validateOnly?: boolean;
}

export interface PartitionDetails {
  partition: number;
  leaderId: number | undefined;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: number[];
  isr: number[];
  offline: boolean;
  underReplicated: boolean;
}

export interface TopicDetails {
  name: string;
  topicId: string;
  internal: boolean;
  partitions: PartitionDetails[];
}

export interface ConfigDetails {
  name: string;
  value: string | undefined;
  source: 'dynamic-topic' | 'dynamic-broker' | 'dynamic-default-broker' | 'static-broker' | 'default' | 'unknown';
  readOnly: boolean;
  sensitive: boolean;
}

export interface ConfigResourceRef {
  type: 'topic' | 'broker';
  /** Topic name, or broker id in decimal ('' for the cluster-wide broker default). */
  name: string;
}

export interface ConfigChange {
  name: string;
  op?: 'set' | 'delete' | 'append' | 'subtract';
  value?: string;
}

export interface ClusterDetails {
  clusterId: string;
  metadataLeaderId: number | undefined;
  brokers: { brokerId: number; host: string; port: number; rack: string | undefined }[];
}

export interface ListedOffset {
  topic: string;
  partition: number;
  /** -1 when no record is at or after the timestamp. */
  offset: number;
  timestampMs: number;
  leaderEpoch: number;
}

const RETRIES_MAX = 5;

function throwIfError(error: ErrorProto | undefined, what: string): void {
  const err = StreamBusError.fromProto(error);
  if (err !== undefined) throw new StreamBusError(err.errorCode, `${what}: ${err.message}`, { retriable: err.retriable });
}

function resourceType(type: 'topic' | 'broker'): ConfigResourceType {
  if (type === 'topic') return ConfigResourceType.TOPIC;
  if (type === 'broker') return ConfigResourceType.BROKER;
  throw new ClientError('INVALID_ARGUMENT', `config resource type must be 'topic' or 'broker'`);
}

function sourceName(source: ConfigSource): ConfigDetails['source'] {
  switch (source) {
    case ConfigSource.DYNAMIC_TOPIC_CONFIG:
      return 'dynamic-topic';
    case ConfigSource.DYNAMIC_BROKER_CONFIG:
      return 'dynamic-broker';
    case ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG:
      return 'dynamic-default-broker';
    case ConfigSource.STATIC_BROKER_CONFIG:
      return 'static-broker';
    case ConfigSource.DEFAULT_CONFIG:
      return 'default';
    case ConfigSource.UNSPECIFIED:
      return 'unknown';
    default:
      return 'unknown';
  }
}

const ALTER_OPS = { set: AlterConfigOp.SET, delete: AlterConfigOp.DELETE, append: AlterConfigOp.APPEND, subtract: AlterConfigOp.SUBTRACT } as const;

function toDetails(topic: TopicDescription): TopicDetails {
  return {
    name: topic.name,
    topicId: topic.topicId,
    internal: topic.internal,
    partitions: [...topic.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        replicas: p.replicas,
        isr: p.isr,
        offline: p.offline,
        underReplicated: p.underReplicated,
      })),
  };
}

export class Admin {
  constructor(private readonly cluster: Cluster) {}

  /** Retries transport failures and retriable domain errors (e.g. NOT_CONTROLLER) a few times. */
  private async call<T>(fn: (client: StreamBusClient) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.withAnyBroker(fn);
      } catch (err) {
        if (!isRetriableError(err) || attempt + 1 >= RETRIES_MAX || signal?.aborted) throw err;
        await sleep(backoffMs(attempt, this.cluster.retryBackoffMs, this.cluster.retryBackoffMaxMs, this.cluster.random), signal);
      }
    }
  }

  private timeoutOf(options: AdminCallOptions): number {
    return options.timeoutMs ?? this.cluster.requestTimeoutMs;
  }

  async createTopics(topics: readonly NewTopic[], options: AdminCallOptions = {}): Promise<{ name: string; topicId: string; numPartitions: number; replicationFactor: number }[]> {
    const response = await this.call(
      (client) =>
        client.createTopics(
          {
            timeoutMs: this.timeoutOf(options),
            validateOnly: options.validateOnly ?? false,
            topics: topics.map((t) => ({
              name: t.name,
              numPartitions: t.numPartitions,
              replicationFactor: t.replicationFactor,
              assignments: (t.assignments ?? []).map((brokerIds, partition) => ({ partition, brokerIds: [...brokerIds] })),
              configs: { ...t.configs },
            })),
          },
          { signal: options.signal, timeoutMs: this.timeoutOf(options) + this.cluster.requestTimeoutMs },
        ),
      options.signal,
    );
    for (const result of response.topics) throwIfError(result.error, `create topic ${result.name}`);
    return response.topics.map(({ name, topicId, numPartitions, replicationFactor }) => ({ name, topicId, numPartitions, replicationFactor }));
  }

  async deleteTopics(names: readonly string[], options: AdminCallOptions = {}): Promise<void> {
    const response = await this.call(
      (client) => client.deleteTopics({ names: [...names], timeoutMs: this.timeoutOf(options) }, { signal: options.signal, timeoutMs: this.timeoutOf(options) + this.cluster.requestTimeoutMs }),
      options.signal,
    );
    for (const result of response.topics) throwIfError(result.error, `delete topic ${result.name}`);
  }

  /** Describes the named topics (all when empty); an unknown name throws UNKNOWN_TOPIC_OR_PARTITION. */
  async describeTopics(names: readonly string[] = [], options: AdminCallOptions & { includeInternal?: boolean } = {}): Promise<TopicDetails[]> {
    const response = await this.call(
      (client) => client.describeTopics({ names: [...names], includeInternal: options.includeInternal ?? false }, { signal: options.signal, timeoutMs: this.cluster.requestTimeoutMs }),
      options.signal,
    );
    for (const topic of response.topics) throwIfError(topic.error, `describe topic ${topic.name}`);
    return response.topics.map(toDetails);
  }

  async listTopics(options: AdminCallOptions & { includeInternal?: boolean } = {}): Promise<string[]> {
    return (await this.describeTopics([], options)).map((t) => t.name).sort();
  }

  /** Raises each topic's partition count to `count`. */
  async createPartitions(topics: readonly { name: string; count: number; assignments?: readonly (readonly number[])[] }[], options: AdminCallOptions = {}): Promise<void> {
    const response = await this.call(
      (client) =>
        client.createPartitions(
          {
            timeoutMs: this.timeoutOf(options),
            validateOnly: options.validateOnly ?? false,
            topics: topics.map((t) => ({ name: t.name, count: t.count, assignments: (t.assignments ?? []).map((brokerIds, i) => ({ partition: i, brokerIds: [...brokerIds] })) })),
          },
          { signal: options.signal, timeoutMs: this.timeoutOf(options) + this.cluster.requestTimeoutMs },
        ),
      options.signal,
    );
    for (const result of response.topics) throwIfError(result.error, `create partitions for ${result.name}`);
  }

  async describeConfigs(resources: readonly (ConfigResourceRef & { configNames?: readonly string[] })[], options: AdminCallOptions = {}): Promise<(ConfigResourceRef & { configs: ConfigDetails[] })[]> {
    const response = await this.call(
      (client) =>
        client.describeConfigs(
          { resources: resources.map((r) => ({ type: resourceType(r.type), name: r.name, configNames: [...(r.configNames ?? [])] })) },
          { signal: options.signal, timeoutMs: this.cluster.requestTimeoutMs },
        ),
      options.signal,
    );
    return response.results.map((result) => {
      throwIfError(result.error, `describe configs of ${result.name}`);
      return {
        type: result.type === ConfigResourceType.BROKER ? 'broker' : 'topic',
        name: result.name,
        configs: result.configs.map((c) => ({ name: c.name, value: c.value, source: sourceName(c.source), readOnly: c.readOnly, sensitive: c.sensitive })),
      };
    });
  }

  /** Incremental changes (Kafka's IncrementalAlterConfigs); op defaults to 'set'. */
  async alterConfigs(changes: readonly (ConfigResourceRef & { configs: readonly ConfigChange[] })[], options: AdminCallOptions = {}): Promise<void> {
    const resources = changes.map((r) => ({
      type: resourceType(r.type),
      name: r.name,
      configs: r.configs.map((c) => {
        const op = ALTER_OPS[c.op ?? 'set'];
        if (op === undefined) throw new ClientError('INVALID_ARGUMENT', `config op must be set, delete, append or subtract`);
        if (op !== AlterConfigOp.DELETE && c.value === undefined) throw new ClientError('INVALID_ARGUMENT', `config ${c.name} needs a value for ${c.op ?? 'set'}`);
        return { name: c.name, op, value: c.value };
      }),
    }));
    const response = await this.call(
      (client) => client.alterConfigs({ resources, validateOnly: options.validateOnly ?? false }, { signal: options.signal, timeoutMs: this.cluster.requestTimeoutMs }),
      options.signal,
    );
    for (const result of response.results) throwIfError(result.error, `alter configs of ${result.name}`);
  }

  async describeCluster(options: AdminCallOptions & { includeFenced?: boolean } = {}): Promise<ClusterDetails> {
    const response = await this.call(
      (client) => client.describeCluster({ includeFenced: options.includeFenced ?? false }, { signal: options.signal, timeoutMs: this.cluster.requestTimeoutMs }),
      options.signal,
    );
    return {
      clusterId: response.clusterId,
      metadataLeaderId: response.metadataLeaderId,
      brokers: response.brokers.map((b: Broker) => ({ brokerId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    };
  }

  /**
   * Earliest / latest / first-at-timestamp offsets, asked of each partition's leader
   * (refreshing metadata and retrying when the leader moved).
   */
  async listOffsets(
    partitions: readonly { topic: string; partition: number; spec: 'earliest' | 'latest' | 'max-timestamp' | { timestamp: number } }[],
    options: AdminCallOptions = {},
  ): Promise<ListedOffset[]> {
    const results: ListedOffset[] = [];
    for (const p of partitions) {
      for (let attempt = 0; ; attempt++) {
        let info = this.cluster.partitionInfo(p.topic, p.partition);
        if (info === undefined) {
          await this.cluster.waitForTopic(p.topic, Date.now() + this.cluster.requestTimeoutMs, options.signal);
          info = this.cluster.partitionInfo(p.topic, p.partition);
          if (info === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${p.topic}-${p.partition} does not exist`);
        }
        const client = info.leaderId === undefined ? undefined : this.cluster.brokerClient(info.leaderId);
        let hint: LeaderHint | undefined;
        let error: StreamBusError | undefined;
        if (client === undefined) {
          error = new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `${p.topic}-${p.partition} has no leader`);
        } else {
          const spec = p.spec === 'earliest' ? OffsetSpec.EARLIEST : p.spec === 'latest' ? OffsetSpec.LATEST : p.spec === 'max-timestamp' ? OffsetSpec.MAX_TIMESTAMP : OffsetSpec.TIMESTAMP;
          const response = await client.listOffsets(
            {
              isolationLevel: 0,
              partitions: [{ topic: p.topic, partition: p.partition, currentLeaderEpoch: info.leaderEpoch, spec, timestampMs: typeof p.spec === 'object' ? p.spec.timestamp : 0 }],
            },
            { signal: options.signal, timeoutMs: this.cluster.requestTimeoutMs },
          );
          const answer = response.partitions[0];
          if (answer !== undefined && answer.errorCode === ErrorCode.NONE) {
            results.push({ topic: p.topic, partition: p.partition, offset: answer.offset, timestampMs: answer.timestampMs, leaderEpoch: answer.leaderEpoch });
            break;
          }
          hint = answer?.currentLeader;
          error = new StreamBusError(answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, answer?.errorMessage ?? 'ListOffsets omitted the partition');
        }
        if (!error.retriable || attempt + 1 >= RETRIES_MAX) throw error;
        this.cluster.applyLeaderHint(p.topic, p.partition, hint);
        await this.cluster.refresh().catch(() => undefined);
        await sleep(backoffMs(attempt, this.cluster.retryBackoffMs, this.cluster.retryBackoffMaxMs, this.cluster.random), options.signal);
      }
    }
    return results;
  }
}
