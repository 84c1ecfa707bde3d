// End-to-end: one real 3-broker cluster shared by every test of this file; each test uses
// its own topics so the order of tests does not matter.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlterConfigOp, ConfigResourceType, OffsetSpec, type StreamBusClient } from '@streambus/protocol';
import { encodeBatch } from '@streambus/record';
import { startProcess } from '@streambus/testkit';
import { printLogsOnFailure, REPO_ROOT, startCluster, type TestCluster } from '../helpers/cluster.js';
import {
  batchOf,
  codeOf,
  createTopic,
  decodeFetched,
  expectOk,
  fetchPartition,
  latestOffset,
  metricValue,
  partitionLeader,
  produceBytes,
  produceValues,
  readAll,
  waitLeaderServes,
} from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

let cluster: TestCluster | undefined;
const c = (): TestCluster => {
  if (cluster === undefined) throw new Error('cluster not started');
  return cluster;
};

beforeAll(async () => {
  // A 1 MiB memtable budget makes partitions flush to SSTables after a few MiB, so the
  // topic-deletion test can see files appear and disappear.
  cluster = await startCluster({ brokers: 3, name: 'e2e-data', args: ['--memtable-budget-bytes', String(1024 * 1024)] });
});
afterAll(async () => {
  await cluster?.stop();
});
printLogsOnFailure(() => cluster);

/** A client connected to the leader of the partition, and the leader's id. */
async function leaderClient(topic: string, partition: number): Promise<{ id: number; client: StreamBusClient }> {
  const id = await partitionLeader(c().client(1), topic, partition);
  await waitLeaderServes(c().client(id), topic, partition);
  return { id, client: c().client(id) };
}

/** Waits until every broker's metadata has the topic with all its partitions led. */
async function waitAllBrokersKnow(topic: string, partitions: number): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(c().brokers.map((b) => c().client(b.id).metadata({ topics: [topic] })));
      return views.every((v) => v.topics[0]?.error === undefined && v.topics[0]?.partitions.filter((p) => p.leaderId !== undefined).length === partitions);
    },
    { timeoutMs: 10_000, what: `every broker to know ${topic}` },
  );
}

