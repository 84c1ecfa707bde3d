// The consumer (explicit assignment): one fetch loop per leader broker fills a bounded
// per-partition buffer (prefetch); readers take records from it through an async iterator
// or run({ eachBatch }). Positions, pause/resume and seek are the consumer's own state;
// nothing is committed to the broker (consumer groups come later).
import {
  ErrorCode,
  type FetchPartition,
  type FetchPartitionResponse,
  IsolationLevel,
  OffsetSpec,
  StreamBusError,
  isStreamBusError,
  isTransportError,
} from '@streambus/protocol';
import { BatchView, type Header, RecordError, decodeRecords } from '@streambus/record';
import { type Cluster, isStaleMetadataCode } from './cluster.js';
import { ClientError, abortError } from './errors.js';
import { assertNonNegativeInteger, assertPositiveInteger, backoffMs, sleep, topicPartitionKey } from './util.js';

export type OffsetSpecInput = number | 'earliest' | 'latest' | { timestamp: number };

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface Assignment extends TopicPartition {
  /** Where to start; default: autoOffsetReset ('earliest' or 'latest'). */
  offset?: OffsetSpecInput;
}

export interface ConsumerOptions {
  /** The broker answers a fetch once this many bytes are available. Default 1. */
  fetchMinBytes?: number;
  /** Bound on one fetch response, in bytes. Default 50 MiB (Kafka's). */
  fetchMaxBytes?: number;
  /** Longest a fetch waits for fetchMinBytes, in ms. Default 500. */
  fetchMaxWaitMs?: number;
  /** Bound on one partition's bytes per fetch, and on its prefetch buffer. Default 1 MiB. */
  maxPartitionFetchBytes?: number;
  /** Bound on the bytes buffered over all partitions; fetching pauses above it. Default 64 MiB. */
  prefetchBytesMax?: number;
  /** Where to go when the position is out of range or unset. Default 'latest' (Kafka's). */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  /** 'poll': unary long-poll Fetch; 'stream': FetchStream pushes (lowest tail latency). Default 'poll'. */
  fetchMode?: 'poll' | 'stream';
  isolationLevel?: 'read_uncommitted' | 'read_committed';
  requestTimeoutMs?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
}

export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
}

export interface ConsumerBatch extends TopicPartition {
  records: ConsumerRecord[];
  /** The partition's high watermark when the records were fetched. */
  highWatermark: number;
  /** highWatermark − position after this batch. */
  lag: number;
}

export interface PartitionLag extends TopicPartition {
  position: number | undefined;
  highWatermark: number | undefined;
  lag: number | undefined;
  paused: boolean;
}

interface Chunk {
  records: ConsumerRecord[];
  next: number;
  /** Offset after the fetched batches (position once the chunk is consumed). */
  nextOffset: number;
  bytes: number;
  highWatermark: number;
}

