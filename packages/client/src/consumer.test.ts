import { ErrorCode, StreamBusError } from '@streambus/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsumerRecord } from './consumer.js';
import { type Producer } from './producer.js';
import { StreamBus } from './streambus.js';
import { FakeBroker } from './testing/fake-broker.js';
import { eventually, trackUnhandledRejections } from './testing/harness.js';

trackUnhandledRejections();

let fake: FakeBroker;
let bus: StreamBus;
let producer: Producer;

beforeEach(async () => {
  fake = await FakeBroker.start({ brokerCount: 2, topics: [{ name: 'events', partitions: 4 }] });
  bus = new StreamBus({ brokers: fake.brokers, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
  producer = bus.producer({ lingerMs: 2 });
});

afterEach(async () => {
  await bus.close();
  await fake.stop();
});

async function produce(partition: number, from: number, count: number): Promise<void> {
  await producer.send({ topic: 'events', messages: Array.from({ length: count }, (_, i) => ({ partition, value: `${from + i}`, timestamp: 1_000 + from + i })) });
}

async function take(iterator: AsyncIterator<ConsumerRecord>, count: number): Promise<ConsumerRecord[]> {
  const out: ConsumerRecord[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}

describe.each(['poll', 'stream'] as const)('consumer (%s fetch)', (fetchMode) => {
  it('reads every assigned partition in offset order from earliest', async () => {
    for (let p = 0; p < 4; p++) await produce(p, 0, 25);
    const consumer = bus.consumer({ fetchMode, fetchMaxWaitMs: 50 });
    consumer.assign([0, 1, 2, 3].map((partition) => ({ topic: 'events', partition, offset: 'earliest' as const })));
    const records = await take(consumer.records(), 100);
    for (let p = 0; p < 4; p++) {
      const mine = records.filter((r) => r.partition === p);
      expect(mine.map((r) => r.offset)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(mine.map((r) => r.value!.toString())).toEqual(Array.from({ length: 25 }, (_, i) => `${i}`));
    }
    expect(consumer.lag({ topic: 'events', partition: 0 })).toBe(0);
    await consumer.close();
  });

  it('keeps serving other partitions while a full partition is paused', async () => {
    await produce(0, 0, 40);
    await produce(2, 0, 5);
    const consumer = bus.consumer({ fetchMode, fetchMaxWaitMs: 50, maxPartitionFetchBytes: 256 });
    consumer.assign([
      { topic: 'events', partition: 0, offset: 0 },
      { topic: 'events', partition: 2, offset: 0 },
    ]);
    // Partitions 0 and 2 share a leader (one fetch loop, one stream). Both fetched (partition 0's buffer is full: 40 records > 256 bytes), then pause it.
    await eventually(() => consumer.lags().every((l) => l.highWatermark !== undefined));
    consumer.pause([{ topic: 'events', partition: 0 }]);
    const iterator = consumer.records();
    expect((await take(iterator, 5)).map((r) => `${r.partition}:${r.offset}`)).toEqual(['2:0', '2:1', '2:2', '2:3', '2:4']);
    await produce(2, 5, 2);
    expect((await take(iterator, 2)).map((r) => `${r.partition}:${r.offset}`)).toEqual(['2:5', '2:6']);
    consumer.resume([{ topic: 'events', partition: 0 }]);
    expect((await take(iterator, 40)).map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await consumer.close();
  });

  it('tails new records from latest', async () => {
    await produce(1, 0, 5);
    const consumer = bus.consumer({ fetchMode, fetchMaxWaitMs: 50 });
    consumer.assign([{ topic: 'events', partition: 1, offset: 'latest' }]);
    const iterator = consumer.records();
    const pending = take(iterator, 3);
    await eventually(() => consumer.position({ topic: 'events', partition: 1 }) === 5);
    await produce(1, 5, 3);
    expect((await pending).map((r) => r.offset)).toEqual([5, 6, 7]);
    await consumer.close();
    expect((await iterator.next()).done).toBe(true);
  });
  it('keeps consuming across a leader move and injected fetch errors', async () => {
    await produce(0, 0, 10);
    const consumer = bus.consumer({ fetchMode, fetchMaxWaitMs: 20 });
    consumer.assign([{ topic: 'events', partition: 0, offset: 0 }]);
    const iterator = consumer.records();
    expect(await take(iterator, 10)).toHaveLength(10);
    fake.moveLeader('events', 0, 1 - fake.leaderOf('events', 0).leaderId);
    fake.injectError({ api: 'fetch', topic: 'events', partition: 0, errorCode: ErrorCode.LEADER_NOT_AVAILABLE, count: 2 });
    fake.injectError({ api: 'fetch', grpcStatus: 14 });
    await produce(0, 10, 10);
    expect((await take(iterator, 10)).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    await consumer.close();
  });
});

describe('consumer', () => {
  it('skips records below the requested offset inside the first batch', async () => {
    await produce(0, 0, 10);
    expect(fake.batches('events', 0)).toHaveLength(1);
    const consumer = bus.consumer({ fetchMaxWaitMs: 20 });
    consumer.assign([{ topic: 'events', partition: 0, offset: 6 }]);
    const records = await take(consumer.records(), 4);
    expect(records.map((r) => r.offset)).toEqual([6, 7, 8, 9]);
    await consumer.close();
  });

  it('seeks, pauses and resumes, with position and lag per partition', async () => {
    await produce(2, 0, 20);
    await produce(3, 0, 10);
    const consumer = bus.consumer({ fetchMaxWaitMs: 20 });
    consumer.assign([
      { topic: 'events', partition: 2, offset: 0 },
      { topic: 'events', partition: 3, offset: 0 },
    ]);
    consumer.pause([{ topic: 'events', partition: 3 }]);
    const iterator = consumer.records();
    const first = await take(iterator, 20);
    expect(first.every((r) => r.partition === 2)).toBe(true);
    expect(consumer.position({ topic: 'events', partition: 2 })).toBe(20);
    expect(consumer.lag({ topic: 'events', partition: 2 })).toBe(0);
    expect(consumer.paused()).toEqual([{ topic: 'events', partition: 3 }]);
    consumer.seek({ topic: 'events', partition: 2 }, 15);
    expect(consumer.position({ topic: 'events', partition: 2 })).toBe(15);
    expect((await take(iterator, 5)).map((r) => r.offset)).toEqual([15, 16, 17, 18, 19]);
    consumer.resume([{ topic: 'events', partition: 3 }]);
    const resumed = await take(iterator, 10);
    expect(resumed.map((r) => `${r.partition}:${r.offset}`)).toEqual(Array.from({ length: 10 }, (_, i) => `3:${i}`));
    await produce(3, 10, 4);
    await eventually(() => consumer.lags().find((l) => l.partition === 3)?.lag === 4);
    consumer.seek({ topic: 'events', partition: 3 }, 'earliest');
    expect((await take(iterator, 1))[0]!.offset).toBe(0);
    await consumer.close();
  });

  it('seeks by timestamp', async () => {
    await produce(0, 0, 5);
    await produce(0, 5, 5);
    const consumer = bus.consumer({ fetchMaxWaitMs: 20 });
    consumer.assign([{ topic: 'events', partition: 0, offset: { timestamp: 1_007 } }]);
    // The fake resolves timestamps per batch: the second batch starts at offset 5.
    expect((await take(consumer.records(), 1))[0]!.offset).toBe(5);
    await consumer.close();
  });

  it('resets an out-of-range position per autoOffsetReset, or surfaces OFFSET_OUT_OF_RANGE', async () => {
    await produce(1, 0, 5);
    await produce(1, 5, 5);
    fake.deleteRecordsBefore('events', 1, 5);
    const earliest = bus.consumer({ fetchMaxWaitMs: 20, autoOffsetReset: 'earliest' });
    earliest.assign([{ topic: 'events', partition: 1, offset: 2 }]);
    expect((await take(earliest.records(), 1))[0]!.offset).toBe(5);
    await earliest.close();

    const strict = bus.consumer({ fetchMaxWaitMs: 20, autoOffsetReset: 'none' });
    strict.assign([{ topic: 'events', partition: 1, offset: 2 }]);
    const err: unknown = await take(strict.records(), 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamBusError);
    expect(err).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    strict.seek({ topic: 'events', partition: 1 }, 7);
    expect((await take(strict.records(), 1))[0]!.offset).toBe(7);
    await strict.close();
  });

  it('run({ eachBatch }) hands out batches and ends on its signal', async () => {
    await produce(2, 0, 30);
    const consumer = bus.consumer({ fetchMaxWaitMs: 20 });
    consumer.assign([{ topic: 'events', partition: 2, offset: 'earliest' }]);
    const controller = new AbortController();
    const seen: number[] = [];
    await consumer.run({
      signal: controller.signal,
      eachBatch: async (batch) => {
        expect(batch.highWatermark).toBe(30);
        seen.push(...batch.records.map((r) => r.offset));
        expect(batch.lag).toBe(30 - seen.length);
        if (seen.length === 30) controller.abort();
      },
    });
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await consumer.close();
  });

  it('aborts a waiting iterator with ABORTED and bounds the prefetch buffer', async () => {
    const consumer = bus.consumer({ fetchMaxWaitMs: 20, maxPartitionFetchBytes: 512 });
    consumer.assign([{ topic: 'events', partition: 0, offset: 'latest' }]);
    const controller = new AbortController();
    const waiting = take(consumer.records({ signal: controller.signal }), 1);
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    // With nobody reading, the consumer stops fetching once a partition holds maxPartitionFetchBytes.
    consumer.seek({ topic: 'events', partition: 0 }, 0);
    for (let i = 0; i < 20; i++) await produce(0, i * 10, 10);
    await eventually(() => consumer.metrics().bufferedBytes >= 512);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A partition is fetched only below the bound, and one fetch adds at most the bound.
    const batchBytes = fake.batches('events', 0)[0]!.length;
    expect(consumer.metrics().bufferedBytesPeak).toBeLessThan(512 + Math.max(512, batchBytes));
    expect(consumer.metrics().bufferedBytesPeak).toBeLessThan(fake.batches('events', 0).reduce((sum, b) => sum + b.length, 0));
    expect((await take(consumer.records(), 200)).map((r) => r.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await consumer.close();
  });

  it('rejects bad assignments with typed errors', async () => {
    const consumer = bus.consumer();
    expect(() => consumer.assign([{ topic: '', partition: 0 }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consumer.assign([{ topic: 'events', partition: -1 }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => consumer.seek({ topic: 'events', partition: 0 }, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => bus.consumer({ autoOffsetReset: 'middle' as 'none' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await consumer.close();
    expect(() => consumer.assign([])).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});
