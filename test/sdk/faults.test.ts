// The TypeScript SDK against real broker processes under faults: a SIGKILLed and restarted
// leader while producing with retries (per-partition order, no acknowledged record lost), a
// SIGSTOPped leader (send() waits, buffer memory stays bounded, SIGCONT unblocks) and a
// stale cached leader (the SDK refreshes metadata on the broker's answer and goes on).
//
// Partition replication is not wired into the broker yet (RF=1 only), so leadership cannot
// move by failover: the stale-leader case deletes and recreates a topic on another broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBus, type RecordMetadata } from '@streambus/client';
import { printLogsOnFailure, startCluster, type TestCluster } from '../helpers/cluster.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { consumeUntil, createTopicVia, valuesOf } from './sdk-helpers.js';

let cluster: TestCluster | undefined;
let bus: StreamBus | undefined;
const c = (): TestCluster => {
  if (cluster === undefined) throw new Error('cluster not started');
  return cluster;
};
const b = (): StreamBus => {
  if (bus === undefined) throw new Error('cluster not started');
  return bus;
};

beforeAll(async () => {
  // A long session timeout: a paused broker (SIGSTOP) must not be fenced while paused, so
  // the backpressure test sees only the pause.
  cluster = await startCluster({ brokers: 3, name: 'sdk-faults', args: ['--session-timeout-ms', '15000'] });
  bus = new StreamBus({ brokers: cluster.addresses, retryBackoffMs: 50, retryBackoffMaxMs: 250, channel: { keepaliveTimeMs: 1_000, keepaliveTimeoutMs: 1_000 } });
});
afterAll(async () => {
  await bus?.close();
  await cluster?.stop();
});
printLogsOnFailure(() => cluster);

/** A broker that leads no metadata: pausing or killing it leaves Raft alone. */
async function dataOnlyBroker(): Promise<number> {
  const leader = await c().leaderOfMetadata();
  return [3, 2, 1].find((id) => id !== leader) ?? 3;
}

/**
 * Checks one partition's read-back against what was sent there, in order: every value sent
 * is there, its first occurrences are in send order, and a record never jumps ahead of the
 * next unsent value (a retried batch may be written twice — at least once — but only as a
 * repeat of values already read).
 */
function expectInSendOrder(read: readonly number[], sentCount: number): void {
  let next = 0;
  for (const seq of read) {
    expect(seq).toBeLessThanOrEqual(next);
    if (seq === next) next++;
  }
  expect(next).toBe(sentCount);
}

describe('producer under broker faults', () => {
  it('a SIGKILLed and restarted leader: acknowledged records all come back, per partition in send order', async () => {
    const victim = await dataOnlyBroker();
    const topic = 'kill-while-producing';
    const partitions = 4;
    await createTopicVia(b(), topic, partitions, Array.from({ length: partitions }, () => [victim]));
    const producer = b().producer({ lingerMs: 2, batchBytes: 4 * 1024, requestTimeoutMs: 3_000, deliveryTimeoutMs: 20_000, maxInFlightRequestsPerConnection: 5 });
    const sentPerPartition = Array.from({ length: partitions }, () => 0);
    const acked: { offset: number; value: string }[][] = Array.from({ length: partitions }, () => []);
    const sends: Promise<void>[] = [];
    const sendRound = (): void => {
      for (let partition = 0; partition < partitions; partition++) {
        const value = String(sentPerPartition[partition]!++);
        sends.push(producer.send({ topic, messages: [{ partition, value }] }).then(([m]) => void acked[partition]?.push({ offset: m!.offset, value })));
      }
    };
    // Produce at a steady pace before, during and after the crash.
    const rounds = 600;
    let killed: Promise<void> | undefined;
    for (let r = 0; r < rounds; r++) {
      sendRound();
      if (r === 200) {
        killed = (async () => {
          await c().kill(victim, 'SIGKILL');
          await sleep(300);
          await c().restart(victim);
        })();
      }
      if (r % 20 === 19) await sleep(10);
    }
    await killed;
    const outcomes = await Promise.allSettled(sends);
    expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []))).toEqual([]);
    await producer.close();
    expect(producer.metrics().retries).toBeGreaterThan(0);

    const consumer = b().consumer({ autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    // Everything up to each partition's high watermark (at least once: a batch whose answer
    // was lost in the crash may be there twice).
    const hw = await b().admin().listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, spec: 'latest' as const })));
    const total = hw.reduce((sum, o) => sum + o.offset, 0);
    const got = await consumeUntil(consumer, (records) => records.length >= total, 15_000);
    await consumer.close();
    for (let partition = 0; partition < partitions; partition++) {
      const read = got.filter((r) => r.partition === partition);
      const ackedHere = acked[partition] ?? [];
      expect(ackedHere).toHaveLength(rounds);
      // No acknowledged record is lost...
      const readValues = new Set(read.map((r) => r.value?.toString()));
      const lost = ackedHere.filter((m) => !readValues.has(m.value));
      expect(lost.length, `partition ${partition}: ${lost.length} acknowledged records lost, first ${JSON.stringify(lost.slice(0, 3))}`).toBe(0);
      // ...each acknowledged offset holds the value whose send() it resolved...
      const byOffset = new Map(read.map((r) => [r.offset, r.value?.toString()]));
      const misplaced = ackedHere.filter((m) => byOffset.get(m.offset) !== m.value);
      expect(misplaced.length, `partition ${partition}: acknowledged offsets holding other values, first ${JSON.stringify(misplaced.slice(0, 3))}`).toBe(0);
      // ...and the partition reads back densely, in send order.
      expect(read.map((r) => r.offset)).toEqual(read.map((_, i) => i));
      expectInSendOrder(read.map((r) => Number(r.value?.toString())), rounds);
    }
  }, 90_000);

  it('a SIGSTOPped leader: send() waits, buffered bytes never exceed bufferMemoryBytes, SIGCONT unblocks', async () => {
    const victim = await dataOnlyBroker();
    const topic = 'paused-leader';
    await createTopicVia(b(), topic, 1, [[victim]]);
    const bufferMemoryBytes = 64 * 1024;
    const producer = b().producer({ lingerMs: 1, batchBytes: 8 * 1024, bufferMemoryBytes, maxBlockMs: 60_000, requestTimeoutMs: 30_000, deliveryTimeoutMs: 60_000 });
    // Warm up: metadata and the channel are in place before the pause.
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    const value = Buffer.alloc(1024, 1);
    c().pause(victim);
    const settled: boolean[] = [];
    const sends: Promise<RecordMetadata[]>[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const index = i;
        settled.push(false);
        const p = producer.send({ topic, messages: [{ value: Buffer.concat([Buffer.from(`${String(i).padStart(4, '0')}:`), value]) }] });
        sends.push(p);
        void p.then(
          () => (settled[index] = true),
          () => (settled[index] = true),
        );
      }
      // 300 records of ~1 KiB cannot fit in 64 KiB: send() waits for memory.
      await sleep(1_500);
      expect(settled.filter(Boolean)).toHaveLength(0);
      const m = producer.metrics();
      expect(m.bufferedBytes).toBeGreaterThan(0);
      expect(m.bufferedBytes).toBeLessThanOrEqual(bufferMemoryBytes);
      expect(m.bufferedBytesPeak).toBeLessThanOrEqual(bufferMemoryBytes);
    } finally {
      c().resume(victim);
    }
    const results = await Promise.all(sends);
    expect(settled.every(Boolean)).toBe(true);
    expect(producer.metrics().bufferedBytesPeak).toBeLessThanOrEqual(bufferMemoryBytes);
    expect(producer.metrics().bufferedBytes).toBe(0);
    await producer.close();
    // Each acknowledged once, offsets in send order.
    const offsets = results.map(([m]) => m?.offset ?? -1);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    const consumer = b().consumer({ autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    consumer.assign([{ topic, partition: 0 }]);
    const got = await consumeUntil(consumer, (records) => records.length >= 301);
    await consumer.close();
    const prefixes = valuesOf(got.slice(1)).map((v) => v.slice(0, 4));
    expectInSendOrder(prefixes.map(Number), 300);
  });
});

