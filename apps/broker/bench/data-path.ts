// The data-path workloads against a real broker: pipelined and unary produce, fetch of the
// same data from offset 0, paced produce for latency. Every response is checked: a benchmark
// that counts errors as throughput measures nothing.
import { randomBytes } from 'node:crypto';
import * as hdr from 'hdr-histogram-js';
import { ErrorCode, IsolationLevel, OffsetSpec, errorCodeName, type FetchPartition, type ProduceResponse, type ProduceStreamRequest, type StreamBusClient } from '@streambus/protocol';
import { BatchBuilder } from '@streambus/record';
import { mbPerSecond, sleep } from './util.js';

/** Batch header: recordCount (int32) sits at byte 57, lastOffsetDelta at 23, batchLength at 8. */
const RECORD_COUNT_AT = 57;
const LAST_OFFSET_DELTA_AT = 23;
const BATCH_LENGTH_AT = 8;
const BATCH_HEADER_BYTES = 61;
/** Produce acks wait at most this long on the broker. */
const PRODUCE_TIMEOUT_MS = 30_000;
/** Bound on waiting for a new topic's partitions to answer. */
const TOPIC_READY_TIMEOUT_MS = 15_000;
/** Largest produce latency the histogram tracks, in µs (one minute). */
const LATENCY_US_MAX = 60_000_000;

export interface Workload {
  readonly topic: string;
  readonly partitions: number;
  /** One pre-built batch per partition, sent again and again (the broker copies it). */
  readonly batches: readonly Buffer[];
  readonly recordsPerBatch: number;
  readonly batchBytes: number;
}

/** One uncompressed batch per partition of `recordBytes`-byte random values, each at most `batchBytesMax`. */
export async function buildWorkload(topic: string, partitions: number, recordBytes: number, batchBytesMax: number): Promise<Workload> {
  const pool = randomBytes(batchBytesMax + recordBytes * 64);
  const batches: Buffer[] = [];
  for (let p = 0; p < partitions; p++) {
    const builder = new BatchBuilder({ batchBytesMax });
    for (let i = 0; ; i++) {
      const at = ((p * 61 + i) * recordBytes) % (pool.length - recordBytes);
      if (!builder.tryAppend({ key: null, value: pool.subarray(at, at + recordBytes) })) break;
    }
    batches.push(await builder.seal());
  }
  const first = batches[0]!;
  const recordsPerBatch = first.readInt32BE(RECORD_COUNT_AT);
  if (!batches.every((b) => b.length <= batchBytesMax && b.readInt32BE(RECORD_COUNT_AT) === recordsPerBatch)) {
    throw new Error('pre-built batches differ in size or record count');
  }
  return { topic, partitions, batches, recordsPerBatch, batchBytes: first.length };
}

export async function createTopic(client: StreamBusClient, topic: string, partitions: number): Promise<void> {
  const res = await client.createTopics({ topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: {} }], timeoutMs: TOPIC_READY_TIMEOUT_MS, validateOnly: false });
  const error = res.topics[0]?.error;
  if (error !== undefined) throw new Error(`create topic ${topic}: ${errorCodeName(error.code)} ${error.message}`);
  const deadline = performance.now() + TOPIC_READY_TIMEOUT_MS;
  for (;;) {
    const offsets = await client.listOffsets({ isolationLevel: IsolationLevel.READ_UNCOMMITTED, partitions: Array.from({ length: partitions }, (_, partition) => ({ topic, partition, spec: OffsetSpec.LATEST, timestampMs: 0 })) });
    const notReady = offsets.partitions.filter((p) => p.errorCode !== ErrorCode.NONE);
    if (notReady.length === 0) return;
    if (performance.now() > deadline) throw new Error(`topic ${topic}: ${notReady.length} partitions not led here: ${notReady[0]?.errorMessage}`);
    await sleep(20);
  }
}

function checkProduce(res: ProduceResponse): void {
  for (const p of res.partitions) {
    if (p.errorCode !== ErrorCode.NONE) throw new Error(`produce ${p.topic}-${p.partition}: ${errorCodeName(p.errorCode)} ${p.errorMessage}`);
  }
}

export interface ProduceResult {
  readonly bytes: number;
  readonly records: number;
  readonly requests: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
  readonly recordsPerSecond: number;
}

