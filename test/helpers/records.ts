// Small client-side helpers for end-to-end tests: create topics, find leaders, produce
// values and read them back through the public gRPC API only.
import { decodeRecords, encodeBatch, splitBatches } from '@streambus/record';
import {
  ErrorCode,
  errorCodeName,
  OffsetSpec,
  type FetchPartitionResponse,
  type ProducePartitionResponse,
  type StreamBusClient,
} from '@streambus/protocol';
import { waitFor } from './wait.js';

export interface TopicSpec {
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Record<string, string>;
}

/** Creates a topic and fails the test with the broker's error if it could not. Returns the topic id. */
export async function createTopic(client: StreamBusClient, name: string, spec: TopicSpec = {}): Promise<string> {
  const res = await client.createTopics({
    topics: [{ name, numPartitions: spec.partitions ?? 1, replicationFactor: spec.replicationFactor ?? 1, assignments: [], configs: spec.configs ?? {} }],
    timeoutMs: 15_000,
    validateOnly: false,
  });
  const t = res.topics[0];
  if (t === undefined) throw new Error(`createTopics ${name}: empty answer`);
  if (t.error !== undefined) throw new Error(`createTopics ${name}: ${errorCodeName(t.error.code)} ${t.error.message}`);
  return t.topicId;
}

/** The leader of a partition as `client`'s broker sees it; waits until one is known. */
export async function partitionLeader(client: StreamBusClient, topic: string, partition: number, timeoutMs = 10_000): Promise<number> {
  let leader = 0;
  await waitFor(
    async () => {
      const md = await client.metadata({ topics: [topic] }, { timeoutMs: 2_000 });
      const p = md.topics[0]?.partitions.find((x) => x.partition === partition);
      leader = p?.leaderId ?? 0;
      return leader > 0;
    },
    { timeoutMs, what: `a leader of ${topic}-${partition}` },
  );
  return leader;
}

/** One batch holding `values` as UTF-8 records with keys k0, k1, ... */
export function batchOf(values: readonly string[]): Promise<Buffer> {
  return encodeBatch(values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v) })));
}

export async function produceValues(
  client: StreamBusClient,
  topic: string,
  partition: number,
  values: readonly string[],
  acks: 0 | 1 | -1 = -1,
): Promise<ProducePartitionResponse> {
  return produceBytes(client, topic, partition, await batchOf(values), acks);
}

export async function produceBytes(client: StreamBusClient, topic: string, partition: number, records: Buffer, acks: 0 | 1 | -1 = -1): Promise<ProducePartitionResponse> {
  const res = await client.produce({ acks, timeoutMs: 10_000, partitions: [{ topic, partition, records }] }, { timeoutMs: 15_000 });
  const p = res.partitions[0];
  if (p === undefined) throw new Error(`produce ${topic}-${partition}: empty answer`);
  return p;
}

/** Throws unless the partition answer is NONE, naming the code; returns the answer. */
export function expectOk<T extends { errorCode: ErrorCode; errorMessage: string }>(answer: T): T {
  if (answer.errorCode !== ErrorCode.NONE) throw new Error(`expected NONE, got ${errorCodeName(answer.errorCode)}: ${answer.errorMessage}`);
  return answer;
}

export async function fetchPartition(client: StreamBusClient, topic: string, partition: number, fetchOffset: number, maxWaitMs = 0): Promise<FetchPartitionResponse> {
  const res = await client.fetch(
    { maxWaitMs, minBytes: 1, maxBytes: 16 * 1024 * 1024, isolationLevel: 0, partitions: [{ topic, partition, fetchOffset, partitionMaxBytes: 16 * 1024 * 1024 }] },
    { timeoutMs: maxWaitMs + 10_000 },
  );
  const p = res.partitions[0];
  if (p === undefined) throw new Error(`fetch ${topic}-${partition}: empty answer`);
  return p;
}

export interface DecodedRecord {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

/** Decodes the batches of a fetch answer, skipping records below `fromOffset`. */
export async function decodeFetched(records: Buffer, fromOffset = 0): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  for (const view of splitBatches(records)) {
    for (const r of await decodeRecords(view)) {
      if (r.offset < fromOffset) continue;
      out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
    }
  }
  return out;
}

/** Reads a partition from `fromOffset` up to its high watermark (bounded number of fetches). */
export async function readAll(client: StreamBusClient, topic: string, partition: number, fromOffset = 0): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  let offset = fromOffset;
  for (let i = 0; i < 1_000; i++) {
    const p = expectOk(await fetchPartition(client, topic, partition, offset));
    const batch = await decodeFetched(p.records, offset);
    out.push(...batch);
    const last = batch.at(-1);
    if (last !== undefined) offset = last.offset + 1;
    if (offset >= p.highWatermark || batch.length === 0) return out;
  }
  throw new Error(`readAll ${topic}-${partition}: more than 1000 fetches`);
}

/** The high watermark (LATEST) of a partition as its leader reports it. */
export async function latestOffset(client: StreamBusClient, topic: string, partition: number): Promise<number> {
  const res = await client.listOffsets({ isolationLevel: 0, partitions: [{ topic, partition, spec: OffsetSpec.LATEST, timestampMs: 0 }] });
  const p = expectOk(res.partitions[0] ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'empty answer', offset: -1 });
  return p.offset;
}

/** Code name of an answer, for readable assertions: expect(codeOf(r)).toBe('NONE'). */
export function codeOf(answer: { errorCode: ErrorCode } | { code: ErrorCode } | undefined): string {
  if (answer === undefined) return 'NONE';
  return errorCodeName('errorCode' in answer ? answer.errorCode : answer.code);
}

/**
 * Waits until the leader named by metadata actually serves the partition. A broker learns
 * from the metadata log that it leads a partition a moment before its log is open; in that
 * window it answers NOT_LEADER_OR_FOLLOWER (retriable), as a client would retry.
 */
export async function waitLeaderServes(leader: StreamBusClient, topic: string, partition: number, timeoutMs = 10_000): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const res = await leader.listOffsets({ isolationLevel: 0, partitions: [{ topic, partition, spec: OffsetSpec.LATEST, timestampMs: 0 }] }, { timeoutMs: 2_000 });
      const p = res.partitions[0];
      last = p === undefined ? 'empty answer' : `${codeOf(p)} ${p.errorMessage}`;
      return p !== undefined && p.errorCode === ErrorCode.NONE;
    },
    { timeoutMs, intervalMs: 20, what: () => `the leader to serve ${topic}-${partition} (last: ${last})` },
  );
}

/** The value of one sample (name with its labels, as rendered) in a Prometheus text scrape. */
export function metricValue(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`metric ${sample} missing`);
  return Number(line.slice(sample.length + 1));
}
