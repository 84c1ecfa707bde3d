// @streambus/client benchmarks (PERFORMANCE.md). Two targets, each with a baseline measured
// in the same run: an in-process FakeBroker (SDK cost without a broker's own cost), then, by
// default, one real broker process (apps/broker bundled and started on loopback; skipped with
// BENCH_REAL_BROKER=0 or outside the monorepo). Against each:
//  - send() CPU cost per record while batching (no network: lingerMs is long, so send()
//    only appends), against BatchBuilder.tryAppend alone on the same records;
//  - produce throughput, SDK producer vs raw generated-client Produce calls (same record
//    size, batch size and partitions; against the fake the raw loop builds its batches with
//    BatchBuilder too, against the real broker it reuses batches sealed once);
//  - consume throughput, SDK consumer vs raw Fetch calls + decodeRecords (poll) and raw
//    FetchStream + decodeRecords (stream) over the same log.
// Against the real broker also: end-to-end latency (send() → record handed out by a
// streaming consumer) at a fixed rate of 1 KiB records (BENCH_LATENCY_RATE, default 10,000/s,
// for BENCH_LATENCY_MS, default 5000), from HDR histograms, beside the round trip of one raw
// one-record Produce call as its baseline. Target: SDK throughput within 20 % of the raw
// client's (ratio ≥ 0.8).
// Progress on stderr; a table and then ONE JSON line on stdout.
// BENCH_DURATION_MS sets the time per throughput measurement (default 3000); each throughput
// figure is the best of BENCH_ROUNDS (default 2) runs, interleaved with its baseline's.
import * as hdr from 'hdr-histogram-js';
import { ErrorCode, createClient, type ProducePartitionData } from '@streambus/protocol';
import { BatchBuilder, decodeRecords, splitBatches } from '@streambus/record';
import { FakeBroker, StreamBus } from '../src/index.js';
import { realBrokerAvailable, startRealBroker } from './real-broker.js';

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const RECORD_BYTES = 1024;
const SMALL_RECORD_BYTES = 100;
const PARTITIONS = 4;
const BATCH_BYTES = 64 * 1024;
/** Each throughput figure is the best of this many interleaved runs. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const LATENCY_RATE_PER_SEC = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
const LATENCY_DURATION_MS = Number(process.env.BENCH_LATENCY_MS ?? 5_000);
/** Latency samples of the first half second are left out: channel and JIT warm-up. */
const LATENCY_WARMUP_MS = 500;
/** Overhead target of the SDK over the raw client, as a throughput ratio. */
const SDK_RATIO_TARGET = 0.8;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** send() CPU per record while batching: lingerMs is long, so send() only appends; flushes between rounds are not measured. */
async function appendCost(bus: StreamBus, topic: string, count: number): Promise<number> {
  const value = Buffer.alloc(SMALL_RECORD_BYTES, 7);
  const producer = bus.producer({ lingerMs: 600_000, batchBytes: BATCH_BYTES, bufferMemoryBytes: 256 * 1024 * 1024 });
  await bus.refreshMetadata([topic]);
  // Rounds of `round` sends, flushed between rounds (unmeasured): a producer keeps a bounded
  // number of sends outstanding, and so does this loop.
  const round = 10_000;
  let sdkMicros = 0;
  for (let r = -1; r < count / round; r++) {
    const sends: Promise<unknown>[] = [];
    const start = cpuMicros();
    for (let i = 0; i < round; i++) sends.push(producer.send({ topic, messages: [{ key: `k${i}`, value }] }));
    if (r >= 0) sdkMicros += cpuMicros() - start; // round -1 warms up
    await producer.flush();
    await Promise.all(sends);
  }
  await producer.close();
  return sdkMicros / count;
}

