// The producer: records are appended to per-partition batches (RecordBatch v2 built as they
// arrive), and a sender drains ready batches into one Produce request per broker carrying
// every ready partition led by that broker. At most one request per partition is in flight,
// so retries can never reorder a partition (Kafka's guarantee without idempotence needs
// max.in.flight=1 per connection; muting per partition gives the same order while other
// partitions keep up to maxInFlightRequestsPerConnection requests going to the broker).
import {
  ErrorCode,
  type ProducePartitionData,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ProduceResponse,
  StreamBusError,
  isStreamBusError,
  isTransportError,
} from '@streambus/protocol';
import { BatchBuilder, type CompressionName, type Header, type RecordInput } from '@streambus/record';
import { BufferPool } from './buffer-pool.js';
import { type Cluster, type TopicInfo, isStaleMetadataCode } from './cluster.js';
import { ClientError, abortError, isRetriableError } from './errors.js';
import { partitionForKey } from './murmur2.js';
import { assertNonNegativeInteger, assertPositiveInteger, backoffMs, toBuffer, topicPartitionKey } from './util.js';

export type Acks = 0 | 1 | -1 | 'all';

export interface ProducerOptions {
  /** 0: no wait; 1: the leader appended; -1/'all': every ISR member has it. Default 'all'. */
  acks?: Acks;
  /** How long a non-full batch waits for more records, in ms. Default 5 (Kafka 4's default). */
  lingerMs?: number;
  /** Uncompressed bytes per batch (Kafka's batch.size). Default 16 384. */
  batchBytes?: number;
  /** Batch codec. Default 'none'. */
  compression?: CompressionName;
  /** Deadline of each Produce request, and the broker's replication wait, in ms. Default 30 000. */
  requestTimeoutMs?: number;
  /** Bound on the time from a batch's creation to its acknowledgement or failure, in ms. Default 120 000. */
  deliveryTimeoutMs?: number;
  /** Retries per batch for retriable errors (bounded by deliveryTimeoutMs). Default: unbounded. */
  retries?: number;
  /** First retry delay, in ms; doubles per attempt. Default 100. */
  retryBackoffMs?: number;
  /** Retry delay cap, in ms. Default 1 000. */
  retryBackoffMaxMs?: number;
  /** Concurrent Produce requests per broker (each carrying distinct partitions). Default 5. */
  maxInFlightRequestsPerConnection?: number;
  /** Bound on the bytes held for records not yet acknowledged. Default 32 MiB. */
  bufferMemoryBytes?: number;
  /** How long send() may wait for buffer memory or topic metadata, in ms. Default 60 000. */
  maxBlockMs?: number;
  /** Bound on one Produce request's record bytes (Kafka's max.request.size). Default 1 MiB. */
  maxRequestBytes?: number;
  /** Partition choice for records without key or partition. Default 'sticky' (KIP-480). */
  nullKeyPartitioner?: 'sticky' | 'round-robin';
}

export type MessageBytes = Buffer | Uint8Array | string | null;

export interface ProducerMessage {
  key?: MessageBytes;
  value: MessageBytes;
  /** An object (one header per entry) or a list (repeated keys allowed). */
  headers?: { readonly [key: string]: MessageBytes } | readonly { key: string; value: MessageBytes }[];
  /** Explicit partition; overrides the key partitioner. */
  partition?: number;
  /** Create time in ms; default now. */
  timestamp?: number;
}