async function createTopicRaw(name: string, opts: { partitions?: number; rf?: number; configs?: Record<string, string> } = {}): Promise<{ code: string; message: string }> {
  const res = await c().client(2).createTopics({
    topics: [{ name, numPartitions: opts.partitions ?? 1, replicationFactor: opts.rf ?? 1, assignments: [], configs: opts.configs ?? {} }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  const t = res.topics[0];
  return { code: codeOf(t?.error), message: t?.error?.message ?? '' };
}

describe('cluster metadata', () => {
  it('every broker reports the same brokers, metadata leader and topics', async () => {
    await createTopic(c().client(1), 'md-agree', { partitions: 3, replicationFactor: 3 });
    // Brokers apply the metadata log independently; wait until all have the topic.
    await waitAllBrokersKnow('md-agree', 3);
    const views = await Promise.all(c().brokers.map((b) => c().client(b.id).metadata({ topics: ['md-agree'] })));
    const clusters = await Promise.all(c().brokers.map((b) => c().client(b.id).describeCluster({ includeFenced: true })));
    const summary = (i: number): unknown => {
      const v = views[i]!;
      const t = v.topics[0]!;
      return {
        clusterId: v.clusterId,
        brokers: v.brokers.map((b) => [b.brokerId, b.host, b.port]),
        topicId: t.topicId,
        partitions: t.partitions.map((p) => [p.partition, p.leaderId, p.leaderEpoch, p.replicas]),
        metadataLeader: clusters[i]!.metadataLeaderId,
      };
    };
    expect(summary(0)).toEqual(summary(1));
    expect(summary(0)).toEqual(summary(2));
    expect(views[0]!.clusterId).toBe('e2e');
    expect(views[0]!.brokers.map((b) => b.brokerId)).toEqual([1, 2, 3]);
    // Brokers advertise their client listener.
    expect(views[0]!.brokers.map((b) => `${b.host}:${b.port}`)).toEqual([...c().addresses]);
    expect(clusters[0]!.metadataLeaderId).toBeGreaterThanOrEqual(1);
  });
});

describe('produce and fetch', () => {
  it('produces to and fetches from the leader of every partition, spread over all brokers', async () => {
    await createTopic(c().client(3), 'spread', { partitions: 6, replicationFactor: 1 });
    const leaders = new Set<number>();
    for (let p = 0; p < 6; p++) {
      const { id, client } = await leaderClient('spread', p);
      leaders.add(id);
      const values = [`p${p}-a`, `p${p}-b`, `p${p}-c`];
      const first = expectOk(await produceValues(client, 'spread', p, values, 1));
      expect(first.baseOffset).toBe(0);
      const second = expectOk(await produceValues(client, 'spread', p, [`p${p}-d`], -1));
      expect(second.baseOffset).toBe(3);
      const read = await readAll(client, 'spread', p);
      expect(read.map((r) => [r.offset, r.value])).toEqual([
        [0, `p${p}-a`],
        [1, `p${p}-b`],
        [2, `p${p}-c`],
        [3, `p${p}-d`],
      ]);
      expect(await latestOffset(client, 'spread', p)).toBe(4);
    }
    // Placement spreads 6 partitions over all 3 brokers.
    expect([...leaders].sort()).toEqual([1, 2, 3]);
    // Each broker took acks=-1 writes: its /metrics shows the WAL's fdatasyncs and bytes.
    for (const id of [1, 2, 3]) {
      const text = await (await fetch(`http://127.0.0.1:${c().broker(id).httpPort}/metrics`)).text();
      expect(metricValue(text, 'streambus_storage_wal_sync_duration_seconds_count'), `broker ${id} WAL syncs`).toBeGreaterThan(0);
      expect(metricValue(text, 'streambus_storage_bytes_written_total{kind="wal"}'), `broker ${id} WAL bytes`).toBeGreaterThan(0);
      expect(metricValue(text, 'streambus_storage_memtable_bytes'), `broker ${id} memtable bytes`).toBeGreaterThan(0);
    }
  });

  it('answers acks=0 at once, acks=1 and acks=-1 with the base offset', async () => {
    await createTopic(c().client(1), 'acks', { partitions: 1, replicationFactor: 1 });
    const { client } = await leaderClient('acks', 0);
    const zero = await produceValues(client, 'acks', 0, ['zero'], 0);
    expect(codeOf(zero)).toBe('NONE');
    expect(zero.baseOffset).toBe(-1); // nobody waits for the append with acks=0
    await waitFor(async () => (await latestOffset(client, 'acks', 0)) === 1, { timeoutMs: 5_000, what: 'the acks=0 record to be appended' });
    expect(expectOk(await produceValues(client, 'acks', 0, ['one'], 1)).baseOffset).toBe(1);
    expect(expectOk(await produceValues(client, 'acks', 0, ['all'], -1)).baseOffset).toBe(2);
    const bad = await client.produce({ acks: 2, timeoutMs: 1_000, partitions: [{ topic: 'acks', partition: 0, records: await batchOf(['x']) }] });
    expect(codeOf(bad.partitions[0])).toBe('INVALID_REQUIRED_ACKS');
    expect((await readAll(client, 'acks', 0)).map((r) => r.value)).toEqual(['zero', 'one', 'all']);
  });

  it('answers acks=-1 on a 3-replica topic once the write is committed', async () => {
    await createTopic(c().client(1), 'acks-rf3', { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    const { client } = await leaderClient('acks-rf3', 0);
    for (let i = 0; i < 3; i++) expect(expectOk(await produceValues(client, 'acks-rf3', 0, [`r${i}`], -1)).baseOffset).toBe(i);
    expect(await latestOffset(client, 'acks-rf3', 0)).toBe(3);
    expect((await readAll(client, 'acks-rf3', 0)).map((r) => r.value)).toEqual(['r0', 'r1', 'r2']);
  });

  it('answers NOT_LEADER_OR_FOLLOWER with the right leader hint on a non-leader', async () => {
    await createTopic(c().client(1), 'not-leader', { partitions: 2, replicationFactor: 3 });
    await createTopic(c().client(1), 'not-leader-rf1', { partitions: 1, replicationFactor: 1 });
    await waitAllBrokersKnow('not-leader', 2);
    await waitAllBrokersKnow('not-leader-rf1', 1);
    for (const [topic, partition] of [['not-leader', 0], ['not-leader', 1], ['not-leader-rf1', 0]] as const) {
      const leader = await partitionLeader(c().client(1), topic, partition);
      await waitLeaderServes(c().client(leader), topic, partition);
      const md = await c().client(leader).metadata({ topics: [topic] });
      const epoch = md.topics[0]!.partitions[partition]!.leaderEpoch;
      for (const other of [1, 2, 3].filter((id) => id !== leader)) {
        const r = await produceValues(c().client(other), topic, partition, ['misrouted'], 1);
        expect(codeOf(r), `produce ${topic}-${partition} at broker ${other}`).toBe('NOT_LEADER_OR_FOLLOWER');
        expect(r.currentLeader).toEqual({ leaderId: leader, leaderEpoch: epoch });
        const f = await fetchPartition(c().client(other), topic, partition, 0);
        expect(codeOf(f)).toBe('NOT_LEADER_OR_FOLLOWER');
        expect(f.currentLeader?.leaderId).toBe(leader);
      }
      // Nothing was appended by the misrouted produces.
      expect(await latestOffset(c().client(leader), topic, partition)).toBe(0);
    }
  });

  it('answers OFFSET_OUT_OF_RANGE with the valid range', async () => {
    await createTopic(c().client(1), 'range', { partitions: 1 });
    const { client } = await leaderClient('range', 0);
    expectOk(await produceValues(client, 'range', 0, ['a', 'b', 'c']));
    for (const offset of [4, 1_000, -1]) {
      const f = await fetchPartition(client, 'range', 0, offset);
      expect(codeOf(f), `fetch at ${offset}`).toBe('OFFSET_OUT_OF_RANGE');
      expect(f.logStartOffset).toBe(0);
      expect(f.highWatermark).toBe(3);
      expect(f.errorMessage).toContain('[0, 3]');
    }
    // Fetching exactly at the high watermark is valid: nothing yet.
    const atEnd = expectOk(await fetchPartition(client, 'range', 0, 3));
    expect(atEnd.records.length).toBe(0);
  });

  it('answers UNKNOWN_TOPIC_OR_PARTITION for unknown topics and partitions', async () => {
    await createTopic(c().client(1), 'known', { partitions: 1 });
    for (const b of c().brokers) {
      const client = c().client(b.id);
      expect(codeOf(await produceValues(client, 'no-such-topic', 0, ['x']))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      expect(codeOf(await fetchPartition(client, 'no-such-topic', 0, 0))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      expect(codeOf(await produceValues(client, 'known', 7, ['x']))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      const lo = await client.listOffsets({ isolationLevel: 0, partitions: [{ topic: 'no-such-topic', partition: 0, spec: OffsetSpec.LATEST, timestampMs: 0 }] });
      expect(codeOf(lo.partitions[0])).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      const md = await client.metadata({ topics: ['no-such-topic'] });
      expect(codeOf(md.topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      const dt = await client.describeTopics({ names: ['no-such-topic'], includeInternal: false });
      expect(codeOf(dt.topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    }
  });

  it('lists earliest, latest and by-timestamp offsets', async () => {
    await createTopic(c().client(1), 'list-offsets', { partitions: 1 });
    const { client } = await leaderClient('list-offsets', 0);
    const now = Date.now();
    const batch = (ts: number, v: string): Promise<Buffer> => encodeBatch([{ value: Buffer.from(v), timestamp: ts }]);
    expectOk(await produceBytes(client, 'list-offsets', 0, await batch(now - 3_000, 'old')));
    expectOk(await produceBytes(client, 'list-offsets', 0, await batch(now - 1_000, 'mid')));
    expectOk(await produceBytes(client, 'list-offsets', 0, await batch(now, 'new')));
    const ask = async (spec: OffsetSpec, timestampMs = 0): Promise<number> => {
      const r = await client.listOffsets({ isolationLevel: 0, partitions: [{ topic: 'list-offsets', partition: 0, spec, timestampMs }] });
      return expectOk(r.partitions[0]!).offset;
    };
    expect(await ask(OffsetSpec.EARLIEST)).toBe(0);
    expect(await ask(OffsetSpec.LATEST)).toBe(3);
    expect(await ask(OffsetSpec.TIMESTAMP, now - 2_000)).toBe(1);
    expect(await ask(OffsetSpec.TIMESTAMP, now + 60_000)).toBe(-1);
  });
});

describe('waiting for data', () => {
  it('a long-poll fetch returns when data arrives, not after its full wait', async () => {
    await createTopic(c().client(1), 'long-poll', { partitions: 1 });
    const { client } = await leaderClient('long-poll', 0);
    const maxWaitMs = 20_000;
    const started = Date.now();
    const pending = fetchPartition(client, 'long-poll', 0, 0, maxWaitMs);
    await new Promise((r) => setTimeout(r, 300));
    expectOk(await produceValues(client, 'long-poll', 0, ['wake up'], 1));
    const answer = expectOk(await pending);
    const elapsed = Date.now() - started;
    expect((await decodeFetched(answer.records)).map((r) => r.value)).toEqual(['wake up']);
    // Generous bound: the point is that the fetch did not sit out its 20 s wait.
    expect(elapsed).toBeLessThan(maxWaitMs / 2);
  });

  it('a fetch with nothing to return waits about max_wait_ms, then answers empty', async () => {
    await createTopic(c().client(1), 'long-poll-empty', { partitions: 1 });
    const { client } = await leaderClient('long-poll-empty', 0);
    const started = Date.now();
    const answer = expectOk(await fetchPartition(client, 'long-poll-empty', 0, 0, 400));
    expect(answer.records.length).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('FetchStream pushes batches as they are produced', async () => {
    await createTopic(c().client(1), 'stream', { partitions: 1 });
    const { client } = await leaderClient('stream', 0);
    expectOk(await produceValues(client, 'stream', 0, ['before'], 1));
    const abort = new AbortController();
    const stream = client.fetchStream(
      { maxWaitMs: 200, minBytes: 1, maxBytes: 1024 * 1024, isolationLevel: 0, partitions: [{ topic: 'stream', partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 * 1024 }] },
      { signal: abort.signal, timeoutMs: 20_000 },
    );
    const seen: string[] = [];
    const producer = (async () => {
      for (const v of ['one', 'two', 'three']) {
        await new Promise((r) => setTimeout(r, 150));
        expectOk(await produceValues(client, 'stream', 0, [v], 1));
      }
    })();
    try {
      for await (const msg of stream) {
        for (const p of msg.partitions) {
          expect(codeOf(p)).toBe('NONE');
          seen.push(...(await decodeFetched(p.records)).map((r) => r.value ?? ''));
        }
        if (seen.length >= 4) break;
      }
    } finally {
      abort.abort();
      await producer;
    }
    expect(seen).toEqual(['before', 'one', 'two', 'three']);
  });
});

describe('bad input', () => {
  it('rejects invalid topic names, configs, counts and duplicates with clear errors', async () => {
    expect(await createTopicRaw('has space')).toMatchObject({ code: 'INVALID_TOPIC_EXCEPTION' });
    expect(await createTopicRaw('')).toMatchObject({ code: 'INVALID_TOPIC_EXCEPTION' });
    expect(await createTopicRaw('..')).toMatchObject({ code: 'INVALID_TOPIC_EXCEPTION' });
    expect(await createTopicRaw('x'.repeat(250))).toMatchObject({ code: 'INVALID_TOPIC_EXCEPTION' });
    const badConfig = await createTopicRaw('bad-config', { configs: { 'retention.ms': 'soon' } });
    expect(badConfig.code).toBe('INVALID_CONFIG');
    expect(badConfig.message).toContain('retention.ms');
    expect((await createTopicRaw('unknown-config', { configs: { 'no.such.config': '1' } })).code).toBe('INVALID_CONFIG');
    expect((await createTopicRaw('minisr', { rf: 1, configs: { 'min.insync.replicas': '2' } })).code).toBe('INVALID_CONFIG');
    expect((await createTopicRaw('rf-too-big', { rf: 4 })).code).toBe('INVALID_REPLICATION_FACTOR');
    expect((await createTopicRaw('zero-partitions', { partitions: 0 })).code).toBe('INVALID_PARTITIONS');
    await createTopic(c().client(1), 'dup');
    expect((await createTopicRaw('dup')).code).toBe('TOPIC_ALREADY_EXISTS');
    // None of the refused topics exists.
    const all = await c().client(3).describeTopics({ names: [], includeInternal: false });
    const names = all.topics.map((t) => t.name);
    for (const refused of ['bad-config', 'unknown-config', 'minisr', 'rf-too-big', 'zero-partitions']) expect(names).not.toContain(refused);
  });

  it('refuses garbage, truncated, corrupt and oversized batches and appends nothing', async () => {
    await createTopic(c().client(1), 'malformed', { partitions: 1, configs: { 'max.message.bytes': '2048' } });
    const { client } = await leaderClient('malformed', 0);
    expectOk(await produceValues(client, 'malformed', 0, ['good']));
    const endBefore = await latestOffset(client, 'malformed', 0);
    expect(endBefore).toBe(1);

    const garbage = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 131 + 7) & 0xff));
    const good = await batchOf(['payload-1', 'payload-2']);
    const truncated = good.subarray(0, good.length - 5);
    const corrupt = Buffer.from(good);
    const flipAt = 61 + 3; // a byte of the records section, after the 61-byte header
    corrupt.writeUInt8(corrupt.readUInt8(flipAt) ^ 0xff, flipAt);
    const oversized = await batchOf(['x'.repeat(4_096)]);
    const cases: [string, Buffer, string[]][] = [
      ['garbage', garbage, ['INVALID_RECORD', 'CORRUPT_MESSAGE']],
      ['empty', Buffer.alloc(0), ['INVALID_RECORD']],
      ['truncated', truncated, ['INVALID_RECORD', 'CORRUPT_MESSAGE']],
      ['bad crc', corrupt, ['CORRUPT_MESSAGE']],
      ['oversized', oversized, ['MESSAGE_TOO_LARGE']],
      ['good then corrupt', Buffer.concat([good, corrupt]), ['CORRUPT_MESSAGE']],
    ];
    for (const [name, bytes, codes] of cases) {
      const r = await produceBytes(client, 'malformed', 0, bytes, -1);
      expect(codes, `${name}: got ${codeOf(r)} ${r.errorMessage}`).toContain(codeOf(r));
      expect(r.errorMessage.length, name).toBeGreaterThan(0);
    }
    expect(await latestOffset(client, 'malformed', 0)).toBe(endBefore);
    expect((await readAll(client, 'malformed', 0)).map((r) => r.value)).toEqual(['good']);
    // The broker still serves after all that.
    expect(expectOk(await produceValues(client, 'malformed', 0, ['after'])).baseOffset).toBe(1);
  });

  it('rejects undecodable request bytes at the gRPC layer and keeps serving', async () => {
    const grpc = await import('@grpc/grpc-js');
    const raw = new grpc.Client(c().broker(1).clientAddress, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<{ code: number; details: string }>((resolve) => {
        raw.makeUnaryRequest(
          '/streambus.v1.StreamBus/Produce',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]),
          { deadline: Date.now() + 5_000 },
          (err) => resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
        );
      });
      expect(status.code).not.toBe(0);
      expect(status.code).not.toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      raw.close();
    }
    const md = await c().client(1).describeCluster({ includeFenced: false });
    expect(md.brokers.length).toBe(3);
  });
});

describe('examples', () => {
  it('the quickstart example produces and reads back its records', async () => {
    const topic = 'quickstart-e2e';
    const run = await startProcess({
      command: process.execPath,
      args: ['--conditions=@streambus/source', '--import', 'tsx', join(REPO_ROOT, 'apps/broker/examples/quickstart.ts'), c().addresses.join(','), topic],
      cwd: REPO_ROOT,
      name: 'quickstart',
    });
    const exit = await run.waitExit(30_000);
    expect(exit, run.output(40)).toEqual({ code: 0, signal: null });
    const out = run.stdout.join('\n');
    expect(out).toContain(`topic ${topic}`);
    for (const word of ['hello', 'from', 'the', 'streambus', 'quickstart']) expect(out).toContain(`value ${word}`);
    // The records are really in the cluster.
    const { client } = await leaderClient(topic, 0);
    expect((await readAll(client, topic, 0)).map((r) => r.value)).toEqual(['hello', 'from', 'the', 'streambus', 'quickstart']);
  });
});

describe('topic administration', () => {
  it('alters configs and describes them from another broker', async () => {
    await createTopic(c().client(1), 'configs', { partitions: 1, configs: { 'retention.ms': '3600000' } });
    await waitAllBrokersKnow('configs', 1);
    const alter = await c().client(2).alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceType.TOPIC,
          name: 'configs',
          configs: [
            { name: 'retention.ms', op: AlterConfigOp.SET, value: '7200000' },
            { name: 'cleanup.policy', op: AlterConfigOp.SET, value: 'compact' },
          ],
        },
      ],
    });
    expect(alter.results[0]?.error).toBeUndefined();
    const describe3 = async (): Promise<Record<string, string | undefined>> => {
      const d = await c().client(3).describeConfigs({ resources: [{ type: ConfigResourceType.TOPIC, name: 'configs', configNames: [] }] });
      expect(d.results[0]?.error).toBeUndefined();
      return Object.fromEntries(d.results[0]!.configs.map((e) => [e.name, e.value]));
    };
    await waitFor(async () => (await describe3())['retention.ms'] === '7200000', { timeoutMs: 5_000, what: 'broker 3 to see the altered config' });
    const configs = await describe3();
    expect(configs['cleanup.policy']).toBe('compact');
    // Invalid changes are refused and change nothing.
    const bad = await c().client(1).alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceType.TOPIC, name: 'configs', configs: [{ name: 'retention.ms', op: AlterConfigOp.SET, value: 'forever' }] }],
    });
    expect(codeOf(bad.results[0]?.error)).toBe('INVALID_CONFIG');
    const unknown = await c().client(1).alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceType.TOPIC, name: 'no-such-topic', configs: [{ name: 'retention.ms', op: AlterConfigOp.SET, value: '1' }] }],
    });
    expect(codeOf(unknown.results[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Deleting the override restores the default.
    const del = await c().client(1).alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceType.TOPIC, name: 'configs', configs: [{ name: 'cleanup.policy', op: AlterConfigOp.DELETE }] }],
    });
    expect(del.results[0]?.error).toBeUndefined();
    await waitFor(async () => (await describe3())['cleanup.policy'] === 'delete', { timeoutMs: 5_000, what: 'the cleanup.policy override to be removed' });
    expect((await describe3())['retention.ms']).toBe('7200000');
  });

  it('creates partitions that can be produced to at once', async () => {
    await createTopic(c().client(1), 'grow', { partitions: 1 });
    await waitAllBrokersKnow('grow', 1);
    const res = await c().client(3).createPartitions({ topics: [{ name: 'grow', count: 3, assignments: [] }], timeoutMs: 10_000, validateOnly: false });
    expect(res.topics[0]?.error).toBeUndefined();
    const shrink = await c().client(3).createPartitions({ topics: [{ name: 'grow', count: 2, assignments: [] }], timeoutMs: 10_000, validateOnly: false });
    expect(codeOf(shrink.topics[0]?.error)).toBe('INVALID_PARTITIONS');
    for (let p = 0; p < 3; p++) {
      const { client } = await leaderClient('grow', p);
      expect(expectOk(await produceValues(client, 'grow', p, [`v${p}`])).baseOffset).toBe(0);
      expect((await readAll(client, 'grow', p)).map((r) => r.value)).toEqual([`v${p}`]);
    }
    const d = await c().client(2).describeTopics({ names: ['grow'], includeInternal: false });
    expect(d.topics[0]?.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
  });

  it('deletes a topic: its data files leave the disk and the name can be reused', async () => {
    await createTopic(c().client(1), 'doomed', { partitions: 1 });
    await waitAllBrokersKnow('doomed', 1);
    const { id, client } = await leaderClient('doomed', 0);
    const sstDir = join(c().broker(id).dataDir, 'storage', 'sst');
    const listSst = (): Map<string, number> => {
      try {
        return new Map(readdirSync(sstDir).map((f) => [f, statSync(join(sstDir, f)).size]));
      } catch {
        return new Map();
      }
    };
    const sstBytes = (): number => [...listSst().values()].reduce((a, b) => a + b, 0);
    // ~1.25 MiB against a 1 MiB memtable budget: the partition flushes to a few SSTables.
    // Other topics of this file hold a few KiB, so the total on disk is almost all doomed's.
    // Fewer tables than storage's compactionMinTables (4) keep compaction out of the way: a
    // merge racing the deletion hits a storage bug this test is not about (mergeSmallTables
    // reads the tables without the partition's exclusive lock, deletePartition unlinks them,
    // and the ENOENT fails the whole engine).
    const value = 'v'.repeat(1_000);
    for (let i = 0; i < 5; i++) expectOk(await produceBytes(client, 'doomed', 0, await batchOf(Array.from({ length: 250 }, () => value)), 1));
    await waitFor(() => sstBytes() >= 768 * 1024, { timeoutMs: 15_000, what: `768 KiB of SSTables in ${sstDir}` });
    const del = await c().client(2).deleteTopics({ names: ['doomed'], timeoutMs: 10_000 });
    expect(del.topics[0]?.error).toBeUndefined();
    await waitFor(() => sstBytes() < 256 * 1024, {
      timeoutMs: 10_000,
      what: () => `the SSTables of doomed to be removed (left: ${[...listSst()].map(([f, n]) => `${f}=${n}`).join(', ')})`,
    });
    await c().broker(id).process!.waitForLine(/"topic":"doomed".*"msg":"partition log deleted"/, 5_000);
    for (const b of c().brokers) {
      const md = await c().client(b.id).metadata({ topics: ['doomed'] });
      expect(codeOf(md.topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    }
    expect(codeOf((await c().client(2).deleteTopics({ names: ['doomed'], timeoutMs: 5_000 })).topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Re-created under the same name, the topic starts empty.
    await createTopic(c().client(1), 'doomed', { partitions: 1 });
    const again = await leaderClient('doomed', 0);
    expect(await latestOffset(again.client, 'doomed', 0)).toBe(0);
  });
});