/** The baseline of appendCost: BatchBuilder.tryAppend alone on the same records. */
function builderCost(count: number): number {
  const value = Buffer.alloc(SMALL_RECORD_BYTES, 7);
  let builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
  const startRaw = cpuMicros();
  for (let i = 0; i < count; i++) {
    const record = { key: Buffer.from(`k${i}`), value, timestamp: Date.now() };
    if (!builder.tryAppend(record)) {
      builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
      builder.tryAppend(record);
    }
  }
  return (cpuMicros() - startRaw) / count;
}

async function produceSdk(bus: StreamBus, topic: string): Promise<number> {
  const producer = bus.producer({ lingerMs: 2, batchBytes: BATCH_BYTES, bufferMemoryBytes: 16 * 1024 * 1024, acks: 1 });
  const value = Buffer.alloc(RECORD_BYTES, 3);
  const messages = Array.from({ length: 16 }, (_, i) => ({ partition: i % PARTITIONS, value }));
  const endAt = Date.now() + durationMs;
  let records = 0;
  const started = process.hrtime.bigint();
  // Many sends outstanding; buffer memory applies the backpressure.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  while (Date.now() < endAt && failure === undefined) {
    const p: Promise<void> = producer.send({ topic, messages }).then(
      () => {
        records += messages.length;
        inFlight.delete(p);
      },
      (err: unknown) => {
        failure ??= err;
        inFlight.delete(p);
      },
    );
    inFlight.add(p);
    if (inFlight.size >= 512) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('SDK produce failed', { cause: failure });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.close();
  return (records * RECORD_BYTES) / seconds / 1e6;
}

/**
 * Raw generated-client Produce calls. `prebuilt`: every request reuses batches sealed once
 * (the transport and broker alone); otherwise each request's batches are built and sealed
 * anew, as the SDK must.
 */
async function produceRaw(address: string, topic: string, prebuilt: boolean): Promise<number> {
  const client = createClient(address);
  const value = Buffer.alloc(RECORD_BYTES, 3);
  const recordsPerBatch = Math.floor(BATCH_BYTES / (RECORD_BYTES + 16));
  const sealedOnce = await Promise.all(
    Array.from({ length: PARTITIONS }, async () => {
      const builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
      for (let i = 0; i < recordsPerBatch; i++) builder.tryAppend({ value });
      return builder.seal();
    }),
  );
  const endAt = Date.now() + durationMs;
  let records = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < endAt) {
      const partitions: ProducePartitionData[] = [];
      for (let partition = 0; partition < PARTITIONS; partition++) {
        if (prebuilt) {
          partitions.push({ topic, partition, currentLeaderEpoch: undefined, records: sealedOnce[partition]! });
          continue;
        }
        const builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
        for (let i = 0; i < recordsPerBatch; i++) builder.tryAppend({ value });
        partitions.push({ topic, partition, currentLeaderEpoch: undefined, records: await builder.seal() });
      }
      const response = await client.produce({ acks: 1, timeoutMs: 30_000, partitions });
      if (response.partitions.some((p) => p.errorCode !== ErrorCode.NONE)) throw new Error('raw produce failed');
      records += recordsPerBatch * PARTITIONS;
    }
  };
  // Five requests in flight, as the SDK's default maxInFlightRequestsPerConnection.
  await Promise.all(Array.from({ length: 5 }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  return (records * RECORD_BYTES) / seconds / 1e6;
}

async function consumeSdk(bus: StreamBus, topic: string, totalRecords: number, fetchMode: 'poll' | 'stream'): Promise<number> {
  const consumer = bus.consumer({ fetchMode, fetchMaxWaitMs: 100 });
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 })));
  let records = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  for await (const record of consumer.records()) {
    records++;
    bytes += record.value?.length ?? 0;
    if (records === totalRecords) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.close();
  return bytes / seconds / 1e6;
}