function produceResult(requests: number, w: Workload, batchesPerRequest: number, seconds: number): ProduceResult {
  const bytes = requests * batchesPerRequest * w.batchBytes;
  const records = requests * batchesPerRequest * w.recordsPerBatch;
  return { bytes, records, requests, seconds, mbPerSecond: mbPerSecond(bytes, seconds), recordsPerSecond: records / seconds };
}

export interface StreamOptions {
  /** Requests sent and not yet acknowledged, at most. */
  readonly windowMax: number;
  readonly durationMs: number;
  readonly bytesMax: number;
  /** Open-loop pacing: one request every intervalMs; latency counts from the intended send time. */
  readonly intervalMs?: number;
  /** Produce-ack latencies in µs. */
  readonly histogram?: hdr.Histogram;
}

/**
 * ProduceStream with one partition's batch per request, partitions in turn, acks=1. Latency
 * of paced runs is measured from when the request was due, so a stall counts against every
 * request it delays (no coordinated omission).
 */
export async function produceStream(client: StreamBusClient, w: Workload, opts: StreamOptions): Promise<ProduceResult> {
  const pending = new Map<number, number>();
  let wakeWriter: (() => void) | undefined;
  const started = performance.now();
  const endAt = started + opts.durationMs;
  const requestsMax = Math.max(1, Math.floor(opts.bytesMax / w.batchBytes));
  async function* requests(): AsyncGenerator<ProduceStreamRequest> {
    for (let i = 0; i < requestsMax; i++) {
      const due = opts.intervalMs === undefined ? undefined : started + i * opts.intervalMs;
      if (due !== undefined && due > performance.now()) await sleep(due - performance.now());
      if (performance.now() >= endAt) return;
      while (pending.size >= opts.windowMax) await new Promise<void>((resolve) => (wakeWriter = resolve));
      const partition = i % w.partitions;
      pending.set(i, due ?? performance.now());
      yield { correlationId: i, request: { acks: 1, timeoutMs: PRODUCE_TIMEOUT_MS, partitions: [{ topic: w.topic, partition, records: w.batches[partition]! }] } };
    }
  }
  let acked = 0;
  let lastAckAt = started;
  for await (const res of client.produceStream(requests())) {
    const sentAt = pending.get(res.correlationId);
    if (sentAt === undefined) throw new Error(`answer for unknown correlation id ${res.correlationId}`);
    pending.delete(res.correlationId);
    if (res.error !== undefined) throw new Error(`produce stream request failed: ${errorCodeName(res.error.code)} ${res.error.message}`);
    if (res.response === undefined) throw new Error('produce stream answer without a response');
    checkProduce(res.response);
    lastAckAt = performance.now();
    opts.histogram?.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round((lastAckAt - sentAt) * 1000))));
    acked += 1;
    const wake = wakeWriter;
    wakeWriter = undefined;
    wake?.();
  }
  if (pending.size > 0) throw new Error(`${pending.size} produce requests never answered`);
  return produceResult(acked, w, 1, (lastAckAt - started) / 1000);
}

export interface UnaryOptions {
  readonly concurrency: number;
  readonly partitionsPerRequest: number;
  readonly durationMs: number;
  readonly bytesMax: number;
}

/** Unary Produce, `partitionsPerRequest` partitions (one batch each) per request, `concurrency` in flight. */
export async function produceUnary(client: StreamBusClient, w: Workload, opts: UnaryOptions): Promise<ProduceResult> {
  const started = performance.now();
  const endAt = started + opts.durationMs;
  const requestBytes = opts.partitionsPerRequest * w.batchBytes;
  let issued = 0;
  let acked = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt && (issued + 1) * requestBytes <= opts.bytesMax) {
      const first = (issued * opts.partitionsPerRequest) % w.partitions;
      issued += 1;
      const partitions = Array.from({ length: opts.partitionsPerRequest }, (_, k) => {
        const partition = (first + k) % w.partitions;
        return { topic: w.topic, partition, records: w.batches[partition]! };
      });
      checkProduce(await client.produce({ acks: 1, timeoutMs: PRODUCE_TIMEOUT_MS, partitions }));
      acked += 1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return produceResult(acked, w, opts.partitionsPerRequest, (performance.now() - started) / 1000);
}