class PartitionState {
  position: number | undefined;
  fetchOffset: number | undefined;
  reset: OffsetSpecInput | undefined;
  resetting = false;
  highWatermark: number | undefined;
  paused = false;
  /** Bumped on seek: fetch results for an older generation are dropped. */
  generation = 0;
  readonly chunks: Chunk[] = [];
  bufferedBytes = 0;
  inFlight = false;
  retryAtMs = 0;
  attempts = 0;
  /** A non-retriable failure, surfaced once to the reader; the partition stops until seek. */
  error: Error | undefined;
  stopped = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

interface BrokerLoop {
  abort: AbortController | undefined;
  subscribed: Set<string>;
}

export class Consumer {
  private readonly fetchMinBytes: number;
  private readonly fetchMaxBytes: number;
  private readonly fetchMaxWaitMs: number;
  private readonly maxPartitionFetchBytes: number;
  private readonly prefetchBytesMax: number;
  private readonly autoOffsetReset: 'earliest' | 'latest' | 'none';
  private readonly fetchMode: 'poll' | 'stream';
  private readonly isolationLevel: IsolationLevel;
  private readonly requestTimeoutMs: number;
  private readonly retryBackoffMs: number;
  private readonly retryBackoffMaxMs: number;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly loops = new Map<number, BrokerLoop>();
  private readonly running = new Set<Promise<void>>();
  private readonly closeController = new AbortController();
  private waiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private bufferedBytes = 0;
  private bufferedBytesPeak = 0;
  private readCursor = 0;
  private closed = false;
  private metadataRefreshing = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: Cluster,
    options: ConsumerOptions = {},
    private readonly onClosed?: (consumer: Consumer) => void,
  ) {
    this.fetchMinBytes = options.fetchMinBytes ?? 1;
    this.fetchMaxBytes = options.fetchMaxBytes ?? 50 * 1024 * 1024;
    this.fetchMaxWaitMs = options.fetchMaxWaitMs ?? 500;
    this.maxPartitionFetchBytes = options.maxPartitionFetchBytes ?? 1024 * 1024;
    this.prefetchBytesMax = options.prefetchBytesMax ?? 64 * 1024 * 1024;
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    this.fetchMode = options.fetchMode ?? 'poll';
    this.isolationLevel = options.isolationLevel === 'read_committed' ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED;
    this.requestTimeoutMs = options.requestTimeoutMs ?? cluster.requestTimeoutMs;
    this.retryBackoffMs = options.retryBackoffMs ?? cluster.retryBackoffMs;
    this.retryBackoffMaxMs = options.retryBackoffMaxMs ?? cluster.retryBackoffMaxMs;
    assertNonNegativeInteger('fetchMinBytes', this.fetchMinBytes);
    assertPositiveInteger('fetchMaxBytes', this.fetchMaxBytes);
    assertNonNegativeInteger('fetchMaxWaitMs', this.fetchMaxWaitMs);
    assertPositiveInteger('maxPartitionFetchBytes', this.maxPartitionFetchBytes);
    assertPositiveInteger('prefetchBytesMax', this.prefetchBytesMax);
    if (!['earliest', 'latest', 'none'].includes(this.autoOffsetReset)) throw new ClientError('INVALID_ARGUMENT', `autoOffsetReset must be 'earliest', 'latest' or 'none'`);
    if (this.fetchMode !== 'poll' && this.fetchMode !== 'stream') throw new ClientError('INVALID_ARGUMENT', `fetchMode must be 'poll' or 'stream'`);
  }

  /** Replaces the assignment (Kafka's assign): partitions not listed are dropped with their buffers. */
  assign(assignments: readonly Assignment[]): void {
    this.assertOpen();
    const next = new Map<string, Assignment>();
    for (const a of assignments) {
      if (typeof a?.topic !== 'string' || a.topic.length === 0) throw new ClientError('INVALID_ARGUMENT', 'assignment topic must be a non-empty string');
      assertNonNegativeInteger('partition', a.partition);
      if (a.offset !== undefined) validateSpec(a.offset);
      next.set(topicPartitionKey(a.topic, a.partition), a);
    }
    for (const [key, state] of this.partitions) {
      if (!next.has(key)) {
        this.clearBuffer(state);
        state.generation++;
        this.partitions.delete(key);
      }
    }
    for (const [key, a] of next) {
      this.cluster.addInterest(a.topic);
      let state = this.partitions.get(key);
      if (state === undefined) {
        state = new PartitionState(a.topic, a.partition);
        this.partitions.set(key, state);
        this.startFrom(state, a.offset);
      } else if (a.offset !== undefined) {
        this.startFrom(state, a.offset);
      }
    }
    this.kick(true);
  }

  assignment(): TopicPartition[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Moves the position; buffered records and fetches in flight for the old position are dropped. */
  seek(tp: TopicPartition, offset: OffsetSpecInput): void {
    this.assertOpen();
    validateSpec(offset);
    this.startFrom(this.stateOf(tp), offset);
    this.kick(true);
  }

  pause(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      this.stateOf(tp).paused = true;
      // A stream must not keep filling a buffer nobody reads: resubscribe without it.
      if (this.fetchMode === 'stream') this.abortLoopsFor(topicPartitionKey(tp.topic, tp.partition));
    }
  }

