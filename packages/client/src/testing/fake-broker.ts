// An in-process StreamBus cluster for tests: real grpc-js servers on 127.0.0.1 (one per
// fake broker, sharing one in-memory state), real RecordBatch bytes with offset
// assignment, partition leaders with epochs, NOT_LEADER_OR_FOLLOWER for the wrong broker,
// long-poll and streaming fetch, and failures injected on demand. No replication: the
// high watermark is the log end offset.
import { randomUUID } from 'node:crypto';
import {
  AlterConfigOp,
  type AlterConfigsResult,
  BrokerStatus,
  type CallContext,
  ConfigResourceType,
  ConfigSource,
  type CreatableTopicResult,
  ErrorCode,
  type FetchPartition,
  type FetchPartitionResponse,
  type ListOffsetsPartitionResponse,
  type MetadataResponse,
  OffsetSpec,
  type PartitionDescription,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceStreamRequest,
  type ProduceStreamResponse,
  type FetchStreamRequest,
  type FetchStreamResponse,
  StreamBusError,
  type StreamBusImplementation,
  type TopicDescription,
  TransportError,
  addStreamBusService,
  createServer,
  listen,
  shutdown,
} from '@streambus/protocol';
import { type Record as DecodedRecord, RecordError, decodeRecords, splitBatches } from '@streambus/record';

export type FakeApi = 'metadata' | 'produce' | 'fetch' | 'listOffsets' | 'admin';

export interface FakeBrokerOptions {
  /** Number of brokers (servers); ids are 0..brokerCount-1. Default 1. */
  brokerCount?: number;
  clusterId?: string;
  /** Topics created at start. */
  topics?: readonly { name: string; partitions: number; configs?: { [name: string]: string } }[];
  /** Partitions for CreateTopics without numPartitions. Default 1. */
  defaultPartitions?: number;
}

export interface InjectedError {
  api: FakeApi;
  /** Only requests touching this topic / partition (default: any). */
  topic?: string;
  partition?: number;
  /** Only on this broker (default: any). */
  brokerId?: number;
  /** A per-partition domain error code (produce, fetch, listOffsets), or... */
  errorCode?: ErrorCode;
  /** ...a whole-call transport failure with this gRPC status (e.g. 14 UNAVAILABLE). */
  grpcStatus?: number;
  /** For produce: fail after appending (the client sees an error, the data is written). */
  afterAppend?: boolean;
  /** How many times to fire. Default 1. */
  count?: number;
}

interface StoredBatch {
  baseOffset: number;
  nextOffset: number;
  maxTimestamp: number;
  bytes: Buffer;
}

interface FakePartition {
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: number[];
  batches: StoredBatch[];
  logStartOffset: number;
  logEndOffset: number;
}

interface FakeTopic {
  name: string;
  topicId: string;
  partitions: FakePartition[];
  configs: Map<string, string>;
}

export interface FakeBrokerStats {
  produceRequests: number;
  producePartitions: number;
  fetchRequests: number;
  metadataRequests: number;
}

const DEFAULT_TOPIC_CONFIGS: { readonly [name: string]: string } = {
  'retention.ms': '604800000',
  'cleanup.policy': 'delete',
  'min.insync.replicas': '1',
  'max.message.bytes': '1048588',
  'compression.type': 'producer',
};

/** Deliberately small bounds: a fake must not hang a test when a client misbehaves. */
const FETCH_WAIT_MS_MAX = 5_000;

export class FakeBroker {
  readonly clusterId: string;
  readonly stats: FakeBrokerStats = { produceRequests: 0, producePartitions: 0, fetchRequests: 0, metadataRequests: 0 };
  private readonly servers: ReturnType<typeof createServer>[] = [];
  private readonly ports: number[] = [];
  private readonly topics = new Map<string, FakeTopic>();
  private readonly injected: (InjectedError & { remaining: number })[] = [];
  private appendWaiters: (() => void)[] = [];
  private metadataOffset = 1;
  private produceGate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private readonly defaultPartitions: number;
  private stopped = false;

  private constructor(options: FakeBrokerOptions) {
    this.clusterId = options.clusterId ?? 'fake-cluster';
    this.defaultPartitions = options.defaultPartitions ?? 1;
  }

