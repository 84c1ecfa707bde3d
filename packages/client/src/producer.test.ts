import { ErrorCode, StreamBusError } from '@streambus/protocol';
import { BatchView, type CompressionName } from '@streambus/record';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientError } from './errors.js';
import { partitionForKey } from './murmur2.js';
import { type RecordMetadata } from './producer.js';
import { StreamBus } from './streambus.js';
import { FakeBroker } from './testing/fake-broker.js';
import { eventually, trackUnhandledRejections } from './testing/harness.js';

trackUnhandledRejections();

let fake: FakeBroker;
let bus: StreamBus;

beforeEach(async () => {
  fake = await FakeBroker.start({ brokerCount: 3, topics: [{ name: 'orders', partitions: 6 }] });
  bus = new StreamBus({ brokers: [fake.brokers[0]!], retryBackoffMs: 5, retryBackoffMaxMs: 20 });
});

afterEach(async () => {
  await bus.close();
  await fake.stop();
});

async function values(topic: string, partition: number): Promise<string[]> {
  return (await fake.records(topic, partition)).map((r) => r.value!.toString());
}

describe('producer', () => {
  it('resolves each record with its offset, keyed records on the murmur2 partition', async () => {
    const producer = bus.producer({ lingerMs: 1 });
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'alpha'];
    const results = await producer.send({ topic: 'orders', messages: keys.map((key, i) => ({ key, value: `v${i}`, headers: { h: 'x' } })) });
    expect(results.map((r) => r.partition)).toEqual(keys.map((k) => partitionForKey(Buffer.from(k), 6)));
    for (const [i, r] of results.entries()) {
      const stored = (await fake.records('orders', r.partition)).find((x) => x.offset === r.offset)!;
      expect(stored.value!.toString()).toBe(`v${i}`);
      expect(stored.key!.toString()).toBe(keys[i]);
      expect(stored.headers).toEqual([{ key: 'h', value: Buffer.from('x') }]);
    }
  });

  it('batches records and carries several partitions in one Produce request per broker', async () => {
    // A linger far longer than the test: the batches go out on flush(), all partitions at once,
    // so the grouping per broker does not depend on timer scheduling on a loaded machine.
    const producer = bus.producer({ lingerMs: 60_000 });
    const sends: Promise<RecordMetadata[]>[] = [];
    for (let i = 0; i < 300; i++) sends.push(producer.send({ topic: 'orders', messages: [{ partition: i % 6, value: `m${i}` }] }));
    await producer.flush();
    await Promise.all(sends);
    // 6 partitions over 3 brokers: a handful of requests, not 300.
    expect(fake.stats.produceRequests).toBeLessThanOrEqual(12);
    expect(fake.stats.producePartitions / fake.stats.produceRequests).toBeGreaterThan(1);
    for (let p = 0; p < 6; p++) {
      expect(await values('orders', p)).toEqual(Array.from({ length: 50 }, (_, k) => `m${k * 6 + p}`));
      expect(fake.batches('orders', p).length).toBeLessThanOrEqual(2);
    }
  });

  it.each<CompressionName>(['none', 'gzip', 'snappy', 'lz4', 'zstd'])('round-trips %s batches', async (compression) => {
    const producer = bus.producer({ compression, lingerMs: 5 });
    const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 7}`, value: `value-${i}-${'x'.repeat(i % 50)}`, partition: 2 }));
    const results = await producer.send({ topic: 'orders', messages });
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (const bytes of fake.batches('orders', 2)) expect(BatchView.parse(bytes).compression).toBe(compression);
    expect(await values('orders', 2)).toEqual(messages.map((m) => m.value));
    // And back through the SDK consumer (decompression on the client side).
    const consumer = bus.consumer({ fetchMaxWaitMs: 20 });
    consumer.assign([{ topic: 'orders', partition: 2, offset: 'earliest' }]);
    const read: string[] = [];
    for await (const record of consumer.records()) {
      read.push(`${record.key!.toString()}=${record.value!.toString()}`);
      if (read.length === messages.length) break;
    }
    expect(read).toEqual(messages.map((m) => `${m.key}=${m.value}`));
    await consumer.close();
  });

  it('keeps per-partition order under injected retriable errors with several requests in flight', async () => {
    const producer = bus.producer({ lingerMs: 0, batchBytes: 256, maxInFlightRequestsPerConnection: 5 });
    fake.injectError({ api: 'produce', topic: 'orders', partition: 0, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, count: 3 });
    fake.injectError({ api: 'produce', topic: 'orders', partition: 3, errorCode: ErrorCode.REQUEST_TIMED_OUT, count: 2 });
    fake.injectError({ api: 'produce', grpcStatus: 14, count: 2 });
    const sends: Promise<RecordMetadata[]>[] = [];
    for (let i = 0; i < 400; i++) sends.push(producer.send({ topic: 'orders', messages: [{ partition: (i % 2) * 3, value: `${i}` }] }));
    const results = (await Promise.all(sends)).flat();
    expect(producer.metrics().retries).toBeGreaterThan(0);
    for (const p of [0, 3]) {
      const expected = Array.from({ length: 200 }, (_, k) => `${k * 2 + p / 3}`);
      expect(await values('orders', p)).toEqual(expected);
      const offsets = results.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets).toEqual(Array.from({ length: 200 }, (_, k) => k));
    }
  });

  it('blocks send() when bufferMemoryBytes is used and never holds more', async () => {
    const bufferMemoryBytes = 16 * 1024;
    const producer = bus.producer({ lingerMs: 0, bufferMemoryBytes, batchBytes: 2048 });
    // Warm the metadata so the sends below reach the accumulator at once.
    await producer.send({ topic: 'orders', messages: [{ partition: 0, value: 'warm' }] });
    fake.holdProduce();
    let resolved = 0;
    const sends = Array.from({ length: 100 }, (_, i) =>
      producer.send({ topic: 'orders', messages: [{ partition: i % 6, value: Buffer.alloc(1000, i) }] }).then(() => resolved++),
    );
    await eventually(() => producer.metrics().bufferedBytes > bufferMemoryBytes - 1100);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resolved).toBe(0);
    expect(producer.metrics().bufferedBytes).toBeLessThanOrEqual(bufferMemoryBytes);
    fake.releaseProduce();
    await Promise.all(sends);
    expect(resolved).toBe(100);
    expect(producer.metrics().bufferedBytesPeak).toBeLessThanOrEqual(bufferMemoryBytes);
    expect(producer.metrics().bufferedBytes).toBe(0);
    let total = 0;
    for (let p = 0; p < 6; p++) total += (await fake.records('orders', p)).length;
    expect(total).toBe(101);
  });

  it('fails a send with BUFFER_TIMEOUT after maxBlockMs and with ABORTED on its signal', async () => {
    const producer = bus.producer({ lingerMs: 0, bufferMemoryBytes: 4096, maxBlockMs: 100 });
    await producer.send({ topic: 'orders', messages: [{ partition: 0, value: 'warm' }] });
    fake.holdProduce();
    const first = producer.send({ topic: 'orders', messages: [{ partition: 0, value: Buffer.alloc(3000) }] });
    const timedOut = producer.send({ topic: 'orders', messages: [{ partition: 0, value: Buffer.alloc(3000) }] });
    await expect(timedOut).rejects.toMatchObject({ code: 'BUFFER_TIMEOUT', retriable: true });
    const controller = new AbortController();
    const aborted = producer.send({ topic: 'orders', messages: [{ partition: 0, value: Buffer.alloc(3000) }] }, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x' }] }, { signal: controller.signal })).rejects.toBeInstanceOf(ClientError);
    fake.releaseProduce();
    await expect(first).resolves.toHaveLength(1);
    expect(producer.metrics().bufferedBytes).toBe(0);
  });

  it('follows a leader move: FENCED/NOT_LEADER answers refresh metadata and the send succeeds', async () => {
    const producer = bus.producer({ lingerMs: 0 });
    await producer.send({ topic: 'orders', messages: [{ partition: 1, value: 'before' }] });
    const { leaderId } = fake.leaderOf('orders', 1);
    fake.moveLeader('orders', 1, (leaderId + 1) % 3);
    const [after] = await producer.send({ topic: 'orders', messages: [{ partition: 1, value: 'after' }] });
    expect(after!.offset).toBe(1);
    expect(await values('orders', 1)).toEqual(['before', 'after']);
    // A second move, this time the client's epoch is current but the broker is wrong.
    fake.moveLeader('orders', 1, (leaderId + 2) % 3);
    await producer.send({ topic: 'orders', messages: [{ partition: 1, value: 'again' }] });
    expect(await values('orders', 1)).toEqual(['before', 'after', 'again']);
  });

  it('close() delivers everything sent before it; nothing send() resolved is lost', async () => {
    const producer = bus.producer({ lingerMs: 50 });
    const acknowledged: RecordMetadata[] = [];
    const sends = Array.from({ length: 500 }, (_, i) =>
      producer.send({ topic: 'orders', messages: [{ key: `k${i}`, value: `v${i}` }] }).then((r) => acknowledged.push(...r)),
    );
    await producer.close();
    await Promise.all(sends);
    expect(acknowledged).toHaveLength(500);
    for (const md of acknowledged) {
      const stored = (await fake.records('orders', md.partition)).find((r) => r.offset === md.offset);
      expect(stored).toBeDefined();
    }
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'late' }] })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('rejects with the broker error when it is not retriable, and retries no more than `retries`', async () => {
    const producer = bus.producer({ lingerMs: 0, retries: 1 });
    fake.injectError({ api: 'produce', topic: 'orders', partition: 4, errorCode: ErrorCode.INVALID_RECORD });
    const err: unknown = await producer.send({ topic: 'orders', messages: [{ partition: 4, value: 'bad' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamBusError);
    expect(err).toMatchObject({ code: 'INVALID_RECORD', retriable: false });
    fake.injectError({ api: 'produce', topic: 'orders', partition: 4, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, count: 2 });
    await expect(producer.send({ topic: 'orders', messages: [{ partition: 4, value: 'x' }] })).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS', retriable: true });
    expect(await values('orders', 4)).toEqual([]);
  });

  it('fails with DELIVERY_TIMEOUT when the broker does not answer in time', async () => {
    const producer = bus.producer({ lingerMs: 0, requestTimeoutMs: 100, deliveryTimeoutMs: 300 });
    await producer.send({ topic: 'orders', messages: [{ partition: 5, value: 'warm' }] });
    fake.holdProduce();
    await expect(producer.send({ topic: 'orders', messages: [{ partition: 5, value: 'slow' }] })).rejects.toMatchObject({ code: 'DELIVERY_TIMEOUT' });
    fake.releaseProduce();
    expect(producer.metrics().bufferedBytes).toBe(0);
  });

  it('waits for a topic that appears after the first send (unknown-topic answers refresh metadata)', async () => {
    const producer = bus.producer({ lingerMs: 0, maxBlockMs: 5_000 });
    const pending = producer.send({ topic: 'later', messages: [{ key: 'k', value: 'v' }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    fake.createTopic('later', 2);
    const [md] = await pending;
    expect(md!.partition).toBe(partitionForKey(Buffer.from('k'), 2));
    expect(fake.stats.metadataRequests).toBeGreaterThan(1);
  });

  it('reports offset -1 with acks=0', async () => {
    const producer = bus.producer({ acks: 0, lingerMs: 0 });
    const [md] = await producer.send({ topic: 'orders', messages: [{ partition: 0, value: 'fire-and-forget' }] });
    expect(md!.offset).toBe(-1);
    expect(await values('orders', 0)).toEqual(['fire-and-forget']);
  });

  it('sticks null-key records to one partition per batch (KIP-480), round-robin on request', async () => {
    const sticky = bus.producer({ lingerMs: 20 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sticky.send({ topic: 'orders', messages: [{ value: `${i}` }] })));
    expect(new Set(results.flat().map((r) => r.partition)).size).toBe(1);
    const roundRobin = bus.producer({ lingerMs: 20, nullKeyPartitioner: 'round-robin' });
    const spread = await roundRobin.send({ topic: 'orders', messages: Array.from({ length: 12 }, (_, i) => ({ value: `${i}` })) });
    expect(new Set(spread.map((r) => r.partition)).size).toBe(6);
  });

  it('flush() sends lingering batches at once', async () => {
    const producer = bus.producer({ lingerMs: 60_000 });
    let done = false;
    const send = producer.send({ topic: 'orders', messages: [{ partition: 0, value: 'x' }] }).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(done).toBe(false);
    await producer.flush();
    expect(done).toBe(true);
    await send;
  });

  it('rejects bad input with typed errors and never throws synchronously', async () => {
    const producer = bus.producer();
    await expect(producer.send({ topic: '', messages: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 99 }] })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x', timestamp: -5 }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: 42 as unknown as string }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: Buffer.alloc(2 * 1024 * 1024) }] })).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
    const quick = bus.producer({ maxBlockMs: 50 });
    await expect(quick.send({ topic: 'missing', messages: [{ value: 'x' }] })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(() => bus.producer({ acks: 2 as 1 })).toThrow(ClientError);
    expect(() => bus.producer({ lingerMs: -1 })).toThrow(ClientError);
  });
});
