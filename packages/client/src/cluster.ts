// Routing state shared by producers, consumers and the admin client: one gRPC channel per
// broker address, and the newest metadata view (brokers, partition leaders and epochs).
import {
  type ChannelConfig,
  ErrorCode,
  type LeaderHint,
  type MetadataResponse,
  StreamBusError,
  type StreamBusClient,
  createClient,
  isTransportError,
} from '@streambus/protocol';
import { ClientError } from './errors.js';
import { backoffMs, sleep, topicPartitionKey } from './util.js';

export interface ClusterOptions {
  /** Bootstrap brokers as 'host:port'; any one of them is enough to discover the rest. */
  brokers: readonly string[];
  /** Deadline of each request, in ms (Kafka's request.timeout.ms). Default 30 000. */
  requestTimeoutMs?: number;
  /** First retry delay, in ms; doubles per attempt up to retryBackoffMaxMs. Default 100. */
  retryBackoffMs?: number;
  /** Retry delay cap, in ms. Default 1 000. */
  retryBackoffMaxMs?: number;
  /** gRPC channel settings shared by every broker connection (message size, keepalive, credentials). */
  channel?: ChannelConfig;
  /** Randomness seam (backoff jitter, sticky partitions); inject a seeded one to replay a test. Default Math.random. */
  random?: () => number;
}

export interface PartitionInfo {
  topic: string;
  partition: number;
  /** Undefined while the partition has no leader. */
  leaderId: number | undefined;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicInfo {
  name: string;
  topicId: string;
  partitions: PartitionInfo[];
}

/** Codes after which the client's routing table is probably stale. */
const STALE_METADATA_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.BROKER_NOT_AVAILABLE,
]);

export function isStaleMetadataCode(code: ErrorCode): boolean {
  return STALE_METADATA_CODES.has(code);
}

export class Cluster {
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMaxMs: number;
  readonly random: () => number;
  private readonly bootstrap: readonly string[];
  private readonly channel: ChannelConfig | undefined;
  private readonly clients = new Map<string, StreamBusClient>();
  private brokers = new Map<number, string>();
  private readonly topics = new Map<string, TopicInfo>();
  /** Topics some producer or consumer uses: every refresh asks for all of them. */
  private readonly interest = new Set<string>();
  private metadataOffset = -1;
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private nextBroker = 0;
  private lastRefreshEndMs = -Infinity;
  private closed = false;

  constructor(options: ClusterOptions) {
    const brokers: unknown = options.brokers;
    if (!Array.isArray(brokers) || brokers.length === 0) {
      throw new ClientError('INVALID_ARGUMENT', 'brokers must list at least one "host:port"');
    }
    for (const address of options.brokers) {
      if (typeof address !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
        throw new ClientError('INVALID_ARGUMENT', `broker address ${String(address)} is not "host:port"`);
      }
    }
    this.bootstrap = options.brokers.slice();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.retryBackoffMs = options.retryBackoffMs ?? 100;
    this.retryBackoffMaxMs = options.retryBackoffMaxMs ?? 1_000;
    this.channel = options.channel;
    this.random = options.random ?? Math.random;
  }

  /** The one channel for `address`, created on first use and reused by every caller. */
  clientFor(address: string): StreamBusClient {
    if (this.closed) throw new ClientError('CLOSED', 'the client is closed');
    let client = this.clients.get(address);
    if (client === undefined) {
      client = createClient(address, this.channel);
      this.clients.set(address, client);
    }
    return client;
  }

  /** The channel of a broker the metadata knows; undefined when unknown or closed. */
  brokerClient(brokerId: number): StreamBusClient | undefined {
    const address = this.brokers.get(brokerId);
    return address === undefined || this.closed ? undefined : this.clientFor(address);
  }

  /** Known broker addresses first (rotating), then the bootstrap list. */
  private candidateAddresses(): string[] {
    const known = [...this.brokers.values()];
    const start = known.length === 0 ? 0 : this.nextBroker++ % known.length;
    const rotated = [...known.slice(start), ...known.slice(0, start)];
    return [...new Set([...rotated, ...this.bootstrap])];
  }