export interface FetchOptions {
  readonly partitionMaxBytes: number;
  readonly durationMs: number;
}

/**
 * Where each fetch loop stands: loop g owns partitions g, g+n, g+2n... (all in one request)
 * and reads them from offset 0 up to their end offsets. Kept across timed slices.
 */
export interface FetchCursor {
  readonly loops: Map<number, number>[];
  readonly endOffsets: readonly number[];
}

export function fetchCursor(w: Workload, endOffsets: readonly number[], concurrency: number): FetchCursor {
  const loops = Array.from({ length: concurrency }, () => new Map<number, number>());
  for (let p = 0; p < w.partitions; p++) if ((endOffsets[p] ?? 0) > 0) loops[p % concurrency]!.set(p, 0);
  return { loops, endOffsets };
}

export function fetchDone(cursor: FetchCursor): boolean {
  return cursor.loops.every((l) => l.size === 0);
}

export interface FetchResult {
  readonly bytes: number;
  readonly records: number;
  readonly requests: number;
  readonly seconds: number;
}

/** Unary Fetch, one loop per cursor entry in parallel, until every partition is read or the time is up. */
export async function fetchSlice(client: StreamBusClient, w: Workload, cursor: FetchCursor, opts: FetchOptions): Promise<FetchResult> {
  const started = performance.now();
  const endAt = started + opts.durationMs;
  let bytes = 0;
  let records = 0;
  let requests = 0;
  const loop = async (positions: Map<number, number>): Promise<void> => {
    while (positions.size > 0 && performance.now() < endAt) {
      const partitions: FetchPartition[] = [...positions].map(([partition, fetchOffset]) => ({ topic: w.topic, partition, fetchOffset, partitionMaxBytes: opts.partitionMaxBytes }));
      const res = await client.fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: partitions.length * opts.partitionMaxBytes, isolationLevel: IsolationLevel.READ_UNCOMMITTED, partitions });
      requests += 1;
      for (const p of res.partitions) {
        if (p.errorCode !== ErrorCode.NONE) throw new Error(`fetch ${p.topic}-${p.partition}: ${errorCodeName(p.errorCode)} ${p.errorMessage}`);
        const walked = walkBatches(p.records);
        bytes += p.records.length;
        records += walked.records;
        if (walked.nextOffset === undefined) continue;
        if (walked.nextOffset >= (cursor.endOffsets[p.partition] ?? 0)) positions.delete(p.partition);
        else positions.set(p.partition, walked.nextOffset);
      }
    }
  };
  await Promise.all(cursor.loops.map(loop));
  return { bytes, records, requests, seconds: (performance.now() - started) / 1000 };
}

/** Record count and next offset of a run of whole batches; throws on a torn one. */
function walkBatches(records: Buffer): { records: number; nextOffset: number | undefined } {
  let pos = 0;
  let count = 0;
  let nextOffset: number | undefined;
  while (pos < records.length) {
    if (pos + BATCH_HEADER_BYTES > records.length) throw new Error(`fetch returned a torn batch header at byte ${pos}`);
    const size = 12 + records.readInt32BE(pos + BATCH_LENGTH_AT);
    if (pos + size > records.length) throw new Error(`fetch returned a torn batch at byte ${pos}`);
    count += records.readInt32BE(pos + RECORD_COUNT_AT);
    nextOffset = Number(records.readBigInt64BE(pos)) + records.readInt32BE(pos + LAST_OFFSET_DELTA_AT) + 1;
    pos += size;
  }
  return { records: count, nextOffset };
}

/** Log end offsets (high watermarks) of every partition of the workload's topic. */
export async function endOffsets(client: StreamBusClient, w: Workload): Promise<number[]> {
  const res = await client.listOffsets({ isolationLevel: IsolationLevel.READ_UNCOMMITTED, partitions: Array.from({ length: w.partitions }, (_, partition) => ({ topic: w.topic, partition, spec: OffsetSpec.LATEST, timestampMs: 0 })) });
  const out = new Array<number>(w.partitions).fill(0);
  for (const p of res.partitions) {
    if (p.errorCode !== ErrorCode.NONE) throw new Error(`list offsets ${p.topic}-${p.partition}: ${errorCodeName(p.errorCode)} ${p.errorMessage}`);
    out[p.partition] = p.offset;
  }
  return out;
}

export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
}