export interface ProducerRecord {
  topic: string;
  messages: readonly ProducerMessage[];
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0 (the broker's offset is not waited for). */
  offset: number;
  /** Create time, or the broker's append time on LogAppendTime topics. */
  timestamp: number;
}

export interface SendOptions {
  /** Stops waiting: send() rejects with ABORTED. Records already batched may still be written. */
  signal?: AbortSignal;
}

export interface ProducerMetrics {
  bufferedBytes: number;
  bufferedBytesPeak: number;
  bufferMemoryBytes: number;
  requestsSent: number;
  batchesSent: number;
  retries: number;
}

interface ResolvedOptions {
  acks: 0 | 1 | -1;
  lingerMs: number;
  batchBytes: number;
  compression: CompressionName;
  requestTimeoutMs: number;
  deliveryTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  maxInFlightRequestsPerConnection: number;
  bufferMemoryBytes: number;
  maxBlockMs: number;
  maxRequestBytes: number;
  nullKeyPartitioner: 'sticky' | 'round-robin';
}

const COMPRESSIONS: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Per-record bytes beyond key, value and headers that a reservation accounts for (varints, attributes, deltas). */
const RECORD_OVERHEAD_BYTES = 32;

function resolveOptions(options: ProducerOptions, cluster: Cluster): ResolvedOptions {
  const acksIn = options.acks ?? 'all';
  if (acksIn !== 0 && acksIn !== 1 && acksIn !== -1 && acksIn !== 'all') throw new ClientError('INVALID_ARGUMENT', `acks must be 0, 1, -1 or 'all', got ${String(acksIn)}`);
  const compression = options.compression ?? 'none';
  if (!COMPRESSIONS.includes(compression)) throw new ClientError('INVALID_ARGUMENT', `compression must be one of ${COMPRESSIONS.join(', ')}`);
  const resolved: ResolvedOptions = {
    acks: acksIn === 'all' ? -1 : acksIn,
    lingerMs: options.lingerMs ?? 5,
    batchBytes: options.batchBytes ?? 16_384,
    compression,
    requestTimeoutMs: options.requestTimeoutMs ?? cluster.requestTimeoutMs,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
    retries: options.retries ?? Number.MAX_SAFE_INTEGER,
    retryBackoffMs: options.retryBackoffMs ?? cluster.retryBackoffMs,
    retryBackoffMaxMs: options.retryBackoffMaxMs ?? cluster.retryBackoffMaxMs,
    maxInFlightRequestsPerConnection: options.maxInFlightRequestsPerConnection ?? 5,
    bufferMemoryBytes: options.bufferMemoryBytes ?? 32 * 1024 * 1024,
    maxBlockMs: options.maxBlockMs ?? 60_000,
    maxRequestBytes: options.maxRequestBytes ?? 1024 * 1024,
    nullKeyPartitioner: options.nullKeyPartitioner ?? 'sticky',
  };
  assertNonNegativeInteger('lingerMs', resolved.lingerMs);
  assertPositiveInteger('batchBytes', resolved.batchBytes);
  assertPositiveInteger('requestTimeoutMs', resolved.requestTimeoutMs);
  assertPositiveInteger('deliveryTimeoutMs', resolved.deliveryTimeoutMs);
  assertNonNegativeInteger('retries', resolved.retries);
  assertNonNegativeInteger('retryBackoffMs', resolved.retryBackoffMs);
  assertNonNegativeInteger('retryBackoffMaxMs', resolved.retryBackoffMaxMs);
  assertPositiveInteger('maxInFlightRequestsPerConnection', resolved.maxInFlightRequestsPerConnection);
  assertPositiveInteger('bufferMemoryBytes', resolved.bufferMemoryBytes);
  assertNonNegativeInteger('maxBlockMs', resolved.maxBlockMs);
  assertPositiveInteger('maxRequestBytes', resolved.maxRequestBytes);
  if (resolved.nullKeyPartitioner !== 'sticky' && resolved.nullKeyPartitioner !== 'round-robin') {
    throw new ClientError('INVALID_ARGUMENT', `nullKeyPartitioner must be 'sticky' or 'round-robin'`);
  }
  return resolved;
}

interface PreparedInput {
  input: RecordInput;
  bytes: number;
  partition: number | undefined;
  key: Buffer | null;
}

/** One send() call: settles once every one of its records is acknowledged, or at the first failure. */
class SendState {
  remaining: number;
  settled = false;
  readonly results: RecordMetadata[];
  private waiters: (() => void)[] | undefined;

  /** Called once when the send settles (the producer's bookkeeping). */
  onSettled: (() => void) | undefined;

  constructor(
    count: number,
    private readonly resolveFn: (results: RecordMetadata[]) => void,
    private readonly rejectFn: (err: unknown) => void,
  ) {
    this.remaining = count;
    this.results = new Array<RecordMetadata>(count);
  }