  /**
   * Runs `call` against one broker after another until one answers. Transport failures
   * move on to the next address; a domain error is an answer and is thrown as is.
   */
  async withAnyBroker<T>(call: (client: StreamBusClient) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const address of this.candidateAddresses()) {
      try {
        return await call(this.clientFor(address));
      } catch (err) {
        if (!isTransportError(err) || !err.retriable) throw err;
        lastError = err;
      }
    }
    throw new ClientError('NO_BROKER_AVAILABLE', 'no broker answered', { cause: lastError });
  }

  addInterest(topic: string): void {
    this.interest.add(topic);
  }

  topic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  partitionInfo(topic: string, partition: number): PartitionInfo | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /**
   * Refreshes metadata for every topic of interest. Calls made while one refresh runs share
   * a single follow-up refresh, so a burst of NOT_LEADER answers costs two requests.
   */
  refresh(): Promise<void> {
    if (this.current === undefined) {
      this.current = this.doRefresh().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.refresh();
      });
    return this.next;
  }

  /**
   * A refresh, but no sooner than `minIntervalMs` after the last one ended: callers that
   * loop on a partition without a leader must not hammer the brokers.
   */
  async refreshAtMost(minIntervalMs: number): Promise<void> {
    const waitMs = this.lastRefreshEndMs + minIntervalMs - Date.now();
    if (waitMs > 0) await sleep(waitMs);
    return this.refresh();
  }

  private async doRefresh(): Promise<void> {
    const topics = [...this.interest];
    try {
      const response = await this.withAnyBroker((client) => client.metadata({ topics }, { timeoutMs: this.requestTimeoutMs }));
      this.apply(response);
    } finally {
      this.lastRefreshEndMs = Date.now();
    }
  }

  /** Keeps the newest view: an older metadata offset may only add topics never seen. */
  apply(response: MetadataResponse): void {
    const newer = response.metadataOffset >= this.metadataOffset;
    if (newer) {
      this.metadataOffset = response.metadataOffset;
      const brokers = new Map<number, string>();
      for (const broker of response.brokers) brokers.set(broker.brokerId, `${broker.host}:${broker.port}`);
      if (brokers.size > 0) this.brokers = brokers;
    }
    for (const topic of response.topics) {
      const known = this.topics.get(topic.name);
      if (topic.error !== undefined && topic.error.code !== ErrorCode.NONE) {
        if (newer && topic.error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.topics.delete(topic.name);
        continue;
      }
      if (!newer && known !== undefined) continue;
      const partitions: PartitionInfo[] = [];
      for (const p of [...topic.partitions].sort((a, b) => a.partition - b.partition)) {
        const previous = known?.topicId === topic.topicId ? known.partitions[p.partition] : undefined;
        // A leader hint may already have taught us a newer epoch than this view holds.
        if (previous !== undefined && previous.leaderEpoch > p.leaderEpoch) {
          partitions[p.partition] = previous;
          continue;
        }
        partitions[p.partition] = {
          topic: topic.name,
          partition: p.partition,
          leaderId: p.offline ? undefined : p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicas,
          isr: p.isr,
        };
      }
      // A hole (a partition the view omitted) would break partition counting: refuse the view.
      if (partitions.length !== topic.partitions.length || partitions.some((p) => p === undefined)) continue;
      this.topics.set(topic.name, { name: topic.name, topicId: topic.topicId, partitions });
    }
  }

  /** Follows a NOT_LEADER / FENCED answer's hint at once, when it is newer than what we know. */
  applyLeaderHint(topic: string, partition: number, hint: LeaderHint | undefined): void {
    if (hint === undefined) return;
    const info = this.partitionInfo(topic, partition);
    if (info === undefined || hint.leaderEpoch <= info.leaderEpoch || !this.brokers.has(hint.leaderId)) return;
    info.leaderId = hint.leaderId;
    info.leaderEpoch = hint.leaderEpoch;
  }

  /**
   * The topic's metadata, refreshing (with backoff) until it is known or `deadlineMs`
   * (epoch ms) passes; then UNKNOWN_TOPIC_OR_PARTITION or the last refresh failure.
   */
  async waitForTopic(name: string, deadlineMs: number, signal?: AbortSignal): Promise<TopicInfo> {
    this.interest.add(name);
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const known = this.topics.get(name);
      if (known !== undefined) return known;
      try {
        await this.refresh();
        lastError = undefined;
      } catch (err) {
        lastError = err;
      }
      const found = this.topics.get(name);
      if (found !== undefined) return found;
      const waitMs = backoffMs(attempt, this.retryBackoffMs, this.retryBackoffMaxMs, this.random);
      if (Date.now() + waitMs > deadlineMs) {
        if (lastError instanceof Error) throw lastError;
        throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} is not in the cluster metadata`);
      }
      await sleep(waitMs, signal);
    }
  }

  key(topic: string, partition: number): string {
    return topicPartitionKey(topic, partition);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