async function consumeRaw(address: string, topic: string, totalRecords: number): Promise<number> {
  const client = createClient(address);
  const offsets = Array.from({ length: PARTITIONS }, () => 0);
  let records = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  while (records < totalRecords) {
    const response = await client.fetch({
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 50 * 1024 * 1024,
      isolationLevel: 0,
      partitions: offsets.map((fetchOffset, partition) => ({ topic, partition, fetchOffset, currentLeaderEpoch: undefined, partitionMaxBytes: 1024 * 1024 })),
    });
    for (const answer of response.partitions) {
      const decoded = await decodeAll(answer.records);
      records += decoded.records;
      bytes += decoded.valueBytes;
      if (decoded.nextOffset !== undefined) offsets[answer.partition] = decoded.nextOffset;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  return bytes / seconds / 1e6;
}

/** Decodes every record of a fetch answer: the raw baselines' per-record work. */
async function decodeAll(batches: Buffer): Promise<{ records: number; valueBytes: number; nextOffset: number | undefined }> {
  let records = 0;
  let valueBytes = 0;
  let nextOffset: number | undefined;
  for (const batch of splitBatches(batches)) {
    for (const record of await decodeRecords(batch)) {
      records++;
      valueBytes += record.value?.length ?? 0;
    }
    nextOffset = batch.nextOffset;
  }
  return { records, valueBytes, nextOffset };
}

/** Raw FetchStream pushes + decodeRecords: the baseline of the SDK's stream mode. */
async function consumeRawStream(address: string, topic: string, totalRecords: number): Promise<number> {
  const client = createClient(address);
  let records = 0;
  let bytes = 0;
  const abort = new AbortController();
  const started = process.hrtime.bigint();
  const request = {
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, fetchOffset: 0, currentLeaderEpoch: undefined, partitionMaxBytes: 1024 * 1024 })),
  };
  try {
    for await (const push of client.fetchStream(request, { signal: abort.signal })) {
      for (const answer of push.partitions) {
        if (answer.errorCode !== ErrorCode.NONE) throw new Error(`raw FetchStream: error ${answer.errorCode} on ${topic}-${answer.partition}`);
        const decoded = await decodeAll(answer.records);
        records += decoded.records;
        bytes += decoded.valueBytes;
      }
      if (records >= totalRecords) break;
    }
  } finally {
    abort.abort();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  return bytes / seconds / 1e6;
}

/** Baseline of the latency run: sequential raw one-record Produce calls (acks=1), round trip. */
async function rawProduceRoundTrip(address: string, topic: string, calls: number): Promise<{ p50Ms: number; p99Ms: number }> {
  const client = createClient(address);
  const builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
  builder.tryAppend({ value: Buffer.alloc(RECORD_BYTES, 6) });
  const records = await builder.seal();
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const response = await client.produce({ acks: 1, timeoutMs: 30_000, partitions: [{ topic, partition: 0, currentLeaderEpoch: undefined, records }] });
    if (response.partitions[0]?.errorCode !== ErrorCode.NONE) throw new Error('raw produce failed');
    if (i >= calls / 10) h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1_000)));
  }
  client.close();
  const result = { p50Ms: round(h.getValueAtPercentile(50) / 1_000, 3), p99Ms: round(h.getValueAtPercentile(99) / 1_000, 3) };
  h.destroy();
  return result;
}

interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  records: number;
  achievedPerSec: number;
}

/**
 * End-to-end latency at a fixed rate: each record's 4-byte index leads its value; latency is
 * measured from the record's scheduled send time (so a stalled sender counts against it —
 * no coordinated omission) to the moment a streaming consumer hands it out.
 */
