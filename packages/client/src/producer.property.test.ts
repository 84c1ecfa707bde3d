import fc from 'fast-check';
import { ErrorCode } from '@streambus/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordMetadata } from './producer.js';
import { StreamBus } from './streambus.js';
import { FakeBroker } from './testing/fake-broker.js';
import { trackUnhandledRejections } from './testing/harness.js';

trackUnhandledRejections();

const LONG = process.env.STREAMBUS_LONG === '1';
const seed = process.env.SEED === undefined ? undefined : Number(process.env.SEED);

let fake: FakeBroker;
beforeAll(async () => {
  fake = await FakeBroker.start({ brokerCount: 2 });
});
afterAll(async () => fake.stop());

const RETRIABLE = [ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR];

describe('producer under random retriable faults (seeded: SEED=<n> replays)', () => {
  it('acknowledges every record once, in send order per partition, at dense offsets', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), size: fc.integer({ min: 0, max: 300 }) }), { minLength: 1, maxLength: 120 }),
        fc.array(
          fc.record({
            partition: fc.integer({ min: 0, max: 2 }),
            code: fc.constantFrom(...RETRIABLE),
            count: fc.integer({ min: 1, max: 3 }),
          }),
          { maxLength: 6 },
        ),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        async (messages, faults, moveLeader, maxInFlight) => {
          const topic = `prop-${run++}`;
          fake.createTopic(topic, 3);
          const bus = new StreamBus({ brokers: fake.brokers, retryBackoffMs: 1, retryBackoffMaxMs: 5 });
          try {
            const producer = bus.producer({ lingerMs: 1, batchBytes: 512, maxInFlightRequestsPerConnection: maxInFlight, compression: 'lz4' });
            for (const fault of faults) fake.injectError({ api: 'produce', topic, partition: fault.partition, errorCode: fault.code, count: fault.count });
            const sends: Promise<RecordMetadata[]>[] = messages.map((m, i) => producer.send({ topic, messages: [{ partition: m.partition, value: `${i}:${'x'.repeat(m.size)}` }] }));
            if (moveLeader) fake.moveLeader(topic, 0, 1 - fake.leaderOf(topic, 0).leaderId);
            const results = (await Promise.all(sends)).flat();
            await producer.close();
            for (let p = 0; p < 3; p++) {
              const expected = messages.flatMap((m, i) => (m.partition === p ? [`${i}:${'x'.repeat(m.size)}`] : []));
              const stored = (await fake.records(topic, p)).map((r) => r.value!.toString());
              expect(stored).toEqual(expected);
              expect(results.filter((r) => r.partition === p).map((r) => r.offset)).toEqual(expected.map((_, k) => k));
            }
          } finally {
            await bus.close();
          }
        },
      ),
      { numRuns: LONG ? 200 : 15, seed, verbose: true },
    );
  });
});