  resume(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.stateOf(tp).paused = false;
    this.kick(true);
    this.notify();
  }

  paused(): TopicPartition[] {
    return [...this.partitions.values()].filter((s) => s.paused).map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The offset of the next record this consumer will hand out, once known. */
  position(tp: TopicPartition): number | undefined {
    return this.stateOf(tp).position;
  }

  /** highWatermark − position, from the latest fetch of the partition. */
  lag(tp: TopicPartition): number | undefined {
    const state = this.stateOf(tp);
    return state.highWatermark === undefined || state.position === undefined ? undefined : Math.max(0, state.highWatermark - state.position);
  }

  lags(): PartitionLag[] {
    return [...this.partitions.values()].map((s) => ({
      topic: s.topic,
      partition: s.partition,
      position: s.position,
      highWatermark: s.highWatermark,
      lag: this.lag(s),
      paused: s.paused,
    }));
  }

  /**
   * Records one at a time, across partitions, until close() (then it ends) or the signal
   * fires (then it throws ABORTED). A partition failure (e.g. OFFSET_OUT_OF_RANGE with
   * autoOffsetReset 'none') is thrown once; that partition stays stopped until seek.
   */
  async *records(options: { signal?: AbortSignal } = {}): AsyncGenerator<ConsumerRecord, void, undefined> {
    for (;;) {
      const taken = await this.nextChunk(options.signal);
      if (taken === undefined) return;
      const { state, chunk, generation } = taken;
      while (chunk.next < chunk.records.length) {
        if (state.generation !== generation || state.paused) break;
        const record = chunk.records[chunk.next++]!;
        state.position = record.offset + 1;
        if (chunk.next === chunk.records.length) this.finishChunk(state, chunk);
        yield record;
      }
      if (chunk.records.length === 0 && state.generation === generation) this.finishChunk(state, chunk);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord, void, undefined> {
    return this.records();
  }

  /**
   * Hands out one partition's fetched records at a time; the next batch is taken only once
   * `eachBatch` resolved. Resolves at close() or when the signal fires; rejects when
   * eachBatch throws or a partition fails.
   */
  async run(options: { eachBatch: (batch: ConsumerBatch) => Promise<void> | void; signal?: AbortSignal }): Promise<void> {
    const signal = options.signal;
    for (;;) {
      let taken: Awaited<ReturnType<Consumer['nextChunk']>>;
      try {
        taken = await this.nextChunk(signal);
      } catch (err) {
        if (signal?.aborted && err instanceof ClientError && err.code === 'ABORTED') return;
        throw err;
      }
      if (taken === undefined) return;
      const { state, chunk } = taken;
      const records = chunk.next === 0 ? chunk.records : chunk.records.slice(chunk.next);
      chunk.next = chunk.records.length;
      this.finishChunk(state, chunk);
      if (records.length === 0) continue;
      await options.eachBatch({
        topic: state.topic,
        partition: state.partition,
        records,
        highWatermark: chunk.highWatermark,
        lag: Math.max(0, chunk.highWatermark - (state.position ?? chunk.nextOffset)),
      });
    }
  }

  /** Prefetch buffer use, in bytes of fetched batches (now and the highest so far). */
  metrics(): { bufferedBytes: number; bufferedBytesPeak: number; prefetchBytesMax: number } {
    return { bufferedBytes: this.bufferedBytes, bufferedBytesPeak: this.bufferedBytesPeak, prefetchBytesMax: this.prefetchBytesMax };
  }

  /** Stops fetching; iterators end and run() resolves. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort(new ClientError('CLOSED', 'the consumer closed'));
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.notify();
    await Promise.allSettled([...this.running]);
    for (const state of this.partitions.values()) this.clearBuffer(state);
    this.onClosed?.(this);
  }

  // -------------------------------------------------------------------------------------
  // Reader side

  private async nextChunk(signal: AbortSignal | undefined): Promise<{ state: PartitionState; chunk: Chunk; generation: number } | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      if (signal?.aborted) throw abortError(signal);
      const states = [...this.partitions.values()];
      for (let i = 0; i < states.length; i++) {
        const state = states[(this.readCursor + i) % states.length]!;
        if (state.error !== undefined) {
          const err = state.error;
          state.error = undefined;
          throw err;
        }
        if (state.paused) continue;
        const chunk = state.chunks[0];
        if (chunk !== undefined) {
          this.readCursor = (this.readCursor + i + 1) % Math.max(1, states.length);
          return { state, chunk, generation: state.generation };
        }
      }
      await this.waitForData(signal);
    }
  }

  private finishChunk(state: PartitionState, chunk: Chunk): void {
    if (state.chunks[0] !== chunk) return;
    state.chunks.shift();
    state.bufferedBytes -= chunk.bytes;
    this.bufferedBytes -= chunk.bytes;
    if (state.position === undefined || state.position < chunk.nextOffset) state.position = chunk.nextOffset;
    this.notifySpace();
    this.kick(false);
  }

  private waitForData(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(abortError(signal!));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  // -------------------------------------------------------------------------------------
  // Fetch side

  private startFrom(state: PartitionState, offset: OffsetSpecInput | undefined): void {
    this.clearBuffer(state);
    state.generation++;
    state.error = undefined;
    state.stopped = false;
    state.retryAtMs = 0;
    state.attempts = 0;
    if (typeof offset === 'number') {
      state.position = offset;
      state.fetchOffset = offset;
      state.reset = undefined;
      return;
    }
    state.position = undefined;
    state.fetchOffset = undefined;
    if (offset === undefined && this.autoOffsetReset === 'none') {
      state.error = new ClientError('INVALID_ARGUMENT', `${state.topic}-${state.partition} has no offset and autoOffsetReset is 'none'`);
      state.stopped = true;
      return;
    }
    state.reset = offset ?? (this.autoOffsetReset as 'earliest' | 'latest');
  }

  private clearBuffer(state: PartitionState): void {
    this.bufferedBytes -= state.bufferedBytes;
    state.bufferedBytes = 0;
    state.chunks.length = 0;
    // The request or stream in flight reads from the old position: restart it.
    this.abortLoopsFor(topicPartitionKey(state.topic, state.partition));
    this.notifySpace();
  }

  private abortLoopsFor(key: string): void {
    for (const loop of this.loops.values()) if (loop.subscribed.has(key)) loop.abort?.abort();
  }

  private notifySpace(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  private waitForSpace(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
      this.spaceWaiters.push(wake);
    });
  }

  private stateOf(tp: TopicPartition): PartitionState {
    const state = this.partitions.get(topicPartitionKey(tp.topic, tp.partition));
    if (state === undefined) throw new ClientError('INVALID_ARGUMENT', `${tp.topic}-${tp.partition} is not assigned to this consumer`);
    return state;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClientError('CLOSED', 'the consumer is closed');
  }

  private fetchable(state: PartitionState, now: number): boolean {
    return (
      !state.paused &&
      !state.stopped &&
      !state.inFlight &&
      state.fetchOffset !== undefined &&
      state.retryAtMs <= now &&
      state.bufferedBytes < this.maxPartitionFetchBytes &&
      this.bufferedBytes < this.prefetchBytesMax
    );
  }

  /**
   * Starts what is missing: offset lookups, and a fetch loop for each leader with fetchable
   * partitions. `urgent` (assign, seek, resume) also restarts a loop whose request or stream
   * lacks a newly fetchable partition instead of waiting for its long poll to end.
   */
  private kick(urgent: boolean): void {
    if (this.closed) return;
    const now = Date.now();
    let retryAtMs = Infinity;
    let needMetadata = false;
    const brokers = new Set<number>();
    for (const state of this.partitions.values()) {
      if (state.reset !== undefined && !state.resetting && !state.stopped) {
        if (state.retryAtMs > now) retryAtMs = Math.min(retryAtMs, state.retryAtMs);
        else this.track(this.resetOffset(state));
        continue;
      }
      if (!this.fetchable(state, now)) {
        if (state.retryAtMs > now && !state.paused && !state.stopped) retryAtMs = Math.min(retryAtMs, state.retryAtMs);
        continue;
      }
      const leaderId = this.cluster.partitionInfo(state.topic, state.partition)?.leaderId;
      if (leaderId === undefined || this.cluster.brokerClient(leaderId) === undefined) {
        needMetadata = true;
        continue;
      }
      brokers.add(leaderId);
      const loop = this.loops.get(leaderId);
      if (loop !== undefined && (urgent || this.fetchMode === 'stream') && !loop.subscribed.has(topicPartitionKey(state.topic, state.partition))) {
        loop.abort?.abort();
      }
    }
    for (const brokerId of brokers) {
      if (!this.loops.has(brokerId)) {
        const loop: BrokerLoop = { abort: undefined, subscribed: new Set() };
        this.loops.set(brokerId, loop);
        this.track(this.fetchLoop(brokerId, loop));
      }
    }
    if (needMetadata) this.refreshMetadata();
    if (Number.isFinite(retryAtMs)) {
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick(false);
      }, Math.max(1, retryAtMs - now));
    }
  }

  private track(promise: Promise<void>): void {
    this.running.add(promise);
    void promise.catch(() => undefined).finally(() => this.running.delete(promise));
  }

  private refreshMetadata(): void {
    if (this.metadataRefreshing || this.closed) return;
    this.metadataRefreshing = true;
    this.track(
      this.cluster
        .refreshAtMost(this.retryBackoffMs)
        .catch(() => sleep(this.retryBackoffMs, this.closeController.signal).catch(() => undefined))
        .finally(() => {
          this.metadataRefreshing = false;
          this.kick(false);
        }),
    );
  }

  private async resetOffset(state: PartitionState): Promise<void> {
    const spec = state.reset!;
    const generation = state.generation;
    state.resetting = true;
    try {
      const info = this.cluster.partitionInfo(state.topic, state.partition);
      const client = info?.leaderId === undefined ? undefined : this.cluster.brokerClient(info.leaderId);
      if (info === undefined || client === undefined) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `no known leader for ${state.topic}-${state.partition}`);
      const response = await client.listOffsets(
        {
          isolationLevel: this.isolationLevel,
          partitions: [
            {
              topic: state.topic,
              partition: state.partition,
              currentLeaderEpoch: info.leaderEpoch,
              spec: spec === 'earliest' ? OffsetSpec.EARLIEST : spec === 'latest' ? OffsetSpec.LATEST : OffsetSpec.TIMESTAMP,
              timestampMs: typeof spec === 'object' ? spec.timestamp : 0,
            },
          ],
        },
        { timeoutMs: this.requestTimeoutMs, signal: this.closeController.signal },
      );
      const answer = response.partitions.find((p) => p.topic === state.topic && p.partition === state.partition);
      if (answer === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, 'ListOffsets omitted the partition');
      if (answer.errorCode !== ErrorCode.NONE) {
        this.cluster.applyLeaderHint(state.topic, state.partition, answer.currentLeader);
        throw new StreamBusError(answer.errorCode, answer.errorMessage || 'ListOffsets failed');
      }
      if (state.generation !== generation) return;
      let offset = answer.offset;
      // No record at or after the timestamp: start at the end, as a Kafka consumer seeking past the log would.
      if (offset < 0) offset = await this.latestOffset(state);
      if (state.generation !== generation) return;
      state.reset = undefined;
      state.position = offset;
      state.fetchOffset = offset;
      state.attempts = 0;
    } catch (err) {
      if (this.closed || state.generation !== generation) return;
      this.onPartitionError(state, err);
    } finally {
      state.resetting = false;
      this.kick(false);
    }
  }