async function endToEndLatency(bus: StreamBus, topic: string, ratePerSec: number, durationMsTotal: number): Promise<LatencyResult> {
  const total = Math.floor((ratePerSec * durationMsTotal) / 1_000);
  const warmup = Math.floor((ratePerSec * LATENCY_WARMUP_MS) / 1_000);
  const endToEnd = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const ack = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const consumer = bus.consumer({ fetchMode: 'stream', autoOffsetReset: 'latest' });
  consumer.assign([{ topic, partition: 0, offset: 'latest' }]);
  for (let i = 0; i < 500 && consumer.position({ topic, partition: 0 }) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  const producer = bus.producer({ lingerMs: 1, batchBytes: BATCH_BYTES, acks: 1 });
  const scheduled = new Float64Array(total);
  let received = 0;
  const consuming = (async () => {
    for await (const record of consumer.records({ signal: AbortSignal.timeout(durationMsTotal + 60_000) })) {
      const index = record.value?.readUInt32BE(0) ?? -1;
      if (index >= warmup && index < total) endToEnd.recordValue(Math.max(1, Math.round((performance.now() - scheduled[index]!) * 1_000)));
      if (++received === total) return;
    }
  })();
  const sends: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * ratePerSec) / 1_000));
    for (; sent < due; sent++) {
      const index = sent;
      scheduled[index] = started + (index * 1_000) / ratePerSec;
      const value = Buffer.alloc(RECORD_BYTES, 5);
      value.writeUInt32BE(index, 0);
      sends.push(
        producer.send({ topic, messages: [{ partition: 0, value }] }).then(() => {
          if (index >= warmup) ack.recordValue(Math.max(1, Math.round((performance.now() - scheduled[index]!) * 1_000)));
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const sendSeconds = (performance.now() - started) / 1_000;
  await Promise.all(sends);
  await consuming;
  await producer.close();
  await consumer.close();
  const ms = (h: hdr.Histogram, p: number): number => round(h.getValueAtPercentile(p) / 1_000, 3);
  const result = {
    p50Ms: ms(endToEnd, 50),
    p99Ms: ms(endToEnd, 99),
    p999Ms: ms(endToEnd, 99.9),
    maxMs: round(endToEnd.maxValue / 1_000, 3),
    ackP50Ms: ms(ack, 50),
    ackP99Ms: ms(ack, 99),
    records: total,
    achievedPerSec: round(total / sendSeconds, 0),
  };
  endToEnd.destroy();
  ack.destroy();
  return result;
}

interface ThroughputResult {
  sendAppendUsPerRecord: number;
  produceRawMBPerSec: number;
  produceSdkMBPerSec: number;
  consumeRawMBPerSec: number;
  consumeRawStreamMBPerSec: number;
  consumeSdkPollMBPerSec: number;
  consumeSdkStreamMBPerSec: number;
  consumeRecords: number;
}

interface Target {
  readonly name: string;
  readonly address: string;
  readonly bus: StreamBus;
  createTopic(name: string, partitions: number): Promise<void>;
  recordCount(topic: string): Promise<number>;
  readonly appendRecords: number;
  readonly consumeRecordsMax: number;
  /** Raw produce reuses batches sealed once (see produceRaw). */
  readonly rawPrebuilt: boolean;
}

async function throughput(target: Target): Promise<ThroughputResult> {
  const tag = `[${target.name}]`;
  await target.createTopic('append', PARTITIONS);
  await target.createTopic('raw', PARTITIONS);
  await target.createTopic('sdk', PARTITIONS);
  const sendAppendUsPerRecord = await appendCost(target.bus, 'append', target.appendRecords);
  log(`${tag} send() append: ${sendAppendUsPerRecord.toFixed(3)} µs CPU/record`);
  // Loaded shared machines swing by 2x within seconds: each figure is the best of ROUNDS,
  // with the SDK run and its baseline interleaved so a slow phase hits both.
  const best = async (what: string, run: () => Promise<number>, previous: number): Promise<number> => {
    log(`${tag} ${what} ...`);
    const mbPerSec = await run();
    log(`${tag}   ${mbPerSec.toFixed(0)} MB/s`);
    return Math.max(previous, mbPerSec);
  };
  let produceRawMBPerSec = 0;
  let produceSdkMBPerSec = 0;
  for (let r = 0; r < ROUNDS; r++) {
    produceRawMBPerSec = await best(`produce: raw generated client${target.rawPrebuilt ? ', pre-built batches' : ''}`, () => produceRaw(target.address, 'raw', target.rawPrebuilt), produceRawMBPerSec);
    produceSdkMBPerSec = await best('produce: SDK producer', () => produceSdk(target.bus, 'sdk'), produceSdkMBPerSec);
  }
  // Consume the same log (the raw runs') every way, capped so a fast machine stays quick.
  const consumeRecords = Math.min(await target.recordCount('raw'), target.consumeRecordsMax);
  log(`${tag} consume ${consumeRecords} records each time`);
  let [consumeRawMBPerSec, consumeSdkPollMBPerSec, consumeRawStreamMBPerSec, consumeSdkStreamMBPerSec] = [0, 0, 0, 0];
  for (let r = 0; r < ROUNDS; r++) {
    consumeRawMBPerSec = await best('consume: raw Fetch + decode', () => consumeRaw(target.address, 'raw', consumeRecords), consumeRawMBPerSec);
    consumeSdkPollMBPerSec = await best('consume: SDK consumer (poll)', () => consumeSdk(target.bus, 'raw', consumeRecords, 'poll'), consumeSdkPollMBPerSec);
    consumeRawStreamMBPerSec = await best('consume: raw FetchStream + decode', () => consumeRawStream(target.address, 'raw', consumeRecords), consumeRawStreamMBPerSec);
    consumeSdkStreamMBPerSec = await best('consume: SDK consumer (stream)', () => consumeSdk(target.bus, 'raw', consumeRecords, 'stream'), consumeSdkStreamMBPerSec);
  }
  return { sendAppendUsPerRecord, produceRawMBPerSec, produceSdkMBPerSec, consumeRawMBPerSec, consumeRawStreamMBPerSec, consumeSdkPollMBPerSec, consumeSdkStreamMBPerSec, consumeRecords };
}

function ratiosOf(t: ThroughputResult, builderUsPerRecord: number): Record<string, number> {
  return {
    sendAppendVsBatchBuilder: round(t.sendAppendUsPerRecord / builderUsPerRecord),
    produceSdkVsRaw: round(t.produceSdkMBPerSec / t.produceRawMBPerSec),
    consumeSdkPollVsRaw: round(t.consumeSdkPollMBPerSec / t.consumeRawMBPerSec),
    consumeSdkStreamVsRaw: round(t.consumeSdkStreamMBPerSec / t.consumeRawMBPerSec),
    consumeSdkStreamVsRawStream: round(t.consumeSdkStreamMBPerSec / t.consumeRawStreamMBPerSec),
  };
}

function printRows(title: string, t: ThroughputResult, ratios: Record<string, number>, builderUsPerRecord: number): void {
  const rows: [string, number, string][] = [
    ['send() CPU per 100 B record, batching (µs)', t.sendAppendUsPerRecord, `${ratios.sendAppendVsBatchBuilder}x BatchBuilder alone`],
    ['baseline: BatchBuilder.tryAppend (µs)', builderUsPerRecord, ''],
    ['produce 1 KiB records, SDK (MB/s)', t.produceSdkMBPerSec, `${ratios.produceSdkVsRaw}x raw`],
    ['baseline: produce, raw client (MB/s)', t.produceRawMBPerSec, ''],
    ['consume, SDK poll (MB/s)', t.consumeSdkPollMBPerSec, `${ratios.consumeSdkPollVsRaw}x raw`],
    ['consume, SDK stream (MB/s)', t.consumeSdkStreamMBPerSec, `${ratios.consumeSdkStreamVsRaw}x raw, ${ratios.consumeSdkStreamVsRawStream}x raw stream`],
    ['baseline: consume, raw Fetch + decode (MB/s)', t.consumeRawMBPerSec, ''],
    ['baseline: consume, raw FetchStream + decode (MB/s)', t.consumeRawStreamMBPerSec, ''],
  ];
  process.stdout.write(`${title}\n`);
  for (const [name, value, ratio] of rows) process.stdout.write(`  ${name.padEnd(48)} ${value.toFixed(3).padStart(12)}  ${ratio}\n`);
}

const figuresOf = (t: ThroughputResult): Record<string, number> => ({
  sendAppendUsPerRecord: round(t.sendAppendUsPerRecord, 3),
  produceSdkMBPerSec: round(t.produceSdkMBPerSec, 1),
  produceSdkRecordsPerSec: round((t.produceSdkMBPerSec * 1e6) / RECORD_BYTES, 0),
  consumeSdkPollMBPerSec: round(t.consumeSdkPollMBPerSec, 1),
  consumeSdkStreamMBPerSec: round(t.consumeSdkStreamMBPerSec, 1),
  consumeRecords: t.consumeRecords,
});

const APPEND_RECORDS = 200_000;
const builderUsPerRecord = builderCost(APPEND_RECORDS);
log(`BatchBuilder.tryAppend alone: ${builderUsPerRecord.toFixed(3)} µs CPU/record`);

// 1. The in-process fake.
const fake = await FakeBroker.start({ brokerCount: 1 });
const fakeBus = new StreamBus({ brokers: fake.brokers });
let fakeResult: ThroughputResult;
try {
  fakeResult = await throughput({
    name: 'fake',
    address: fake.brokers[0]!,
    bus: fakeBus,
    createTopic: async (name, partitions) => void fake.createTopic(name, partitions),
    recordCount: async (topic) => Array.from({ length: PARTITIONS }, (_, p) => fake.logEndOffset(topic, p)).reduce((a, b) => a + b, 0),
    appendRecords: APPEND_RECORDS,
    consumeRecordsMax: 400_000,
    rawPrebuilt: false,
  });
} finally {
  await fakeBus.close();
  await fake.stop();
}
const fakeRatios = ratiosOf(fakeResult, builderUsPerRecord);

// 2. One real broker process.
let real: { readyMs: number; result: ThroughputResult; ratios: Record<string, number>; latency: LatencyResult; roundTrip: { p50Ms: number; p99Ms: number } } | undefined;
let realSkipped: string | undefined;
if (process.env.BENCH_REAL_BROKER === '0') realSkipped = 'BENCH_REAL_BROKER=0';
else if (!realBrokerAvailable()) realSkipped = 'apps/broker not found';
else {
  log('[real] building and starting one broker process ...');
  const broker = await startRealBroker();
  log(`[real] broker pid ${broker.pid} ready in ${broker.readyMs.toFixed(0)} ms`);
  const bus = new StreamBus({ brokers: [broker.clientAddress] });
  try {
    const admin = bus.admin();
    const createTopic = async (name: string, partitions: number): Promise<void> => {
      await admin.createTopics([{ name, numPartitions: partitions, replicationFactor: 1 }]);
      // The leader opens the partition logs a moment after the metadata names it.
      await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic: name, partition, spec: 'latest' as const })));
    };
    // Latency first, on a fresh broker: flushes and compactions of the throughput runs' ~GB
    // of data would otherwise run in the broker during it.
    await createTopic('latency', 1);
    await createTopic('round-trip', 1);
    log('[real] baseline: raw one-record Produce round trip ...');
    const roundTrip = await rawProduceRoundTrip(broker.clientAddress, 'round-trip', 500);
    log(`[real]   p50 ${roundTrip.p50Ms} ms, p99 ${roundTrip.p99Ms} ms`);
    log(`[real] end-to-end latency at ${LATENCY_RATE_PER_SEC} records/s of ${RECORD_BYTES} B for ${LATENCY_DURATION_MS} ms ...`);
    const latency = await endToEndLatency(bus, 'latency', LATENCY_RATE_PER_SEC, LATENCY_DURATION_MS);
    log(`[real]   p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, p99.9 ${latency.p999Ms} ms (ack p50 ${latency.ackP50Ms} ms, p99 ${latency.ackP99Ms} ms)`);
    const result = await throughput({
      name: 'real',
      address: broker.clientAddress,
      bus,
      createTopic,
      recordCount: async (topic) => (await admin.listOffsets(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, spec: 'latest' as const })))).reduce((a, o) => a + o.offset, 0),
      appendRecords: 100_000,
      consumeRecordsMax: 200_000,
      rawPrebuilt: true,
    });
    const ratios = { ...ratiosOf(result, builderUsPerRecord), endToEndP50VsRawRoundTripP50: round(latency.p50Ms / roundTrip.p50Ms) };
    real = { readyMs: broker.readyMs, result, ratios, latency, roundTrip };
  } catch (err) {
    log(`[real] failed; the broker's last output:\n${broker.output()}`);
    throw err;
  } finally {
    await bus.close();
    await broker.stop();
  }
}

