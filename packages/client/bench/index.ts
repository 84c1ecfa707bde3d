// @streambus/client benchmarks (PERFORMANCE.md). Everything runs against an in-process
// FakeBroker on loopback, and every SDK figure has a baseline measured in the same run:
//  - send() CPU cost per record while batching (no network: lingerMs is long, so send()
//    only appends), against BatchBuilder.tryAppend alone on the same records;
//  - produce throughput, SDK producer vs raw generated-client Produce calls (same record
//    size, batch size and partitions; the raw loop builds its batches with BatchBuilder too);
//  - consume throughput, SDK consumer vs raw Fetch calls + decodeRecords over the same log.
// Progress on stderr; a table and then ONE JSON line on stdout.
// BENCH_DURATION_MS sets the time per throughput measurement (default 3000).
import { ErrorCode, createClient, type ProducePartitionData } from '@streambus/protocol';
import { BatchBuilder, BatchView, decodeRecords } from '@streambus/record';
import { FakeBroker, StreamBus } from '../src/index.js';

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const RECORD_BYTES = 1024;
const SMALL_RECORD_BYTES = 100;
const PARTITIONS = 4;
const BATCH_BYTES = 64 * 1024;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function appendCost(bus: StreamBus, fake: FakeBroker): Promise<{ sdkUsPerRecord: number; builderUsPerRecord: number }> {
  fake.createTopic('append', PARTITIONS);
  const value = Buffer.alloc(SMALL_RECORD_BYTES, 7);
  const count = 200_000;
  const producer = bus.producer({ lingerMs: 600_000, batchBytes: BATCH_BYTES, bufferMemoryBytes: 256 * 1024 * 1024 });
  await bus.refreshMetadata(['append']);
  // Rounds of `round` sends, flushed between rounds (unmeasured): a producer keeps a bounded
  // number of sends outstanding, and so does this loop.
  const round = 10_000;
  let sdkMicros = 0;
  for (let r = -1; r < count / round; r++) {
    const sends: Promise<unknown>[] = [];
    const start = cpuMicros();
    for (let i = 0; i < round; i++) sends.push(producer.send({ topic: 'append', messages: [{ key: `k${i}`, value }] }));
    if (r >= 0) sdkMicros += cpuMicros() - start; // round -1 warms up
    await producer.flush();
    await Promise.all(sends);
  }
  const sdkUsPerRecord = sdkMicros / count;
  await producer.close();
  log(`send() append: ${sdkUsPerRecord.toFixed(3)} µs CPU/record`);

  let builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
  const startRaw = cpuMicros();
  for (let i = 0; i < count; i++) {
    const record = { key: Buffer.from(`k${i}`), value, timestamp: Date.now() };
    if (!builder.tryAppend(record)) {
      builder = new BatchBuilder({ batchBytesMax: BATCH_BYTES });
      builder.tryAppend(record);
    }
  }
  const builderUsPerRecord = (cpuMicros() - startRaw) / count;
  log(`BatchBuilder.tryAppend alone: ${builderUsPerRecord.toFixed(3)} µs CPU/record`);
  return { sdkUsPerRecord, builderUsPerRecord };
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
  while (Date.now() < endAt) {
    const p: Promise<void> = producer.send({ topic, messages }).then(() => {
      records += messages.length;
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= 512) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.close();
  return (records * RECORD_BYTES) / seconds / 1e6;
}

async function produceRaw(address: string, topic: string): Promise<number> {
  const client = createClient(address);
  const value = Buffer.alloc(RECORD_BYTES, 3);
  const recordsPerBatch = Math.floor(BATCH_BYTES / (RECORD_BYTES + 16));
  const endAt = Date.now() + durationMs;
  let records = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < endAt) {
      const partitions: ProducePartitionData[] = [];
      for (let partition = 0; partition < PARTITIONS; partition++) {
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

async function consumeRaw(address: string, fake: FakeBroker, topic: string, totalRecords: number): Promise<number> {
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
      isolationLevel: 1,
      partitions: offsets.map((fetchOffset, partition) => ({ topic, partition, fetchOffset, currentLeaderEpoch: undefined, partitionMaxBytes: 1024 * 1024 })),
    });
    for (const answer of response.partitions) {
      let position = 0;
      while (position < answer.records.length) {
        const batch = BatchView.parse(answer.records, position);
        position += batch.sizeInBytes;
        for (const record of await decodeRecords(batch)) {
          records++;
          bytes += record.value?.length ?? 0;
        }
        offsets[answer.partition] = batch.nextOffset;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  client.close();
  void fake;
  return bytes / seconds / 1e6;
}

const fake = await FakeBroker.start({ brokerCount: 1 });
const bus = new StreamBus({ brokers: fake.brokers });
try {
  const append = await appendCost(bus, fake);

  fake.createTopic('raw', PARTITIONS);
  fake.createTopic('sdk', PARTITIONS);
  log('produce: raw generated client ...');
  const produceRawMBPerSec = await produceRaw(fake.brokers[0]!, 'raw');
  log(`  ${produceRawMBPerSec.toFixed(0)} MB/s`);
  log('produce: SDK producer ...');
  const produceSdkMBPerSec = await produceSdk(bus, 'sdk');
  log(`  ${produceSdkMBPerSec.toFixed(0)} MB/s`);

  // Consume the same log (the raw run's) both ways, capped so a fast machine stays quick.
  let total = 0;
  for (let p = 0; p < PARTITIONS; p++) total += fake.logEndOffset('raw', p);
  const consumeRecords = Math.min(total, 400_000);
  log(`consume ${consumeRecords} records: raw Fetch + decode ...`);
  const consumeRawMBPerSec = await consumeRaw(fake.brokers[0]!, fake, 'raw', consumeRecords);
  log(`  ${consumeRawMBPerSec.toFixed(0)} MB/s`);
  log('consume: SDK consumer (poll) ...');
  const consumeSdkMBPerSec = await consumeSdk(bus, 'raw', consumeRecords, 'poll');
  log(`  ${consumeSdkMBPerSec.toFixed(0)} MB/s`);
  log('consume: SDK consumer (stream) ...');
  const consumeSdkStreamMBPerSec = await consumeSdk(bus, 'raw', consumeRecords, 'stream');
  log(`  ${consumeSdkStreamMBPerSec.toFixed(0)} MB/s`);

  const ratios = {
    sendAppendVsBatchBuilder: round(append.sdkUsPerRecord / append.builderUsPerRecord),
    produceSdkVsRaw: round(produceSdkMBPerSec / produceRawMBPerSec),
    consumeSdkPollVsRaw: round(consumeSdkMBPerSec / consumeRawMBPerSec),
    consumeSdkStreamVsRaw: round(consumeSdkStreamMBPerSec / consumeRawMBPerSec),
  };
  const rows: [string, number, string][] = [
    ['send() CPU per 100 B record, batching (µs)', append.sdkUsPerRecord, `${ratios.sendAppendVsBatchBuilder}x BatchBuilder alone`],
    ['baseline: BatchBuilder.tryAppend (µs)', append.builderUsPerRecord, ''],
    ['produce 1 KiB records, SDK (MB/s)', produceSdkMBPerSec, `${ratios.produceSdkVsRaw}x raw`],
    ['baseline: produce, raw client (MB/s)', produceRawMBPerSec, ''],
    ['consume, SDK poll (MB/s)', consumeSdkMBPerSec, `${ratios.consumeSdkPollVsRaw}x raw`],
    ['consume, SDK stream (MB/s)', consumeSdkStreamMBPerSec, `${ratios.consumeSdkStreamVsRaw}x raw`],
    ['baseline: consume, raw Fetch + decode (MB/s)', consumeRawMBPerSec, ''],
  ];
  for (const [name, value, ratio] of rows) process.stdout.write(`${name.padEnd(48)} ${value.toFixed(3).padStart(12)}  ${ratio}\n`);
  process.stdout.write(
    `${JSON.stringify({
      package: '@streambus/client',
      durationMs,
      recordBytes: RECORD_BYTES,
      partitions: PARTITIONS,
      batchBytes: BATCH_BYTES,
      baseline: {
        batchBuilderAppendUsPerRecord: round(append.builderUsPerRecord, 3),
        produceRawMBPerSec: round(produceRawMBPerSec, 1),
        consumeRawMBPerSec: round(consumeRawMBPerSec, 1),
      },
      figures: {
        sendAppendUsPerRecord: round(append.sdkUsPerRecord, 3),
        produceSdkMBPerSec: round(produceSdkMBPerSec, 1),
        produceSdkRecordsPerSec: round((produceSdkMBPerSec * 1e6) / RECORD_BYTES, 0),
        consumeSdkPollMBPerSec: round(consumeSdkMBPerSec, 1),
        consumeSdkStreamMBPerSec: round(consumeSdkStreamMBPerSec, 1),
      },
      ratios,
    })}\n`,
  );
} finally {
  await bus.close();
  await fake.stop();
}