  complete(index: number, metadata: RecordMetadata): void {
    if (this.settled) return;
    this.results[index] = metadata;
    if (--this.remaining === 0) this.settle(() => this.resolveFn(this.results));
  }

  fail(err: unknown): void {
    if (!this.settled) this.settle(() => this.rejectFn(err));
  }

  /** A promise that resolves (never rejects) when this send settles; used by flush(). */
  settledPromise(): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  private settle(action: () => void): void {
    this.settled = true;
    action();
    this.onSettled?.();
    for (const waiter of this.waiters ?? []) waiter();
    this.waiters = undefined;
  }
}

interface Slot {
  send: SendState;
  index: number;
  timestamp: number;
}

class ProducerBatch {
  readonly builder: BatchBuilder;
  readonly slots: Slot[] = [];
  reservedBytes = 0;
  /** No more appends: full, or taken by the sender. */
  closed = false;
  attempts = 0;
  retryAtMs = 0;
  private sealedBytes: Promise<Buffer> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdMs: number,
    options: ResolvedOptions,
  ) {
    this.builder = new BatchBuilder({ compression: options.compression, batchBytesMax: options.batchBytes });
  }

  /** Sealed once: a retry resends the very same bytes. */
  seal(): Promise<Buffer> {
    this.closed = true;
    this.sealedBytes ??= this.builder.seal();
    return this.sealedBytes;
  }
}

class PartitionQueue {
  readonly batches: ProducerBatch[] = [];
  inFlight = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

export class Producer {
  private readonly options: ResolvedOptions;
  private readonly pool: BufferPool;
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly inFlightPerBroker = new Map<number, number>();
  private readonly outstanding = new Set<SendState>();
  private readonly sticky = new Map<string, ProducerBatch | number>();
  private readonly roundRobin = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  private immediate: NodeJS.Immediate | undefined;
  private flushing = 0;
  private closing = false;
  private closed = false;
  private metadataRefreshing = false;
  private readonly stats = { requestsSent: 0, batchesSent: 0, retries: 0 };

  constructor(
    private readonly cluster: Cluster,
    options: ProducerOptions = {},
    private readonly onClosed?: (producer: Producer) => void,
  ) {
    this.options = resolveOptions(options, cluster);
    this.pool = new BufferPool(this.options.bufferMemoryBytes);
  }

  /**
   * Appends the messages to their partitions' batches and resolves, in message order, with
   * each record's offset once the broker acknowledged it (per `acks`). Waits while
   * bufferMemoryBytes is used up (backpressure) for at most maxBlockMs.
   */
  send(record: ProducerRecord, options: SendOptions = {}): Promise<RecordMetadata[]> {
    if (this.closing) return Promise.reject(new ClientError('CLOSED', 'send() after close()'));
    if (typeof record !== 'object' || record === null || typeof record.topic !== 'string' || record.topic.length === 0 || !Array.isArray(record.messages)) {
      return Promise.reject(new ClientError('INVALID_ARGUMENT', 'send() takes { topic: string, messages: [...] }'));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (record.messages.length === 0) return Promise.resolve([]);
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const state = new SendState(record.messages.length, resolve, reject);
      this.outstanding.add(state);
      if (signal === undefined) {
        state.onSettled = () => this.outstanding.delete(state);
      } else {
        const onAbort = (): void => state.fail(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        state.onSettled = () => {
          this.outstanding.delete(state);
          signal.removeEventListener('abort', onAbort);
        };
      }
      try {
        this.enqueue(record, state, signal);
      } catch (err) {
        state.fail(err);
      }
    });
  }