printRows('in-process FakeBroker', fakeResult, fakeRatios, builderUsPerRecord);
if (real !== undefined) {
  printRows('one real broker process (RF=1, flush=always)', real.result, real.ratios, builderUsPerRecord);
  const l = real.latency;
  process.stdout.write(`  end-to-end latency at ${LATENCY_RATE_PER_SEC}/s (ms): p50 ${l.p50Ms}  p99 ${l.p99Ms}  p99.9 ${l.p999Ms}  max ${l.maxMs}  (ack p50 ${l.ackP50Ms}, p99 ${l.ackP99Ms}; achieved ${l.achievedPerSec}/s)\n`);
  process.stdout.write(`  baseline: raw one-record Produce round trip (ms): p50 ${real.roundTrip.p50Ms}  p99 ${real.roundTrip.p99Ms}; end-to-end p50 is ${real.ratios.endToEndP50VsRawRoundTripP50}x\n`);
} else {
  process.stdout.write(`real broker skipped: ${realSkipped}\n`);
}
const realJson =
  real === undefined
    ? { skipped: realSkipped }
    : {
        brokerReadyMs: round(real.readyMs, 0),
        baseline: {
          produceRawPrebuiltMBPerSec: round(real.result.produceRawMBPerSec, 1),
          consumeRawMBPerSec: round(real.result.consumeRawMBPerSec, 1),
          consumeRawStreamMBPerSec: round(real.result.consumeRawStreamMBPerSec, 1),
          rawProduceRoundTripP50Ms: real.roundTrip.p50Ms,
          rawProduceRoundTripP99Ms: real.roundTrip.p99Ms,
        },
        figures: { ...figuresOf(real.result), endToEndLatency: { ratePerSec: LATENCY_RATE_PER_SEC, ...real.latency } },
        ratios: real.ratios,
        sdkRatioTarget: SDK_RATIO_TARGET,
        sdkWithinTarget: Math.min(real.ratios.produceSdkVsRaw!, real.ratios.consumeSdkPollVsRaw!, real.ratios.consumeSdkStreamVsRawStream!) >= SDK_RATIO_TARGET,
      };
process.stdout.write(
  `${JSON.stringify({
    package: '@streambus/client',
    durationMs,
    recordBytes: RECORD_BYTES,
    partitions: PARTITIONS,
    batchBytes: BATCH_BYTES,
    baseline: {
      batchBuilderAppendUsPerRecord: round(builderUsPerRecord, 3),
      produceRawMBPerSec: round(fakeResult.produceRawMBPerSec, 1),
      consumeRawMBPerSec: round(fakeResult.consumeRawMBPerSec, 1),
      consumeRawStreamMBPerSec: round(fakeResult.consumeRawStreamMBPerSec, 1),
    },
    figures: figuresOf(fakeResult),
    ratios: fakeRatios,
    realBroker: realJson,
  })}\n`,
);
