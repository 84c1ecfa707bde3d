import { describe, expect, it } from 'vitest';
import { TestLog, cluster } from '../test/helpers.js';
import { NO_LEADER, apply, emptyState, type MetadataCommand } from './index.js';

describe('InitializeCluster', () => {
  it('sets the cluster id once; the same id again is accepted, another is rejected', () => {
    const log = new TestLog();
    expect(log.ok({ type: 'InitializeCluster', clusterId: 'abc' })).toEqual({ type: 'InitializeCluster', clusterId: 'abc' });
    expect(log.last?.delta.clusterIdChanged).toBe(true);
    log.ok({ type: 'InitializeCluster', clusterId: 'abc' });
    expect(log.last?.delta.clusterIdChanged).toBe(false);
    expect(log.rejects({ type: 'InitializeCluster', clusterId: 'xyz' })).toBe('INCONSISTENT_CLUSTER_ID');
    expect(log.state.clusterId).toBe('abc');
  });

  it('rejects a cluster id with characters outside [a-zA-Z0-9_-]', () => {
    expect(new TestLog().rejects({ type: 'InitializeCluster', clusterId: 'a b' })).toBe('INVALID_REQUEST');
  });
});

describe('RegisterBroker', () => {
  it('registers a new broker fenced, with the log index as its broker epoch', () => {
    const log = new TestLog();
    log.advance(500);
    const epoch = log.register(7, 'r1');
    expect(epoch).toBe(1);
    expect(log.state.brokers.get(7)).toEqual({
      brokerId: 7,
      incarnationId: 'inc-7-a',
      host: 'broker-7.local',
      port: 9092,
      rack: 'r1',
      brokerEpoch: 1,
      lastHeartbeatMs: 1_500,
      fenced: true,
      retiredIncarnationIds: [],
    });
    expect(log.last?.delta.brokers.map((b) => b.brokerId)).toEqual([7]);
  });

  it('answers a retried registration of the same incarnation with its existing epoch and changes nothing', () => {
    const log = cluster(1);
    const before = log.state.brokers;
    expect(log.register(1)).toBe(2);
    expect(log.state.brokers).toBe(before);
  });

  it('rejects the same incarnation with another endpoint as a duplicate registration', () => {
    const log = cluster(1);
    expect(log.rejects({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'inc-1-a', host: 'elsewhere', port: 9092, rack: null })).toBe(
      'DUPLICATE_BROKER_REGISTRATION',
    );
  });

  it('gives a new incarnation a new epoch, fences it and retires the old incarnation', () => {
    const log = cluster(1);
    const epoch = log.register(1, null, 'inc-1-b');
    expect(epoch).toBe(log.index);
    expect(log.state.brokers.get(1)).toMatchObject({ incarnationId: 'inc-1-b', brokerEpoch: epoch, fenced: true, retiredIncarnationIds: ['inc-1-a'] });
  });

  it('rejects a replaced incarnation that registers again as stale', () => {
    const log = cluster(1);
    log.register(1, null, 'inc-1-b');
    expect(log.rejects({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'inc-1-a', host: 'broker-1.local', port: 9092, rack: null })).toBe(
      'STALE_BROKER_EPOCH',
    );
  });

  it('keeps at most retiredIncarnationsMax old incarnation ids', () => {
    const log = cluster(1);
    for (let i = 0; i < 12; i++) log.register(1, null, `inc-1-${i}`);
    expect(log.state.brokers.get(1)?.retiredIncarnationIds).toHaveLength(8);
    expect(log.state.brokers.get(1)?.retiredIncarnationIds.at(-1)).toBe('inc-1-10');
  });

  it('moves leadership away from a broker that restarted with a new incarnation', () => {
    const log = cluster(3);
    log.createTopic('t', [[1, 2, 3]]);
    log.register(1, null, 'inc-1-b');
    expect(log.partition('t', 0)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 });
  });

  it('rejects a broker formatted for another cluster', () => {
    const log = cluster(0);
    expect(log.rejects({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', host: 'h', port: 1, rack: null, clusterId: 'other' })).toBe('INCONSISTENT_CLUSTER_ID');
    log.ok({ type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', host: 'h', port: 1, rack: null, clusterId: 'test-cluster' });
  });

  it.each<[string, MetadataCommand]>([
    ['port 0', { type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', host: 'h', port: 0, rack: null }],
    ['negative id', { type: 'RegisterBroker', brokerId: -1, incarnationId: 'x', host: 'h', port: 1, rack: null }],
    ['empty host', { type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', host: '', port: 1, rack: null }],
    ['empty incarnation', { type: 'RegisterBroker', brokerId: 1, incarnationId: '', port: 1, host: 'h', rack: null }],
    ['empty rack', { type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', host: 'h', port: 1, rack: '' }],
  ])('rejects a registration with %s as INVALID_REQUEST', (_name, command) => {
    expect(new TestLog().rejects(command)).toBe('INVALID_REQUEST');
  });
});

describe('BrokerHeartbeat', () => {
  it('records the command timestamp as the last heartbeat', () => {
    const log = cluster(1);
    log.advance(250);
    expect(log.ok({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: log.brokerEpoch(1) })).toEqual({ type: 'BrokerHeartbeat', fenced: false });
    expect(log.state.brokers.get(1)?.lastHeartbeatMs).toBe(1_250);
  });

  it('rejects an unregistered broker and a stale broker epoch', () => {
    const log = cluster(1);
    expect(log.rejects({ type: 'BrokerHeartbeat', brokerId: 9, brokerEpoch: 1 })).toBe('BROKER_ID_NOT_REGISTERED');
    const old = log.brokerEpoch(1);
    log.register(1, null, 'inc-1-b');
    expect(log.rejects({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: old })).toBe('STALE_BROKER_EPOCH');
  });
});

describe('FenceBroker', () => {
  it('elects the next in-sync replica in preference order and bumps both epochs', () => {
    const log = cluster(3);
    log.createTopic('t', [[1, 2, 3], [2, 3, 1]]);
    log.fence(1);
    expect(log.partition('t', 0)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1, offline: false });
    // Broker 1 followed partition 1: it only leaves the ISR; the leader epoch stays.
    expect(log.partition('t', 1)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 0, partitionEpoch: 1 });
    expect(log.last?.delta.partitions.map((p) => p.partition)).toEqual([0, 1]);
  });

  it('never empties an ISR: the last member stays and the partition goes offline', () => {
    const log = cluster(2);
    log.createTopic('t', [[1, 2]]);
    log.fence(2);
    log.fence(1);
    expect(log.partition('t', 0)).toMatchObject({ leader: NO_LEADER, isr: [1], offline: true, leaderEpoch: 1, partitionEpoch: 2 });
  });

  it('is a no-op for a broker already fenced', () => {
    const log = cluster(2);
    log.fence(1);
    const before = log.state.brokers;
    log.fence(1);
    expect(log.state.brokers).toBe(before);
  });

  it('rejects a stale broker epoch, so fencing an old incarnation cannot fence the new one', () => {
    const log = cluster(1);
    const old = log.brokerEpoch(1);
    log.register(1, null, 'inc-1-b');
    log.unfence(1);
    expect(log.rejects({ type: 'FenceBroker', brokerId: 1, brokerEpoch: old })).toBe('STALE_BROKER_EPOCH');
    expect(log.state.brokers.get(1)?.fenced).toBe(false);
  });

  it('rejects an unknown broker', () => {
    expect(cluster(1).rejects({ type: 'FenceBroker', brokerId: 5, brokerEpoch: 1 })).toBe('BROKER_ID_NOT_REGISTERED');
  });
});

describe('UnfenceBroker', () => {
  it('brings back as leader the offline partitions whose last in-sync replica it is', () => {
    const log = cluster(2);
    log.createTopic('t', [[1, 2]]);
    log.fence(2);
    log.fence(1);
    log.advance(100);
    log.unfence(1);
    expect(log.partition('t', 0)).toMatchObject({ leader: 1, isr: [1], offline: false, leaderEpoch: 2 });
    expect(log.state.brokers.get(1)).toMatchObject({ fenced: false, lastHeartbeatMs: 1_100 });
  });

  it('does not elect a broker outside the ISR', () => {
    const log = cluster(2);
    log.createTopic('t', [[1, 2]]);
    log.fence(2);
    log.fence(1);
    log.unfence(2);
    expect(log.partition('t', 0)).toMatchObject({ leader: NO_LEADER, isr: [1] });
  });

  it('rejects a stale broker epoch', () => {
    const log = cluster(1);
    log.fence(1);
    expect(log.rejects({ type: 'UnfenceBroker', brokerId: 1, brokerEpoch: 999 })).toBe('STALE_BROKER_EPOCH');
  });
});

describe('UnregisterBroker', () => {
  it('moves leadership and ISR membership away as a fence does, then removes the registration', () => {
    const log = cluster(3);
    log.createTopic('t', [[1, 2, 3]]);
    log.ok({ type: 'UnregisterBroker', brokerId: 1, brokerEpoch: log.brokerEpoch(1) });
    expect(log.state.brokers.has(1)).toBe(false);
    expect(log.partition('t', 0)).toMatchObject({ leader: 2, isr: [2, 3], replicas: [1, 2, 3], leaderEpoch: 1 });
    expect(log.last?.delta.brokersUnregistered.map((b) => b.brokerId)).toEqual([1]);
    expect(log.last?.delta.brokers).toEqual([]);
  });

  it('lets the id register again as a new broker', () => {
    const log = cluster(2);
    log.ok({ type: 'UnregisterBroker', brokerId: 2, brokerEpoch: log.brokerEpoch(2) });
    expect(log.register(2)).toBe(log.index);
    expect(log.state.brokers.get(2)).toMatchObject({ fenced: true, retiredIncarnationIds: [] });
  });

  it('rejects an unknown broker and a stale broker epoch', () => {
    const log = cluster(1);
    expect(log.rejects({ type: 'UnregisterBroker', brokerId: 4, brokerEpoch: 1 })).toBe('BROKER_ID_NOT_REGISTERED');
    expect(log.rejects({ type: 'UnregisterBroker', brokerId: 1, brokerEpoch: 999 })).toBe('STALE_BROKER_EPOCH');
  });
});

describe('apply contract', () => {
  it('advances the applied index and clock on a rejection and changes nothing else', () => {
    const log = cluster(1);
    log.advance(10);
    log.rejects({ type: 'BrokerHeartbeat', brokerId: 2, brokerEpoch: 1 });
    expect(log.state.appliedIndex).toBe(log.index);
    expect(log.state.clockMs).toBe(1_010);
  });

  it('keeps the metadata clock monotonic when a new Raft leader stamps an earlier time', () => {
    const log = cluster(1);
    log.run({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: log.brokerEpoch(1) }, 5_000);
    log.run({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: log.brokerEpoch(1) }, 4_000);
    expect(log.state.clockMs).toBe(5_000);
    expect(log.state.brokers.get(1)?.lastHeartbeatMs).toBe(5_000);
  });

  it('rejects a negative or unsafe timestamp without moving the clock', () => {
    const log = cluster(1);
    const clock = log.state.clockMs;
    const r = log.run({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: log.brokerEpoch(1) }, -1);
    expect(r.outcome.ok ? 'ok' : r.outcome.error.code).toBe('INVALID_REQUEST');
    log.run({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: log.brokerEpoch(1) }, 2 ** 60);
    expect(log.state.clockMs).toBe(clock);
  });

  it('throws an invariant error when asked to apply an index that does not move forward', () => {
    const s = apply(emptyState(), 5, { type: 'InitializeCluster', clusterId: 'c' }, 1).state;
    expect(() => apply(s, 5, { type: 'InitializeCluster', clusterId: 'c' }, 1)).toThrow(/apply of index 5 after 5/);
  });

  it('rejects a malformed in-memory command as INVALID_REQUEST instead of crashing', () => {
    const log = new TestLog();
    expect(log.rejects({ type: 'Nope' } as unknown as MetadataCommand)).toBe('INVALID_REQUEST');
    expect(log.rejects({ type: 'BrokerHeartbeat', brokerId: 1.5, brokerEpoch: 1 })).toBe('INVALID_REQUEST');
    expect(log.rejects({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: 1, extra: 1 } as MetadataCommand)).toBe('INVALID_REQUEST');
    expect(log.rejects(null as unknown as MetadataCommand)).toBe('INVALID_REQUEST');
  });

  it('does not mutate the state it is given', () => {
    const log = cluster(3);
    log.createTopic('t', [[1, 2, 3]]);
    const before = log.state;
    const frozenPartition = log.partition('t', 0);
    const r = apply(before, log.index + 1, { type: 'FenceBroker', brokerId: 1, brokerEpoch: log.brokerEpoch(1) }, 2_000);
    expect(r.state.topics.get(log.topic('t').topicId)?.partitions[0]?.leader).toBe(2);
    expect(log.partition('t', 0)).toBe(frozenPartition);
    expect(frozenPartition.leader).toBe(1);
    expect(before.brokers.get(1)?.fenced).toBe(false);
  });
});