  /**
   * Appends synchronously while the topic is known and memory is free (the common case,
   * and the cheap one); the first wait moves the rest to enqueueSlow.
   */
  private enqueue(record: ProducerRecord, state: SendState, signal: AbortSignal | undefined): void {
    const inputs = record.messages.map((message) => this.toInput(message));
    const topic = this.cluster.topic(record.topic);
    if (topic === undefined) {
      this.enqueueSlow(record.topic, inputs, 0, state, signal).catch((err: unknown) => state.fail(err));
      return;
    }
    for (let index = 0; index < inputs.length; index++) {
      const { input, bytes, partition, key } = inputs[index]!;
      if (!this.pool.tryReserve(bytes)) {
        this.enqueueSlow(record.topic, inputs, index, state, signal).catch((err: unknown) => state.fail(err));
        return;
      }
      this.append(topic.name, this.choosePartition(topic, partition, key), input, bytes, { send: state, index, timestamp: input.timestamp! });
    }
  }

  private async enqueueSlow(topicName: string, inputs: PreparedInput[], from: number, state: SendState, signal: AbortSignal | undefined): Promise<void> {
    const deadlineMs = Date.now() + this.options.maxBlockMs;
    let topic = this.cluster.topic(topicName);
    if (topic === undefined) topic = await this.cluster.waitForTopic(topicName, deadlineMs, signal);
    for (let index = from; index < inputs.length; index++) {
      if (state.settled) return;
      const { input, bytes, partition, key } = inputs[index]!;
      if (!this.pool.tryReserve(bytes)) await this.pool.reserve(bytes, deadlineMs, signal);
      if (state.settled || this.closed) {
        this.pool.release(bytes);
        if (this.closed) state.fail(new ClientError('CLOSED', 'the producer closed before the record was batched'));
        return;
      }
      // The topic may have grown partitions while we waited.
      topic = this.cluster.topic(topicName) ?? topic;
      const target = this.choosePartition(topic, partition, key);
      this.append(topic.name, target, input, bytes, { send: state, index, timestamp: input.timestamp! });
    }
  }

  private toInput(message: ProducerMessage): PreparedInput {
    if (typeof message !== 'object' || message === null) throw new ClientError('INVALID_ARGUMENT', 'each message must be an object');
    const key = toBuffer(message.key, 'key');
    const value = toBuffer(message.value, 'value');
    const headers: Header[] = [];
    let bytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
    if (message.headers !== undefined) {
      const entries = Array.isArray(message.headers)
        ? (message.headers as readonly { key: string; value: MessageBytes }[]).map((h) => [h.key, h.value] as const)
        : Object.entries(message.headers as { readonly [key: string]: MessageBytes });
      for (const [headerKey, headerValue] of entries) {
        if (typeof headerKey !== 'string') throw new ClientError('INVALID_ARGUMENT', 'header keys must be strings');
        const headerBytes = toBuffer(headerValue, `header ${headerKey}`);
        headers.push({ key: headerKey, value: headerBytes });
        bytes += Buffer.byteLength(headerKey) + (headerBytes?.length ?? 0) + 10;
      }
    }
    const timestamp = message.timestamp ?? Date.now();
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new ClientError('INVALID_ARGUMENT', `timestamp must be a non-negative safe integer, got ${String(message.timestamp)}`);
    if (message.partition !== undefined) assertNonNegativeInteger('partition', message.partition);
    if (bytes > this.options.maxRequestBytes) {
      throw new ClientError('RECORD_TOO_LARGE', `a record of ~${bytes} bytes exceeds maxRequestBytes ${this.options.maxRequestBytes}`);
    }
    if (bytes > this.options.bufferMemoryBytes) {
      throw new ClientError('RECORD_TOO_LARGE', `a record of ~${bytes} bytes exceeds bufferMemoryBytes ${this.options.bufferMemoryBytes}`);
    }
    return { input: { key, value, headers, timestamp }, bytes, partition: message.partition, key };
  }

