import { type Logger } from 'pino';
import { BatchView, RecordError, decodeRecords, encodeBatch, splitBatches } from '@streambus/record';
import { StorageError } from '@streambus/storage';
import {
  ErrorCode,
  OffsetSpec,
  StreamBusError,
  type FetchPartition,
  type FetchPartitionResponse,
  type FetchRequest,
  type ListOffsetsPartition,
  type ListOffsetsPartitionResponse,
  type ProducePartitionData,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ProduceResponse,
  type FetchResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
} from '@streambus/protocol';
import { type MetadataNode } from '../cluster/metadata-node.js';
import { type BrokerMetrics } from '../metrics.js';
import { type LocalReplica, type PartitionManager } from '../data/partition-manager.js';
import { type ReplicationService } from '../replication-service.js';
import { type Acks, type LeaderPartition, ReplicationError } from '../replication/index.js';

/** A partition this broker leads right now: the local replica and its leader state. */
interface Led {
  readonly replica: LocalReplica;
  readonly leader: LeaderPartition;
}

/** Upper bound of one long-poll wait, whatever the client asks. */
const FETCH_WAIT_MS_MAX = 30_000;
const PRODUCE_TIMEOUT_MS_DEFAULT = 30_000;


/**
 * Produce, fetch and list-offsets for the partitions this broker leads. One request carries
 * many partitions; each gets its own answer and error, so one bad partition never fails the
 * others.
 */
