// Helpers for the SDK suites: everything goes through the SDK's public API.
import { type Consumer, type ConsumerRecord, type StreamBus } from '@streambus/client';
import { retryUntil } from '../helpers/wait.js';

const CONSUME_TIMEOUT_MS_DEFAULT = 20_000;

/**
 * Creates a topic through the SDK's admin client and waits until every partition's leader
 * serves it (a broker learns it leads a partition a moment before its log is open).
 * `assignments` places partition i on the listed brokers.
 */
export async function createTopicVia(bus: StreamBus, name: string, partitions: number, assignments?: readonly (readonly number[])[]): Promise<void> {
  const admin = bus.admin();
  await admin.createTopics([{ name, numPartitions: partitions, replicationFactor: 1, ...(assignments === undefined ? {} : { assignments }) }]);
  await retryUntil(
    async () => {
      const offsets = await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic: name, partition, spec: 'latest' as const })));
      if (offsets.length !== partitions) throw new Error(`${offsets.length} of ${partitions} partitions answered`);
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `every partition of ${name} to be served` },
  );
}

/**
 * Reads from the consumer's async iterator until `done(records)` holds; fails after
 * `timeoutMs` with how many records had arrived.
 */
export async function consumeUntil(consumer: Consumer, done: (records: readonly ConsumerRecord[]) => boolean, timeoutMs = CONSUME_TIMEOUT_MS_DEFAULT): Promise<ConsumerRecord[]> {
  const got: ConsumerRecord[] = [];
  if (done(got)) return got;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    for await (const record of consumer.records({ signal })) {
      got.push(record);
      if (done(got)) return got;
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  throw new Error(`consumer stopped after ${got.length} records (timeout ${timeoutMs} ms)`);
}

export const valuesOf = (records: readonly ConsumerRecord[]): string[] => records.map((r) => r.value?.toString() ?? '<null>');