  private choosePartition(topic: TopicInfo, explicit: number | undefined, key: Buffer | null): number {
    const count = topic.partitions.length;
    if (explicit !== undefined) {
      if (explicit >= count) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${explicit} of ${topic.name} does not exist (${count} partitions)`);
      return explicit;
    }
    if (key !== null) return partitionForKey(key, count);
    if (this.options.nullKeyPartitioner === 'round-robin') {
      const next = this.roundRobin.get(topic.name) ?? Math.floor(this.cluster.random() * count);
      this.roundRobin.set(topic.name, next + 1);
      return next % count;
    }
    // KIP-480: stick to one partition until its batch closes, then move to another one.
    const current = this.sticky.get(topic.name);
    if (current instanceof ProducerBatch && !current.closed && current.partition < count) return current.partition;
    const previous = current instanceof ProducerBatch ? current.partition : current;
    let next = Math.floor(this.cluster.random() * count);
    if (count > 1 && next === previous) next = (next + 1) % count;
    this.sticky.set(topic.name, next);
    return next;
  }

  private append(topic: string, partition: number, input: RecordInput, bytes: number, slot: Slot): void {
    const key = topicPartitionKey(topic, partition);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      this.queues.set(key, queue);
    }
    let batch = queue.batches.at(-1);
    let full = false;
    if (batch === undefined || batch.closed || !batch.builder.tryAppend(input)) {
      if (batch !== undefined && !batch.closed) {
        batch.closed = true;
        full = true;
      }
      batch = new ProducerBatch(topic, partition, Date.now(), this.options);
      queue.batches.push(batch);
      if (!batch.builder.tryAppend(input)) throw new Error('producer invariant: an empty batch refused its first record');
    }
    batch.slots.push(slot);
    batch.reservedBytes += bytes;
    const sticky = this.sticky.get(topic);
    if (typeof sticky === 'number' && sticky === partition) this.sticky.set(topic, batch);
    this.schedule(full || this.pool.waiting > 0 || this.flushing > 0 ? 0 : this.options.lingerMs);
  }

  /** Runs the sender after `delayMs` unless it is already due sooner. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) {
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.drain();
      });
      return;
    }
    const atMs = Date.now() + delayMs;
    if (this.timer !== undefined && this.timerAtMs <= atMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAtMs = Infinity;
      this.drain();
    }, delayMs);
  }

  /** The sender: expires old batches, groups ready partitions by leader and sends. */
  private drain(): void {
    if (this.closed) return;
    const now = Date.now();
    const urgent = this.flushing > 0 || this.closing || this.pool.waiting > 0;
    const ready = new Map<number, PartitionQueue[]>();
    let nextDelayMs = Infinity;
    let needMetadata = false;
    for (const queue of this.queues.values()) {
      if (queue.inFlight) continue;
      this.expire(queue, now);
      const first = queue.batches[0];
      if (first === undefined) {
        this.queues.delete(topicPartitionKey(queue.topic, queue.partition));
        continue;
      }
      if (first.retryAtMs > now) {
        nextDelayMs = Math.min(nextDelayMs, first.retryAtMs - now);
        continue;
      }
      const lingerDueMs = first.createdMs + this.options.lingerMs - now;
      if (!(urgent || first.closed || queue.batches.length > 1 || lingerDueMs <= 0)) {
        nextDelayMs = Math.min(nextDelayMs, lingerDueMs);
        continue;
      }
      const leaderId = this.cluster.partitionInfo(queue.topic, queue.partition)?.leaderId;
      if (leaderId === undefined || this.cluster.brokerClient(leaderId) === undefined) {
        needMetadata = true;
        nextDelayMs = Math.min(nextDelayMs, Math.max(1, this.options.retryBackoffMs));
        continue;
      }
      const list = ready.get(leaderId);
      if (list === undefined) ready.set(leaderId, [queue]);
      else list.push(queue);
      nextDelayMs = Math.min(nextDelayMs, first.createdMs + this.options.deliveryTimeoutMs - now);
    }
    for (const [brokerId, queues] of ready) {
      let index = 0;
      while (index < queues.length && (this.inFlightPerBroker.get(brokerId) ?? 0) < this.options.maxInFlightRequestsPerConnection) {
        const taken: { queue: PartitionQueue; batches: ProducerBatch[] }[] = [];
        let bytes = 0;
        for (; index < queues.length; index++) {
          const queue = queues[index]!;
          const batches: ProducerBatch[] = [];
          for (const batch of queue.batches) {
            const size = batch.builder.estimatedBytes;
            if (bytes > 0 && bytes + size > this.options.maxRequestBytes) break;
            bytes += size;
            batches.push(batch);
          }
          if (batches.length === 0) break;
          queue.batches.splice(0, batches.length);
          queue.inFlight = true;
          taken.push({ queue, batches });
          if (batches.length < queue.batches.length + batches.length && queue.batches.length > 0) {
            index++;
            break;
          }
        }
        if (taken.length === 0) break;
        this.inFlightPerBroker.set(brokerId, (this.inFlightPerBroker.get(brokerId) ?? 0) + 1);
        void this.sendRequest(brokerId, taken);
      }
    }
    if (needMetadata) this.refreshMetadata();
    if (Number.isFinite(nextDelayMs)) this.schedule(Math.max(1, nextDelayMs));
  }

  private refreshMetadata(): void {
    if (this.metadataRefreshing) return;
    this.metadataRefreshing = true;
    this.cluster
      .refreshAtMost(this.options.retryBackoffMs)
      .catch(() => undefined)
      .finally(() => {
        this.metadataRefreshing = false;
        this.schedule(0);
      });
  }

  private expire(queue: PartitionQueue, now: number): void {
    while (queue.batches.length > 0 && queue.batches[0]!.createdMs + this.options.deliveryTimeoutMs <= now) {
      const batch = queue.batches.shift()!;
      this.failBatch(batch, new ClientError('DELIVERY_TIMEOUT', `batch for ${batch.topic}-${batch.partition} expired after deliveryTimeoutMs ${this.options.deliveryTimeoutMs}`));
    }
  }

  private async sendRequest(brokerId: number, taken: { queue: PartitionQueue; batches: ProducerBatch[] }[]): Promise<void> {
    let response: ProduceResponse | undefined;
    let requestError: unknown;
    const sealed: Buffer[][] = [];
    try {
      for (const { batches } of taken) sealed.push(await Promise.all(batches.map((batch) => batch.seal())));
      const partitions: ProducePartitionData[] = taken.map(({ queue }, i) => {
        const records = sealed[i]!;
        return {
          topic: queue.topic,
          partition: queue.partition,
          currentLeaderEpoch: this.cluster.partitionInfo(queue.topic, queue.partition)?.leaderEpoch,
          records: records.length === 1 ? records[0]! : Buffer.concat(records),
        };
      });
      const request: ProduceRequest = { acks: this.options.acks, timeoutMs: this.options.requestTimeoutMs, partitions };
      const client = this.cluster.brokerClient(brokerId);
      if (client === undefined) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${brokerId} left the metadata`);
      this.stats.requestsSent++;
      for (const { batches } of taken) this.stats.batchesSent += batches.length;
      response = await client.produce(request, { timeoutMs: this.options.requestTimeoutMs });
    } catch (err) {
      requestError = err;
    }
    this.inFlightPerBroker.set(brokerId, (this.inFlightPerBroker.get(brokerId) ?? 1) - 1);
    let refresh = false;
    const byKey = new Map<string, ProducePartitionResponse>();
    for (const partition of response?.partitions ?? []) byKey.set(topicPartitionKey(partition.topic, partition.partition), partition);
    for (const { queue, batches } of taken) {
      queue.inFlight = false;
      if (requestError !== undefined) {
        if (isTransportError(requestError) || (isStreamBusError(requestError) && isStaleMetadataCode(requestError.errorCode))) refresh = true;
        this.retryOrFail(queue, batches, requestError);
        continue;
      }
      const answer = byKey.get(topicPartitionKey(queue.topic, queue.partition));
      if (answer === undefined) {
        this.retryOrFail(queue, batches, new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `the Produce response omitted ${queue.topic}-${queue.partition}`));
        continue;
      }
      if (answer.errorCode === ErrorCode.NONE) {
        this.completeBatches(batches, answer);
        continue;
      }
      const err = new StreamBusError(answer.errorCode, answer.errorMessage || `produce to ${queue.topic}-${queue.partition} failed`, {
        leaderId: answer.currentLeader?.leaderId,
        leaderEpoch: answer.currentLeader?.leaderEpoch,
      });
      if (isStaleMetadataCode(answer.errorCode)) {
        this.cluster.applyLeaderHint(queue.topic, queue.partition, answer.currentLeader);
        refresh = true;
      }
      this.retryOrFail(queue, batches, err);
    }
    if (refresh) this.refreshMetadata();
    this.schedule(0);
  }

  private completeBatches(batches: ProducerBatch[], answer: ProducePartitionResponse): void {
    let offset = answer.baseOffset;
    for (const batch of batches) {
      for (let i = 0; i < batch.slots.length; i++) {
        const slot = batch.slots[i]!;
        slot.send.complete(slot.index, {
          topic: batch.topic,
          partition: batch.partition,
          offset: this.options.acks === 0 ? -1 : offset + i,
          timestamp: answer.logAppendTimeMs ?? slot.timestamp,
        });
      }
      offset += batch.slots.length;
      this.pool.release(batch.reservedBytes);
    }
  }

  private retryOrFail(queue: PartitionQueue, batches: ProducerBatch[], err: unknown): void {
    const now = Date.now();
    const retriable = isRetriableError(err) && !this.closed;
    const keep: ProducerBatch[] = [];
    for (const batch of batches) {
      batch.attempts++;
      const delayMs = backoffMs(batch.attempts - 1, this.options.retryBackoffMs, this.options.retryBackoffMaxMs, this.cluster.random);
      if (!retriable || batch.attempts > this.options.retries) {
        this.failBatch(batch, err);
      } else if (now + delayMs >= batch.createdMs + this.options.deliveryTimeoutMs) {
        this.failBatch(batch, new ClientError('DELIVERY_TIMEOUT', `batch for ${batch.topic}-${batch.partition} not acknowledged within deliveryTimeoutMs`, { cause: err }));
      } else {
        batch.retryAtMs = now + delayMs;
        keep.push(batch);
      }
    }
    if (keep.length > 0) {
      this.stats.retries += keep.length;
      // Back at the head: the partition's order is unchanged.
      queue.batches.unshift(...keep);
    }
  }

  private failBatch(batch: ProducerBatch, err: unknown): void {
    batch.closed = true;
    for (const slot of batch.slots) slot.send.fail(err);
    this.pool.release(batch.reservedBytes);
  }

  /** Sends everything batched so far at once and waits until each earlier send() settled. */
  async flush(options: { signal?: AbortSignal } = {}): Promise<void> {
    const pending = [...this.outstanding].map((state) => state.settledPromise());
    if (pending.length === 0) return;
    this.flushing++;
    this.schedule(0);
    try {
      const all = Promise.all(pending).then(() => undefined);
      const signal = options.signal;
      if (signal === undefined) return await all;
      if (signal.aborted) throw abortError(signal);
      let onAbort: (() => void) | undefined;
      try {
        await Promise.race([
          all,
          new Promise<never>((_, reject) => {
            onAbort = () => reject(abortError(signal));
            signal.addEventListener('abort', onAbort, { once: true });
          }),
        ]);
      } finally {
        if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      }
    } finally {
      this.flushing--;
    }
  }

  /**
   * Refuses new sends, delivers everything already sent (flush), then stops. With
   * `timeoutMs`, records still undelivered after it fail with CLOSED.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    const timeoutMs = options.timeoutMs ?? Infinity;
    const flushed = this.flush();
    if (Number.isFinite(timeoutMs)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([flushed, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))))]);
      clearTimeout(timer);
    } else {
      await flushed;
    }
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    const closedError = new ClientError('CLOSED', 'the producer closed before the record was acknowledged');
    this.pool.failAll(closedError);
    for (const queue of this.queues.values()) for (const batch of queue.batches.splice(0)) this.failBatch(batch, closedError);
    for (const state of this.outstanding) state.fail(closedError);
    this.onClosed?.(this);
  }

  metrics(): ProducerMetrics {
    return {
      bufferedBytes: this.pool.usedBytes,
      bufferedBytesPeak: this.pool.peakBytes,
      bufferMemoryBytes: this.pool.capacityBytes,
      ...this.stats,
    };
  }
}