export class DataPlane {
  constructor(
    private readonly partitions: PartitionManager,
    private readonly replication: ReplicationService,
    private readonly metadata: MetadataNode,
    private readonly metrics: BrokerMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * The partition if this broker leads it (in the given epoch, when one is given); otherwise
   * a typed error saying where to go: NOT_LEADER_OR_FOLLOWER with the leader the metadata
   * names, LEADER_NOT_AVAILABLE while no leader serves, or FENCED/UNKNOWN_LEADER_EPOCH.
   */
  led(topic: string, partition: number, currentLeaderEpoch: number | undefined): Led {
    const image = this.metadata.image;
    const topicId = image.topicIdsByName.get(topic);
    if (topicId === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic} does not exist`);
    const state = image.topics.get(topicId)?.partitions[partition];
    if (state === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic} has no partition ${partition}`);
    const hint = { leaderId: state.leader, leaderEpoch: state.leaderEpoch };
    const replica = this.partitions.get(topic, partition);
    const leader = replica === undefined || !this.replication.running ? undefined : this.replication.replicas.leaderOf({ topic, partition });
    if (replica === undefined || leader === undefined) {
      if (state.leader < 0) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition} has no leader right now`);
      // The metadata names this broker, but leadership is still being taken up: retry shortly.
      if (state.leader === this.metadata.brokerId) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${state.leader} is taking up leadership of ${topic}-${partition}`);
      throw new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker does not lead ${topic}-${partition}; broker ${state.leader} does`, hint);
    }
    if (currentLeaderEpoch !== undefined && currentLeaderEpoch !== leader.leaderEpoch) {
      const code = currentLeaderEpoch < leader.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
      throw new StreamBusError(code, `request epoch ${currentLeaderEpoch}, leader epoch of ${topic}-${partition} is ${leader.leaderEpoch}`, { leaderId: this.metadata.brokerId, leaderEpoch: leader.leaderEpoch });
    }
    return { replica, leader };
  }

  // ---- produce --------------------------------------------------------------------------

  async produce(req: ProduceRequest): Promise<ProduceResponse> {
    const acks = req.acks ?? -1;
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      const e = new StreamBusError(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1 (all), got ${acks}`);
      return { partitions: req.partitions.map((p) => errorProduce(p, e)), throttleTimeMs: 0 };
    }
    const timeoutMs = req.timeoutMs > 0 ? req.timeoutMs : PRODUCE_TIMEOUT_MS_DEFAULT;
    const work = req.partitions.map((p) => this.producePartition(p, acks, timeoutMs));
    if (acks === 0) {
      // Nobody waits for the outcome; failures are only logged.
      for (const w of work) void w.then((r) => r.errorCode !== ErrorCode.NONE && this.logger.debug({ topic: r.topic, partition: r.partition, error: r.errorMessage }, 'acks=0 produce failed'));
      return { partitions: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', baseOffset: -1, logStartOffset: -1, recordErrors: [] })), throttleTimeMs: 0 };
    }
    return { partitions: await Promise.all(work), throttleTimeMs: 0 };
  }

  private async producePartition(p: ProducePartitionData, acks: Acks, timeoutMs: number): Promise<ProducePartitionResponse> {
    let replica: LocalReplica | undefined;
    try {
      const led = this.led(p.topic, p.partition, p.currentLeaderEpoch);
      replica = led.replica;
      const batches = await this.validateBatches(replica, p.records);
      const { baseOffset } = await this.replication.replicas.produce({ topic: p.topic, partition: p.partition }, batches, acks, timeoutMs);
      let records = 0;
      for (const b of batches) records += b.readInt32BE(57);
      this.metrics.bytesIn.inc({ topic: p.topic }, p.records.length);
      this.metrics.recordsIn.inc({ topic: p.topic }, records);
      return { topic: p.topic, partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', baseOffset, logStartOffset: replica.log.logStartOffset, recordErrors: [] };
    } catch (err) {
      const e = toStreamBusError(err, this.logger);
      this.metrics.requestErrors.inc({ api: 'Produce', code: e.code });
      return errorProduce(p, e, replica);
    }
  }

  /**
   * Checks every batch (framing, magic, CRC, sizes) without decompressing, and recompresses
   * only when the topic pins a codec different from the producer's (Kafka's compression.type).
   * Any bad batch rejects the whole partition's data: nothing is appended.
   */
  private async validateBatches(replica: LocalReplica, records: Buffer): Promise<Buffer[]> {
    if (records.length === 0) throw new StreamBusError(ErrorCode.INVALID_RECORD, 'produce carries no record batch');
    const out: Buffer[] = [];
    let index = 0;
    try {
      for (const view of splitBatches(records)) {
        view.validate();
        if (view.sizeInBytes > replica.config.maxMessageBytes) {
          throw new StreamBusError(ErrorCode.MESSAGE_TOO_LARGE, `batch ${index} is ${view.sizeInBytes} bytes; max.message.bytes of ${replica.topic} is ${replica.config.maxMessageBytes}`);
        }
        if (view.recordCount === 0) throw new StreamBusError(ErrorCode.INVALID_RECORD, `batch ${index} holds no records`);
        if (view.isControl) throw new StreamBusError(ErrorCode.INVALID_RECORD, `batch ${index} is a control batch; clients may not produce those`);
        out.push(await this.recompressIfPinned(replica, view));
        index += 1;
      }
    } catch (err) {
      if (err instanceof RecordError) {
        const code = err.code === 'CORRUPT_CRC' ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.INVALID_RECORD;
        throw new StreamBusError(code, `batch ${index}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    return out;
  }

  private async recompressIfPinned(replica: LocalReplica, view: BatchView): Promise<Buffer> {
    const pinned = replica.config.compressionType;
    if (pinned === 'producer' || pinned === view.compression) return view.bytes;
    const records = await decodeRecords(view);
    return encodeBatch(
      records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
      {
        compression: pinned,
        producerId: view.producerId,
        producerEpoch: view.producerEpoch,
        baseSequence: view.baseSequence,
        isTransactional: view.isTransactional,
        timestampType: view.timestampType,
      },
    );
  }

  // ---- fetch ----------------------------------------------------------------------------

  async fetch(req: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    const waitMs = Math.min(Math.max(0, req.maxWaitMs), FETCH_WAIT_MS_MAX);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const answer = await this.fetchOnce(req.partitions, req.maxBytes);
      const remaining = deadline - Date.now();
      const enough = answer.bytes >= Math.max(1, req.minBytes) || answer.errors > 0;
      if (enough || remaining <= 0 || signal?.aborted === true) return { partitions: answer.partitions, throttleTimeMs: 0 };
      await this.waitForAny(req.partitions, remaining, signal);
    }
  }

  /** One pass over the partitions: whole batches below each high watermark, within the byte bounds. */
  async fetchOnce(parts: readonly FetchPartition[], maxBytes: number): Promise<{ partitions: FetchPartitionResponse[]; bytes: number; errors: number }> {
    const responses: FetchPartitionResponse[] = [];
    let bytes = 0;
    let errors = 0;
    const budgetMax = maxBytes > 0 ? maxBytes : 50 * 1024 * 1024;
    for (const p of parts) {
      const budget = Math.max(0, budgetMax - bytes);
      const r = await this.fetchPartition(p, budget, bytes === 0);
      if (r.errorCode !== ErrorCode.NONE) errors += 1;
      bytes += r.records.length;
      responses.push(r);
    }
    return { partitions: responses, bytes, errors };
  }

  private async fetchPartition(p: FetchPartition, budget: number, mayExceed: boolean): Promise<FetchPartitionResponse> {
    const base = { topic: p.topic, partition: p.partition, lastStableOffset: -1, records: Buffer.alloc(0) };
    let replica: LocalReplica | undefined;
    try {
      const led = this.led(p.topic, p.partition, p.currentLeaderEpoch);
      replica = led.replica;
      const hw = led.leader.highWatermark;
      const start = replica.log.logStartOffset;
      if (p.fetchOffset < start || p.fetchOffset > hw) {
        return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, errorMessage: `offset ${p.fetchOffset} is outside [${start}, ${hw}] of ${p.topic}-${p.partition}`, highWatermark: hw, lastStableOffset: hw, logStartOffset: start };
      }
      const limit = Math.min(p.partitionMaxBytes > 0 ? p.partitionMaxBytes : 1024 * 1024, mayExceed ? Number.MAX_SAFE_INTEGER : budget);
      let records: Buffer = Buffer.alloc(0);
      if (p.fetchOffset < hw && limit > 0) {
        const read = await replica.log.read(p.fetchOffset, Math.max(1, limit));
        const kept: Buffer[] = [];
        let size = 0;
        let recordsOut = 0;
        for (const b of read.batches) {
          const view = BatchView.parse(b);
          if (view.lastOffset >= hw) break; // nothing at or above the high watermark is visible
          if (kept.length > 0 && size + b.length > limit) break;
          if (kept.length === 0 && !mayExceed && b.length > budget) break;
          kept.push(b);
          size += b.length;
          recordsOut += view.recordCount;
        }
        records = kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept, size);
        if (recordsOut > 0) this.metrics.recordsOut.inc({ topic: p.topic }, recordsOut);
      }
      if (records.length > 0) this.metrics.bytesOut.inc({ topic: p.topic }, records.length);
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: '', highWatermark: hw, lastStableOffset: hw, logStartOffset: start, records };
    } catch (err) {
      const e = toStreamBusError(err, this.logger);
      this.metrics.requestErrors.inc({ api: 'Fetch', code: e.code });
      return { ...base, errorCode: e.errorCode, errorMessage: e.message, highWatermark: -1, logStartOffset: -1, currentLeader: e.leaderId === undefined ? undefined : { leaderId: e.leaderId, leaderEpoch: e.leaderEpoch ?? -1 } };
    }
  }

  /** Resolves when any of the partitions changes, after `timeoutMs`, or on abort. */
  async waitForAny(parts: readonly { topic: string; partition: number }[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const local = new AbortController();
    const onAbort = (): void => local.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const waits = parts
      .map((p) => this.partitions.get(p.topic, p.partition))
      .filter((r): r is LocalReplica => r !== undefined)
      .map((r) => r.waitForChange(timeoutMs, local.signal));
    if (waits.length === 0) waits.push(new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 100))));
    await Promise.race(waits);
    local.abort();
    signal?.removeEventListener('abort', onAbort);
  }

  // ---- list offsets ---------------------------------------------------------------------

  async listOffsets(req: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    return { partitions: await Promise.all(req.partitions.map((p) => this.listPartitionOffset(p))) };
  }

  private async listPartitionOffset(p: ListOffsetsPartition): Promise<ListOffsetsPartitionResponse> {
    const base = { topic: p.topic, partition: p.partition, errorCode: ErrorCode.NONE, errorMessage: '', timestampMs: -1, leaderEpoch: -1 };
    try {
      const { replica, leader } = this.led(p.topic, p.partition, p.currentLeaderEpoch);
      const log = replica.log;
      switch (p.spec) {
        case OffsetSpec.EARLIEST:
          return { ...base, offset: log.logStartOffset, leaderEpoch: leader.leaderEpoch };
        case OffsetSpec.LATEST:
        case OffsetSpec.UNSPECIFIED:
          return { ...base, offset: leader.highWatermark, leaderEpoch: leader.leaderEpoch };
        case OffsetSpec.TIMESTAMP: {
          const offset = await log.offsetForTimestamp(p.timestampMs);
          if (offset === null || offset >= leader.highWatermark) return { ...base, offset: -1 };
          return { ...base, offset, timestampMs: p.timestampMs, leaderEpoch: epochAt(replica, offset) };
        }
        case OffsetSpec.MAX_TIMESTAMP:
          throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'OFFSET_SPEC_MAX_TIMESTAMP is not supported yet; use TIMESTAMP');
        default:
          throw new StreamBusError(ErrorCode.INVALID_REQUEST, `unknown offset spec ${String(p.spec)}`);
      }
    } catch (err) {
      const e = toStreamBusError(err, this.logger);
      return { ...base, errorCode: e.errorCode, errorMessage: e.message, offset: -1, currentLeader: e.leaderId === undefined ? undefined : { leaderId: e.leaderId, leaderEpoch: e.leaderEpoch ?? -1 } };
    }
  }
}

function epochAt(replica: LocalReplica, offset: number): number {
  let epoch = -1;
  for (const e of replica.log.leaderEpochs) if (e.startOffset <= offset) epoch = e.epoch;
  return epoch;
}

function errorProduce(p: ProducePartitionData, e: StreamBusError, replica?: LocalReplica): ProducePartitionResponse {
  const hint = e.leaderId !== undefined ? { leaderId: e.leaderId, leaderEpoch: e.leaderEpoch ?? -1 } : undefined;
  return { topic: p.topic, partition: p.partition, errorCode: e.errorCode, errorMessage: e.message, baseOffset: -1, logStartOffset: replica?.log.logStartOffset ?? -1, currentLeader: hint, recordErrors: [] };
}

/** Maps any failure on the data path to a wire error; unexpected ones are logged with their stack. */
export function toStreamBusError(err: unknown, logger: Logger): StreamBusError {
  if (err instanceof StreamBusError) return err;
  if (err instanceof ReplicationError) return new StreamBusError(err.errorCode, err.message, { cause: err });
  if (err instanceof StorageError) {
    switch (err.code) {
      case 'OFFSET_OUT_OF_RANGE':
        return new StreamBusError(ErrorCode.OFFSET_OUT_OF_RANGE, err.message, { cause: err });
      case 'PARTITION_NOT_FOUND':
        return new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, err.message, { cause: err });
      case 'INVALID_RECORD':
        return new StreamBusError(ErrorCode.INVALID_RECORD, err.message, { cause: err });
      case 'INVALID_ARGUMENT':
        return new StreamBusError(ErrorCode.INVALID_REQUEST, err.message, { cause: err });
      default:
        logger.error({ err }, 'storage failure on the data path');
        return new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, err.message, { cause: err });
    }
  }
  if (err instanceof RecordError) return new StreamBusError(ErrorCode.INVALID_RECORD, err.message, { cause: err });
  logger.error({ err }, 'unexpected error on the data path');
  return new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, err instanceof Error ? err.message : String(err), { cause: err });
}