describe('metadata refresh against a real broker', () => {
  it('a stale cached leader answers with an error; producer and consumer refresh and follow the new leader', async () => {
    const topic = 'moved-topic';
    const [first, second] = [2, 3];
    await createTopicVia(b(), topic, 1, [[first]]);
    // Producer and consumer on clients of their own: one's refresh must not fix the other's cache.
    const producerBus = new StreamBus({ brokers: c().addresses, retryBackoffMs: 50 });
    const producer = producerBus.producer({ lingerMs: 0, requestTimeoutMs: 5_000, deliveryTimeoutMs: 30_000 });
    const consumerBus = new StreamBus({ brokers: c().addresses, retryBackoffMs: 50 });
    const [before] = await producer.send({ topic, messages: [{ value: 'on-first' }] });
    expect(before?.offset).toBe(0);
    // A consumer that has read from the first broker, so its fetch loop targets it.
    const consumer = consumerBus.consumer({ autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    consumer.assign([{ topic, partition: 0, offset: 'earliest' }]);
    expect(valuesOf(await consumeUntil(consumer, (records) => records.length >= 1))).toEqual(['on-first']);
    // Move the partition: delete the topic and create it again, led by another broker. The
    // SDK's cache still names the first broker.
    const admin = b().admin();
    await admin.deleteTopics([topic]);
    await waitFor(async () => !(await admin.listTopics()).includes(topic), { timeoutMs: 10_000, what: `${topic} to be deleted` });
    // Through a client of its own, so the shared cache is not refreshed by the creation.
    const other = new StreamBus({ brokers: [c().broker(1).clientAddress] });
    try {
      await createTopicVia(other, topic, 1, [[second]]);
    } finally {
      await other.close();
    }
    const retriesBefore = producer.metrics().retries;
    const [after] = await producer.send({ topic, messages: [{ value: 'on-second-0' }, { value: 'on-second-1' }] });
    expect(after).toMatchObject({ topic, partition: 0, offset: 0 });
    // The first attempt went to the stale leader and was retried after a refresh.
    expect(producer.metrics().retries).toBeGreaterThan(retriesBefore);
    await producerBus.close();
    // The consumer follows the new leader. Its position (1) is inside the new log once both
    // records are there; if it fetched from the new leader before they were, position 1 was
    // out of range and autoOffsetReset='earliest' restarted it at 0. Either way it reads the
    // new log, from the new leader, in order.
    const got = await consumeUntil(consumer, (records) => records.some((r) => r.value?.toString() === 'on-second-1'));
    await consumerBus.close();
    expect([['0:on-second-0', '1:on-second-1'], ['1:on-second-1']]).toContainEqual(got.map((r) => `${r.offset}:${r.value?.toString()}`));
    const described = await admin.describeTopics([topic]);
    expect(described[0]?.partitions[0]?.leaderId).toBe(second);
  });
});