  private async latestOffset(state: PartitionState): Promise<number> {
    const info = this.cluster.partitionInfo(state.topic, state.partition);
    const client = info?.leaderId === undefined ? undefined : this.cluster.brokerClient(info.leaderId);
    if (client === undefined) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `no known leader for ${state.topic}-${state.partition}`);
    const response = await client.listOffsets(
      { isolationLevel: this.isolationLevel, partitions: [{ topic: state.topic, partition: state.partition, spec: OffsetSpec.LATEST, timestampMs: 0 }] },
      { timeoutMs: this.requestTimeoutMs, signal: this.closeController.signal },
    );
    const answer = response.partitions[0];
    if (answer === undefined || answer.errorCode !== ErrorCode.NONE) throw new StreamBusError(answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR, 'ListOffsets (latest) failed');
    return answer.offset;
  }

  /** Retriable errors back off (and refresh metadata when routing is stale); others stop the partition. */
  private onPartitionError(state: PartitionState, err: unknown): void {
    const retriable = (isStreamBusError(err) || isTransportError(err) || err instanceof ClientError) && err.retriable;
    if (retriable) {
      state.retryAtMs = Date.now() + backoffMs(state.attempts++, this.retryBackoffMs, this.retryBackoffMaxMs, this.cluster.random);
      if (isTransportError(err) || (isStreamBusError(err) && isStaleMetadataCode(err.errorCode))) this.refreshMetadata();
      return;
    }
    state.error = err instanceof Error ? err : new Error(String(err));
    state.stopped = true;
    this.notify();
  }

  private async fetchLoop(brokerId: number, loop: BrokerLoop): Promise<void> {
    try {
      while (!this.closed) {
        const now = Date.now();
        const states = [...this.partitions.values()].filter(
          (s) => this.fetchable(s, now) && this.cluster.partitionInfo(s.topic, s.partition)?.leaderId === brokerId,
        );
        if (states.length === 0) return;
        const client = this.cluster.brokerClient(brokerId);
        if (client === undefined) return;
        const generations = new Map<PartitionState, number>();
        const partitions: FetchPartition[] = states.map((s) => {
          s.inFlight = true;
          generations.set(s, s.generation);
          return {
            topic: s.topic,
            partition: s.partition,
            fetchOffset: s.fetchOffset!,
            currentLeaderEpoch: this.cluster.partitionInfo(s.topic, s.partition)?.leaderEpoch,
            partitionMaxBytes: this.maxPartitionFetchBytes,
          };
        });
        loop.subscribed = new Set(states.map((s) => topicPartitionKey(s.topic, s.partition)));
        const abort = new AbortController();
        loop.abort = abort;
        const onClose = (): void => abort.abort();
        this.closeController.signal.addEventListener('abort', onClose, { once: true });
        const request = {
          maxWaitMs: this.fetchMaxWaitMs,
          minBytes: this.fetchMinBytes,
          maxBytes: Math.min(this.fetchMaxBytes, Math.max(1, this.prefetchBytesMax - this.bufferedBytes)),
          isolationLevel: this.isolationLevel,
          partitions,
        };
        try {
          if (this.fetchMode === 'poll') {
            const response = await client.fetch(request, { signal: abort.signal, timeoutMs: this.requestTimeoutMs + this.fetchMaxWaitMs });
            for (const s of states) s.inFlight = false;
            await this.handleResponse(response.partitions, generations);
          } else {
            for await (const push of client.fetchStream(request, { signal: abort.signal })) {
              const errored = await this.handleResponse(push.partitions, generations);
              // The broker dropped errored partitions: resubscribe with the current set.
              if (errored || states.some((s) => s.generation !== generations.get(s) || s.paused || !this.partitions.has(topicPartitionKey(s.topic, s.partition)))) break;
              // Full buffers: stop reading the stream, so HTTP/2 flow control stops the broker.
              while (!abort.signal.aborted && (states.some((s) => s.bufferedBytes >= this.maxPartitionFetchBytes) || this.bufferedBytes >= this.prefetchBytesMax)) {
                await this.waitForSpace(abort.signal);
              }
              if (abort.signal.aborted) break;
            }
          }
        } catch (err) {
          if (this.closed) return;
          if (!abort.signal.aborted) for (const s of states) if (s.generation === generations.get(s)) this.onPartitionError(s, err);
        } finally {
          for (const s of states) s.inFlight = false;
          this.closeController.signal.removeEventListener('abort', onClose);
          loop.abort = undefined;
          loop.subscribed = new Set();
        }
      }
    } finally {
      this.loops.delete(brokerId);
      this.kick(false);
    }
  }

  /** Buffers what arrived; returns whether any partition answered with an error. */
  private async handleResponse(answers: readonly FetchPartitionResponse[], generations: Map<PartitionState, number>): Promise<boolean> {
    let errored = false;
    for (const answer of answers) {
      const state = this.partitions.get(topicPartitionKey(answer.topic, answer.partition));
      if (state === undefined || generations.get(state) !== state.generation) continue;
      if (answer.errorCode !== ErrorCode.NONE) {
        errored = true;
        this.handlePartitionError(state, answer);
        continue;
      }
      state.highWatermark = answer.highWatermark;
      state.attempts = 0;
      if (answer.records.length === 0) continue;
      const fetchOffset = state.fetchOffset!;
      let chunk: Chunk;
      try {
        chunk = await this.decode(state, answer, fetchOffset);
      } catch (err) {
        if (state.generation === generations.get(state)) this.onPartitionError(state, err);
        errored = true;
        continue;
      }
      if (state.generation !== generations.get(state) || state.fetchOffset !== fetchOffset) continue;
      state.fetchOffset = chunk.nextOffset;
      state.chunks.push(chunk);
      state.bufferedBytes += chunk.bytes;
      this.bufferedBytes += chunk.bytes;
      if (this.bufferedBytes > this.bufferedBytesPeak) this.bufferedBytesPeak = this.bufferedBytes;
    }
    this.notify();
    return errored;
  }

  private async decode(state: PartitionState, answer: FetchPartitionResponse, fetchOffset: number): Promise<Chunk> {
    const records: ConsumerRecord[] = [];
    const bytes = answer.records;
    let position = 0;
    let nextOffset = fetchOffset;
    while (position < bytes.length) {
      const batch = BatchView.parse(bytes, position);
      position += batch.sizeInBytes;
      nextOffset = Math.max(nextOffset, batch.nextOffset);
      if (batch.isControl) continue;
      // Batches come whole: the first may start before the fetch offset.
      if (batch.lastOffset < fetchOffset) continue;
      for (const record of await decodeRecords(batch)) {
        if (record.offset < fetchOffset) continue;
        records.push({
          topic: state.topic,
          partition: state.partition,
          offset: record.offset,
          timestamp: record.timestamp,
          key: record.key,
          value: record.value,
          headers: record.headers,
        });
      }
    }
    if (position !== bytes.length) throw new RecordError('TRUNCATED', 'fetch response ends inside a batch');
    return { records, next: 0, nextOffset, bytes: bytes.length, highWatermark: answer.highWatermark };
  }

  private handlePartitionError(state: PartitionState, answer: FetchPartitionResponse): void {
    if (answer.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && this.autoOffsetReset !== 'none') {
      // The answer carries both bounds, so no ListOffsets round trip is needed.
      const offset = this.autoOffsetReset === 'earliest' ? answer.logStartOffset : answer.highWatermark;
      this.clearBuffer(state);
      state.generation++;
      state.position = offset;
      state.fetchOffset = offset;
      state.highWatermark = answer.highWatermark;
      return;
    }
    const err = new StreamBusError(answer.errorCode, answer.errorMessage || `fetch from ${state.topic}-${state.partition} failed`, {
      leaderId: answer.currentLeader?.leaderId,
      leaderEpoch: answer.currentLeader?.leaderEpoch,
    });
    if (isStaleMetadataCode(answer.errorCode)) this.cluster.applyLeaderHint(state.topic, state.partition, answer.currentLeader);
    this.onPartitionError(state, err);
  }
}

function validateSpec(offset: OffsetSpecInput): void {
  if (offset === 'earliest' || offset === 'latest') return;
  if (typeof offset === 'number') return assertNonNegativeInteger('offset', offset);
  if (typeof offset === 'object' && offset !== null && Number.isSafeInteger(offset.timestamp)) return;
  throw new ClientError('INVALID_ARGUMENT', `offset must be a number, 'earliest', 'latest' or { timestamp }`);
}
