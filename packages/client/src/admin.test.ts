import { ErrorCode, StreamBusError } from '@streambus/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StreamBus } from './streambus.js';
import { FakeBroker } from './testing/fake-broker.js';
import { trackUnhandledRejections } from './testing/harness.js';

trackUnhandledRejections();

let fake: FakeBroker;
let bus: StreamBus;

beforeEach(async () => {
  fake = await FakeBroker.start({ brokerCount: 3 });
  bus = new StreamBus({ brokers: fake.brokers, retryBackoffMs: 5, retryBackoffMaxMs: 20 });
});

afterEach(async () => {
  await bus.close();
  await fake.stop();
});

describe('admin', () => {
  it('creates, lists, describes, grows and deletes topics', async () => {
    const admin = bus.admin();
    const created = await admin.createTopics([{ name: 'a', numPartitions: 3, configs: { 'retention.ms': '1000' } }, { name: 'b' }]);
    expect(created.map((t) => [t.name, t.numPartitions])).toEqual([
      ['a', 3],
      ['b', 1],
    ]);
    expect(await admin.listTopics()).toEqual(['a', 'b']);
    const [a] = await admin.describeTopics(['a']);
    expect(a!.partitions.map((p) => p.leaderId)).toEqual([0, 1, 2]);
    await admin.createPartitions([{ name: 'a', count: 5 }]);
    expect((await admin.describeTopics(['a']))[0]!.partitions).toHaveLength(5);
    await admin.deleteTopics(['b']);
    expect(await admin.listTopics()).toEqual(['a']);
  });

  it('throws typed per-topic errors', async () => {
    const admin = bus.admin();
    await admin.createTopics([{ name: 'dup', numPartitions: 1 }]);
    const err: unknown = await admin.createTopics([{ name: 'dup' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamBusError);
    expect(err).toMatchObject({ code: 'TOPIC_ALREADY_EXISTS', retriable: false });
    await expect(admin.describeTopics(['nope'])).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    await expect(admin.createPartitions([{ name: 'dup', count: 1 }])).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
    await expect(admin.createTopics([{ name: 'x', replicationFactor: 9 }])).rejects.toMatchObject({ code: 'INVALID_REPLICATION_FACTOR' });
    await expect(admin.deleteTopics(['nope'])).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('describes and alters configs incrementally', async () => {
    const admin = bus.admin();
    await admin.createTopics([{ name: 'c', numPartitions: 1 }]);
    await admin.alterConfigs([{ type: 'topic', name: 'c', configs: [{ name: 'cleanup.policy', value: 'compact' }] }]);
    const [described] = await admin.describeConfigs([{ type: 'topic', name: 'c', configNames: ['cleanup.policy', 'retention.ms'] }]);
    expect(described!.configs).toEqual([
      { name: 'cleanup.policy', value: 'compact', source: 'dynamic-topic', readOnly: false, sensitive: false },
      { name: 'retention.ms', value: '604800000', source: 'default', readOnly: false, sensitive: false },
    ]);
    await admin.alterConfigs([{ type: 'topic', name: 'c', configs: [{ name: 'cleanup.policy', op: 'delete' }] }]);
    const [after] = await admin.describeConfigs([{ type: 'topic', name: 'c', configNames: ['cleanup.policy'] }]);
    expect(after!.configs[0]!.source).toBe('default');
    await expect(admin.alterConfigs([{ type: 'topic', name: 'c', configs: [{ name: 'x', op: 'set' }] }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('describes the cluster and retries a broker that is unavailable', async () => {
    fake.injectError({ api: 'admin', grpcStatus: 14, count: 2 });
    const cluster = await bus.admin().describeCluster();
    expect(cluster.clusterId).toBe('fake-cluster');
    expect(cluster.brokers.map((b) => b.brokerId)).toEqual([0, 1, 2]);
  });

  it('lists earliest, latest and timestamp offsets at the leader, following a leader move', async () => {
    fake.createTopic('o', 2);
    const producer = bus.producer({ lingerMs: 0 });
    await producer.send({ topic: 'o', messages: [{ partition: 1, value: 'a', timestamp: 100 }] });
    await producer.send({ topic: 'o', messages: [{ partition: 1, value: 'b', timestamp: 200 }] });
    fake.moveLeader('o', 1, 2);
    fake.injectError({ api: 'listOffsets', topic: 'o', partition: 1, errorCode: ErrorCode.LEADER_NOT_AVAILABLE });
    const offsets = await bus.admin().listOffsets([
      { topic: 'o', partition: 1, spec: 'earliest' },
      { topic: 'o', partition: 1, spec: 'latest' },
      { topic: 'o', partition: 1, spec: { timestamp: 150 } },
      { topic: 'o', partition: 1, spec: { timestamp: 999 } },
    ]);
    expect(offsets.map((o) => o.offset)).toEqual([0, 2, 1, -1]);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(bus.admin().listTopics({ signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('StreamBus', () => {
  it('rejects a bad broker list and reports NO_BROKER_AVAILABLE when nobody answers', async () => {
    expect(() => new StreamBus({ brokers: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new StreamBus({ brokers: ['nohost'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const dead = new StreamBus({ brokers: ['127.0.0.1:1'], requestTimeoutMs: 500 });
    await expect(dead.admin().listTopics()).rejects.toMatchObject({ code: 'NO_BROKER_AVAILABLE', retriable: true });
    await dead.close();
    expect(() => dead.producer()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});