  /** Starts `brokerCount` servers on 127.0.0.1 with ephemeral ports. */
  static async start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const fake = new FakeBroker(options);
    const count = options.brokerCount ?? 1;
    for (let id = 0; id < count; id++) {
      const server = createServer();
      addStreamBusService(server, fake.implementation(id));
      fake.servers.push(server);
      fake.ports.push(await listen(server, '127.0.0.1:0'));
    }
    for (const topic of options.topics ?? []) fake.createTopic(topic.name, topic.partitions, topic.configs);
    return fake;
  }

  /** Addresses to give `new StreamBus({ brokers })`. */
  get brokers(): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}`);
  }

  get brokerCount(): number {
    return this.servers.length;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.releaseProduce();
    this.wakeFetchers();
    await Promise.all(this.servers.map((server) => shutdown(server, 200)));
  }

  // -------------------------------------------------------------------------------------
  // Test controls

  /** Creates a topic; leaders are spread round-robin over the brokers. */
  createTopic(name: string, partitions: number, configs: { [name: string]: string } = {}): void {
    if (this.topics.has(name)) throw new StreamBusError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} exists`);
    if (!Number.isSafeInteger(partitions) || partitions <= 0 || partitions > 10_000) throw new StreamBusError(ErrorCode.INVALID_PARTITIONS, `bad partition count ${partitions}`);
    const topic: FakeTopic = { name, topicId: randomUUID(), partitions: [], configs: new Map(Object.entries(configs)) };
    this.topics.set(name, topic);
    this.addPartitions(topic, partitions);
  }

  /** Moves leadership (bumping the leader epoch), as a controller's election would. */
  moveLeader(topic: string, partition: number, leaderId: number): void {
    const p = this.partition(topic, partition);
    if (leaderId < 0 || leaderId >= this.servers.length) throw new RangeError(`no broker ${leaderId}`);
    p.leaderId = leaderId;
    p.leaderEpoch++;
    p.partitionEpoch++;
    this.metadataOffset++;
    this.wakeFetchers();
  }

  leaderOf(topic: string, partition: number): { leaderId: number; leaderEpoch: number } {
    const p = this.partition(topic, partition);
    return { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch };
  }

  /** Queues a failure; it fires on the next matching requests (count times). */
  injectError(error: InjectedError): void {
    this.injected.push({ ...error, remaining: error.count ?? 1 });
  }

  /** Produce requests wait (after their failures are injected) until releaseProduce(). */
  holdProduce(): void {
    this.produceGate ??= new Promise((resolve) => (this.openGate = resolve));
  }

  releaseProduce(): void {
    this.openGate?.();
    this.openGate = undefined;
    this.produceGate = undefined;
  }

  /** Drops whole batches below `offset` (retention), moving the log start offset. */
  deleteRecordsBefore(topic: string, partition: number, offset: number): void {
    const p = this.partition(topic, partition);
    p.batches = p.batches.filter((b) => b.nextOffset > offset);
    p.logStartOffset = Math.min(p.logEndOffset, Math.max(p.logStartOffset, p.batches[0]?.baseOffset ?? p.logEndOffset));
  }

  logEndOffset(topic: string, partition: number): number {
    return this.partition(topic, partition).logEndOffset;
  }

  /** Every stored batch of a partition, as stored (baseOffset assigned). */
  batches(topic: string, partition: number): Buffer[] {
    return this.partition(topic, partition).batches.map((b) => b.bytes);
  }

  /** Every record of a partition, decoded. */
  async records(topic: string, partition: number): Promise<DecodedRecord[]> {
    const out: DecodedRecord[] = [];
    for (const bytes of this.batches(topic, partition)) for (const batch of splitBatches(bytes)) out.push(...(await decodeRecords(batch)));
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Internals

  private partition(topic: string, partition: number): FakePartition {
    const p = this.topics.get(topic)?.partitions[partition];
    if (p === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition} does not exist`);
    return p;
  }

  private addPartitions(topic: FakeTopic, count: number): void {
    for (let i = topic.partitions.length; i < count; i++) {
      const leaderId = i % this.servers.length;
      topic.partitions.push({ leaderId, leaderEpoch: 0, partitionEpoch: 0, replicas: [leaderId], batches: [], logStartOffset: 0, logEndOffset: 0 });
    }
    this.metadataOffset++;
  }

  private takeInjected(api: FakeApi, brokerId: number, topic?: string, partition?: number, afterAppend = false): InjectedError | undefined {
    const index = this.injected.findIndex(
      (e) =>
        e.api === api &&
        (e.brokerId === undefined || e.brokerId === brokerId) &&
        (e.topic === undefined || topic === undefined || e.topic === topic) &&
        (e.partition === undefined || partition === undefined || e.partition === partition) &&
        (e.afterAppend ?? false) === afterAppend &&
        (partition === undefined ? e.errorCode === undefined : e.grpcStatus === undefined),
    );
    if (index < 0) return undefined;
    const found = this.injected[index]!;
    if (--found.remaining <= 0) this.injected.splice(index, 1);
    return found;
  }

  /** Whole-call failures (gRPC status) injected for `api`. */
  private maybeFailCall(api: FakeApi, brokerId: number): void {
    const found = this.takeInjected(api, brokerId);
    if (found?.grpcStatus !== undefined) throw new TransportError(found.grpcStatus, `injected failure of ${api} on broker ${brokerId}`);
  }

  private wakeFetchers(): void {
    const waiters = this.appendWaiters;
    this.appendWaiters = [];
    for (const wake of waiters) wake();
  }

  private waitForAppend(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, FETCH_WAIT_MS_MAX)));
      signal.addEventListener('abort', done, { once: true });
      this.appendWaiters.push(done);
    });
  }

  private leaderCheck(brokerId: number, topic: string, partition: number, currentLeaderEpoch: number | undefined): { p?: FakePartition; error?: ErrorCode } {
    const t = this.topics.get(topic);
    const p = t?.partitions[partition];
    if (p === undefined) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch < p.leaderEpoch) return { p, error: ErrorCode.FENCED_LEADER_EPOCH };
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch > p.leaderEpoch) return { p, error: ErrorCode.UNKNOWN_LEADER_EPOCH };
    if (p.leaderId !== brokerId) return { p, error: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    return { p };
  }

  private describe(topic: FakeTopic): TopicDescription {
    return {
      name: topic.name,
      topicId: topic.topicId,
      error: undefined,
      internal: false,
      partitions: topic.partitions.map(
        (p, partition): PartitionDescription => ({
          partition,
          errorCode: ErrorCode.NONE,
          leaderId: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          replicas: p.replicas,
          isr: p.replicas,
          offlineReplicas: [],
          addingReplicas: [],
          removingReplicas: [],
          offline: false,
          underReplicated: false,
          underMinIsr: false,
        }),
      ),
    };
  }

  private describeTopics(names: readonly string[]): TopicDescription[] {
    const wanted = names.length === 0 ? [...this.topics.keys()] : names;
    return wanted.map((name) => {
      const topic = this.topics.get(name);
      if (topic !== undefined) return this.describe(topic);
      return { name, topicId: '', internal: false, partitions: [], error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic ${name} does not exist`, retriable: true } };
    });
  }

  private metadataResponse(names: readonly string[]): MetadataResponse {
    return {
      clusterId: this.clusterId,
      metadataLeaderId: 0,
      brokers: this.ports.map((port, brokerId) => ({ brokerId, host: '127.0.0.1', port, status: BrokerStatus.ACTIVE, incarnationId: 'fake', brokerEpoch: 1, rack: undefined })),
      topics: this.describeTopics(names),
      metadataOffset: this.metadataOffset,
    };
  }

  private async produce(brokerId: number, request: ProduceRequest): Promise<ProduceResponse> {
    this.stats.produceRequests++;
    this.maybeFailCall('produce', brokerId);
    if (this.produceGate !== undefined) await this.produceGate;
    const partitions: ProducePartitionResponse[] = [];
    let failAfter: TransportError | undefined;
    for (const data of request.partitions) {
      this.stats.producePartitions++;
      const answer: ProducePartitionResponse = {
        topic: data.topic,
        partition: data.partition,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        baseOffset: -1,
        logAppendTimeMs: undefined,
        logStartOffset: -1,
        currentLeader: undefined,
        recordErrors: [],
      };
      partitions.push(answer);
      const injected = this.takeInjected('produce', brokerId, data.topic, data.partition);
      const { p, error } = this.leaderCheck(brokerId, data.topic, data.partition, data.currentLeaderEpoch);
      const code = injected?.errorCode ?? error;
      if (code !== undefined) {
        answer.errorCode = code;
        answer.errorMessage = injected !== undefined ? 'injected' : `broker ${brokerId} cannot write ${data.topic}-${data.partition}`;
        if (p !== undefined) answer.currentLeader = { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch };
        continue;
      }
      // The frame is reused by grpc-js: keep our own copy of the stored bytes.
      const records = Buffer.from(data.records);
      const stored: StoredBatch[] = [];
      let offset = p!.logEndOffset;
      try {
        for (const batch of splitBatches(records)) {
          batch.validate();
          batch.setBaseOffset(offset);
          batch.setPartitionLeaderEpoch(p!.leaderEpoch);
          stored.push({ baseOffset: offset, nextOffset: batch.nextOffset, maxTimestamp: batch.maxTimestamp, bytes: batch.bytes });
          offset = batch.nextOffset;
        }
        if (stored.length === 0) throw new RecordError('TRUNCATED', 'no batch in the request');
      } catch (err) {
        answer.errorCode = ErrorCode.CORRUPT_MESSAGE;
        answer.errorMessage = err instanceof Error ? err.message : String(err);
        continue;
      }
      answer.baseOffset = request.acks === 0 ? -1 : p!.logEndOffset;
      answer.logStartOffset = p!.logStartOffset;
      p!.batches.push(...stored);
      p!.logEndOffset = offset;
      const after = this.takeInjected('produce', brokerId, data.topic, data.partition, true);
      if (after?.errorCode !== undefined) {
        answer.errorCode = after.errorCode;
        answer.errorMessage = 'injected after append';
        answer.baseOffset = -1;
      }
      if (after?.grpcStatus !== undefined) failAfter = new TransportError(after.grpcStatus, 'injected failure after append');
    }
    this.wakeFetchers();
    if (failAfter !== undefined) throw failAfter;
    return { partitions, throttleTimeMs: 0 };
  }

  /** One partition's answer for a read at `fetchOffset`, at most `maxBytes` (the first batch always). */
  private read(brokerId: number, req: FetchPartition, maxBytes: number): FetchPartitionResponse {
    const answer: FetchPartitionResponse = {
      topic: req.topic,
      partition: req.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      currentLeader: undefined,
      records: Buffer.alloc(0),
    };
    const injected = this.takeInjected('fetch', brokerId, req.topic, req.partition);
    const { p, error } = this.leaderCheck(brokerId, req.topic, req.partition, req.currentLeaderEpoch);
    if (p !== undefined) {
      answer.highWatermark = p.logEndOffset;
      answer.lastStableOffset = p.logEndOffset;
      answer.logStartOffset = p.logStartOffset;
    }
    const code = injected?.errorCode ?? error;
    if (code !== undefined) {
      answer.errorCode = code;
      answer.errorMessage = injected !== undefined ? 'injected' : `broker ${brokerId} cannot serve ${req.topic}-${req.partition}`;
      if (p !== undefined) answer.currentLeader = { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch };
      return answer;
    }
    if (req.fetchOffset < p!.logStartOffset || req.fetchOffset > p!.logEndOffset) {
      answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      answer.errorMessage = `offset ${req.fetchOffset} is outside [${p!.logStartOffset}, ${p!.logEndOffset}]`;
      return answer;
    }
    const limit = Math.min(maxBytes, req.partitionMaxBytes > 0 ? req.partitionMaxBytes : maxBytes);
    const out: Buffer[] = [];
    let bytes = 0;
    // Batches are whole: start with the one holding fetchOffset.
    let index = lowerBound(p!.batches, req.fetchOffset);
    for (; index < p!.batches.length; index++) {
      const batch = p!.batches[index]!;
      if (out.length > 0 && bytes + batch.bytes.length > limit) break;
      out.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    answer.records = out.length === 1 ? out[0]! : Buffer.concat(out);
    return answer;
  }

  private async fetch(brokerId: number, request: { maxWaitMs: number; minBytes: number; maxBytes: number; partitions: FetchPartition[] }, context: CallContext): Promise<FetchPartitionResponse[]> {
    const deadline = Date.now() + Math.min(Math.max(0, request.maxWaitMs), FETCH_WAIT_MS_MAX);
    for (;;) {
      let remaining = request.maxBytes > 0 ? request.maxBytes : Number.MAX_SAFE_INTEGER;
      const answers = request.partitions.map((partition) => {
        const answer = this.read(brokerId, partition, Math.max(1, remaining));
        remaining -= answer.records.length;
        return answer;
      });
      const available = answers.reduce((sum, a) => sum + a.records.length, 0);
      const errors = answers.some((a) => a.errorCode !== ErrorCode.NONE);
      if (errors || available >= Math.max(1, request.minBytes) || Date.now() >= deadline || context.signal.aborted || this.stopped) return answers;
      await this.waitForAppend(deadline - Date.now(), context.signal);
    }
  }

  private implementation(brokerId: number): StreamBusImplementation {
    const listOffsets = (request: Parameters<StreamBusImplementation['listOffsets']>[0]): ListOffsetsPartitionResponse[] =>
      request.partitions.map((req) => {
        const answer: ListOffsetsPartitionResponse = { topic: req.topic, partition: req.partition, errorCode: ErrorCode.NONE, errorMessage: '', offset: -1, timestampMs: -1, leaderEpoch: -1, currentLeader: undefined };
        const injected = this.takeInjected('listOffsets', brokerId, req.topic, req.partition);
        const { p, error } = this.leaderCheck(brokerId, req.topic, req.partition, req.currentLeaderEpoch);
        const code = injected?.errorCode ?? error;
        if (code !== undefined) {
          answer.errorCode = code;
          if (p !== undefined) answer.currentLeader = { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch };
          return answer;
        }
        answer.leaderEpoch = p!.leaderEpoch;
        switch (req.spec) {
          case OffsetSpec.EARLIEST:
            answer.offset = p!.logStartOffset;
            break;
          case OffsetSpec.LATEST:
            answer.offset = p!.logEndOffset;
            break;
          case OffsetSpec.TIMESTAMP: {
            // Batch granularity is enough for a fake: the first batch whose max timestamp reaches it.
            const batch = p!.batches.find((b) => b.maxTimestamp >= req.timestampMs);
            answer.offset = batch?.baseOffset ?? -1;
            answer.timestampMs = batch?.maxTimestamp ?? -1;
            break;
          }
          case OffsetSpec.MAX_TIMESTAMP: {
            const batch = p!.batches.reduce<StoredBatch | undefined>((best, b) => (best === undefined || b.maxTimestamp > best.maxTimestamp ? b : best), undefined);
            answer.offset = batch === undefined ? -1 : batch.nextOffset - 1;
            answer.timestampMs = batch?.maxTimestamp ?? -1;
            break;
          }
          case OffsetSpec.UNSPECIFIED:
          default:
            answer.errorCode = ErrorCode.INVALID_REQUEST;
        }
        return answer;
      });
    const topicError = (code: ErrorCode, message: string): { code: ErrorCode; message: string; retriable: boolean } => ({ code, message, retriable: false });
    return {
      metadata: async (request) => {
        this.stats.metadataRequests++;
        this.maybeFailCall('metadata', brokerId);
        return this.metadataResponse(request.topics);
      },
      produce: async (request) => this.produce(brokerId, request),
      produceStream: (requests) => this.produceStream(brokerId, requests),
      fetch: async (request, context) => {
        this.stats.fetchRequests++;
        this.maybeFailCall('fetch', brokerId);
        return { partitions: await this.fetch(brokerId, request, context), throttleTimeMs: 0 };
      },
      fetchStream: (request, context) => this.streamFetch(brokerId, request, context),
      listOffsets: async (request) => {
        this.maybeFailCall('listOffsets', brokerId);
        return { partitions: listOffsets(request) };
      },
      createTopics: async (request) => {
        this.maybeFailCall('admin', brokerId);
        const topics = request.topics.map((t): CreatableTopicResult => {
          const count = t.assignments.length > 0 ? t.assignments.length : (t.numPartitions ?? this.defaultPartitions);
          const result: CreatableTopicResult = { name: t.name, topicId: '', error: undefined, numPartitions: count, replicationFactor: 1 };
          if (!/^[a-zA-Z0-9._-]{1,249}$/.test(t.name)) result.error = topicError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${t.name}`);
          else if (this.topics.has(t.name)) result.error = topicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${t.name} exists`);
          else if (!Number.isSafeInteger(count) || count <= 0 || count > 10_000) result.error = topicError(ErrorCode.INVALID_PARTITIONS, `bad partition count ${count}`);
          else if ((t.replicationFactor ?? 1) > this.servers.length) result.error = topicError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} > ${this.servers.length} brokers`);
          else if (!request.validateOnly) {
            this.createTopic(t.name, count, t.configs);
            result.topicId = this.topics.get(t.name)!.topicId;
          }
          return result;
        });
        return { topics };
      },
      deleteTopics: async (request) => {
        this.maybeFailCall('admin', brokerId);
        return {
          topics: request.names.map((name) => {
            if (!this.topics.delete(name)) return { name, error: topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`) };
            this.metadataOffset++;
            return { name, error: undefined };
          }),
        };
      },
      describeTopics: async (request) => {
        this.maybeFailCall('admin', brokerId);
        return { topics: this.describeTopics(request.names) };
      },
      createPartitions: async (request) => {
        this.maybeFailCall('admin', brokerId);
        return {
          topics: request.topics.map((t) => {
            const topic = this.topics.get(t.name);
            if (topic === undefined) return { name: t.name, error: topicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${t.name} does not exist`) };
            if (t.count <= topic.partitions.length || t.count > 10_000) return { name: t.name, error: topicError(ErrorCode.INVALID_PARTITIONS, `count ${t.count} must exceed ${topic.partitions.length}`) };
            if (!request.validateOnly) this.addPartitions(topic, t.count);
            return { name: t.name, error: undefined };
          }),
        };
      },
      describeConfigs: async (request) => {
        this.maybeFailCall('admin', brokerId);
        return {
          results: request.resources.map((r) => {
            const topic = r.type === ConfigResourceType.TOPIC ? this.topics.get(r.name) : undefined;
            if (topic === undefined) {
              return { type: r.type, name: r.name, configs: [], error: topicError(r.type === ConfigResourceType.TOPIC ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.RESOURCE_NOT_FOUND, `no resource ${r.name}`) };
            }
            const names = r.configNames.length > 0 ? r.configNames : [...new Set([...Object.keys(DEFAULT_TOPIC_CONFIGS), ...topic.configs.keys()])];
            return {
              type: r.type,
              name: r.name,
              error: undefined,
              configs: names.map((name) => {
                const own = topic.configs.get(name);
                return { name, value: own ?? DEFAULT_TOPIC_CONFIGS[name], source: own !== undefined ? ConfigSource.DYNAMIC_TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG, readOnly: false, sensitive: false };
              }),
            };
          }),
        };
      },
      alterConfigs: async (request) => {
        this.maybeFailCall('admin', brokerId);
        return {
          results: request.resources.map((r): AlterConfigsResult => {
            const topic = r.type === ConfigResourceType.TOPIC ? this.topics.get(r.name) : undefined;
            if (topic === undefined) return { type: r.type, name: r.name, error: topicError(ErrorCode.RESOURCE_NOT_FOUND, `no resource ${r.name}`) };
            for (const c of r.configs) {
              if (request.validateOnly) continue;
              if (c.op === AlterConfigOp.DELETE) topic.configs.delete(c.name);
              else if (c.value !== undefined) topic.configs.set(c.name, c.value);
            }
            this.metadataOffset++;
            return { type: r.type, name: r.name, error: undefined };
          }),
        };
      },
      describeCluster: async () => {
        this.maybeFailCall('admin', brokerId);
        const view = this.metadataResponse([]);
        return { clusterId: view.clusterId, metadataLeaderId: 0, metadataLeaderEpoch: 1, brokers: view.brokers, metadataOffset: view.metadataOffset };
      },
    };
  }

  private async *produceStream(brokerId: number, requests: AsyncIterable<ProduceStreamRequest>): AsyncGenerator<ProduceStreamResponse> {
    for await (const r of requests) {
      try {
        yield { correlationId: r.correlationId, response: await this.produce(brokerId, r.request ?? { acks: -1, timeoutMs: 0, partitions: [] }), error: undefined };
      } catch (err) {
        const domain = err instanceof StreamBusError ? err : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(err));
        yield { correlationId: r.correlationId, response: undefined, error: domain.toProto() };
      }
    }
  }

  private async *streamFetch(brokerId: number, request: FetchStreamRequest, context: CallContext): AsyncGenerator<FetchStreamResponse> {
    this.stats.fetchRequests++;
    this.maybeFailCall('fetch', brokerId);
    const subscribed = request.partitions.map((p) => ({ ...p }));
    while (!context.signal.aborted && !this.stopped && subscribed.length > 0) {
      const answers = await this.fetch(brokerId, { ...request, maxWaitMs: FETCH_WAIT_MS_MAX, partitions: subscribed }, context);
      const changed: FetchPartitionResponse[] = [];
      for (const answer of answers) {
        const sub = subscribed.find((s) => s.topic === answer.topic && s.partition === answer.partition)!;
        if (answer.errorCode !== ErrorCode.NONE) {
          subscribed.splice(subscribed.indexOf(sub), 1);
          changed.push(answer);
        } else if (answer.records.length > 0) {
          let position = sub.fetchOffset;
          for (const batch of splitBatches(answer.records)) position = batch.nextOffset;
          sub.fetchOffset = position;
          changed.push(answer);
        }
      }
      if (changed.length > 0) yield { partitions: changed, throttleTimeMs: 0 };
    }
  }
}

function lowerBound(batches: readonly StoredBatch[], offset: number): number {
  let lo = 0;
  let hi = batches.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (batches[mid]!.nextOffset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
