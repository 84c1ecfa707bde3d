import { describe, expect, it } from 'vitest';
import { cluster } from '../test/helpers.js';
import {
  NO_LEADER,
  brokersWithExpiredSessions,
  describeCluster,
  describeTopic,
  electionChange,
  leaderBroker,
  leaderOf,
  localChanges,
  offlinePartitions,
  partitionsLedBy,
  partitionsReplicatedOn,
  reassigningPartitions,
  topicByName,
  topicConfig,
  underReplicatedPartitions,
  unfencedBrokers,
} from './index.js';

describe('queries', () => {
  it('find leaders, led and replicated partitions', () => {
    const log = cluster(3);
    const t = log.createTopic('t', [[1, 2], [2, 3], [3, 1]]);
    const s = log.state;
    expect(topicByName(s, 't')).toBe(t);
    expect(topicByName(s, 'nope')).toBeUndefined();
    expect(leaderOf(s, t.topicId, 1)).toBe(2);
    expect(leaderOf(s, t.topicId, 9)).toBeUndefined();
    expect(leaderBroker(s, t.topicId, 1)?.host).toBe('broker-2.local');
    expect(partitionsLedBy(s, 1)).toEqual([{ topicId: t.topicId, partition: 0 }]);
    expect(partitionsReplicatedOn(s, 1)).toEqual([
      { topicId: t.topicId, partition: 0 },
      { topicId: t.topicId, partition: 2 },
    ]);
  });

  it('report offline and under-replicated partitions', () => {
    const log = cluster(2);
    const a = log.createTopic('a', [[1, 2]]);
    const b = log.createTopic('b', [[2]]);
    log.fence(2);
    expect(leaderOf(log.state, b.topicId, 0)).toBe(NO_LEADER);
    expect(leaderBroker(log.state, b.topicId, 0)).toBeUndefined();
    expect(offlinePartitions(log.state)).toEqual([{ topicId: b.topicId, partition: 0 }]);
    expect(underReplicatedPartitions(log.state)).toEqual([{ topicId: a.topicId, partition: 0 }]);
    expect(unfencedBrokers(log.state).map((b) => b.brokerId)).toEqual([1]);
  });

  it('list brokers whose session expired at the caller’s time', () => {
    const log = cluster(2);
    log.advance(1_000);
    log.ok({ type: 'BrokerHeartbeat', brokerId: 2, brokerEpoch: log.brokerEpoch(2) });
    expect(brokersWithExpiredSessions(log.state, 2_500, 1_000).map((b) => b.brokerId)).toEqual([1]);
    expect(brokersWithExpiredSessions(log.state, 1_500, 1_000)).toEqual([]);
  });

  it('describe topics with effective configs and the cluster with its controller', () => {
    const log = cluster(2);
    log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 1_000 });
    log.createTopic('t', [[1, 2]], { 'cleanup.policy': 'compact' });
    const d = describeTopic(log.state, 't');
    expect(d?.configs.find((c) => c.key === 'cleanup.policy')).toEqual({ key: 'cleanup.policy', value: 'compact', isDefault: false });
    expect(describeTopic(log.state, 'u')).toBeUndefined();
    expect(topicConfig(log.topic('t')).cleanupPolicy).toBe('compact');
    expect(describeCluster(log.state)).toMatchObject({ clusterId: 'test-cluster', controllerId: 100, controllerEpoch: 1, topicCount: 1, partitionCount: 1 });
  });
});

describe('electionChange', () => {
  it('proposes a preferred-leader election only when the preferred replica is in sync and live', () => {
    const log = cluster(3);
    const t = log.createTopic('t', [[1, 2, 3]]);
    expect(electionChange(log.state, t.topicId, 0, 'preferred')).toBeUndefined();
    log.ok({ type: 'PartitionChange', topicId: t.topicId, partition: 0, partitionEpoch: 0, leader: 2 });
    const change = electionChange(log.state, t.topicId, 0, 'preferred', 7);
    expect(change).toEqual({ type: 'PartitionChange', topicId: t.topicId, partition: 0, partitionEpoch: 1, leader: 1, controllerEpoch: 7 });
    log.fence(1);
    expect(electionChange(log.state, t.topicId, 0, 'preferred')).toBeUndefined();
    expect(electionChange(log.state, 'nope', 0, 'preferred')).toBeUndefined();
  });

  it('proposes a clean election for an offline partition, and an unclean one only where allowed', () => {
    for (const unclean of [false, true]) {
      const log = cluster(3);
      const t = log.createTopic('t', [[1, 2]], { 'unclean.leader.election.enable': String(unclean) });
      expect(electionChange(log.state, t.topicId, 0, 'clean')).toBeUndefined();
      log.fence(2);
      log.fence(1);
      log.unfence(2);
      expect(electionChange(log.state, t.topicId, 0, 'clean')).toBeUndefined();
      const change = electionChange(log.state, t.topicId, 0, 'unclean');
      if (!unclean) {
        expect(change).toBeUndefined();
        continue;
      }
      expect(change).toMatchObject({ leader: 2, isr: [2] });
      log.ok(change!);
      expect(log.partition('t', 0)).toMatchObject({ leader: 2, isr: [2], offline: false });
    }
  });

  it('lists partitions being reassigned', () => {
    const log = cluster(3);
    const t = log.createTopic('t', [[1, 2]]);
    expect(reassigningPartitions(log.state)).toEqual([]);
    log.ok({ type: 'BeginReassignment', topicId: t.topicId, partition: 0, partitionEpoch: 0, targetReplicas: [2, 3] });
    expect(reassigningPartitions(log.state)).toEqual([{ topicId: t.topicId, partition: 0 }]);
  });
});

describe('localChanges', () => {
  it('tells each broker which replicas to lead, follow or delete', () => {
    const log = cluster(3);
    const t = log.createTopic('t', [[1, 2]]);
    let local = localChanges(log.last!.delta, log.state, 1);
    expect(local.leaders.map((p) => p.partition)).toEqual([0]);
    expect(localChanges(log.last!.delta, log.state, 2).followers.map((p) => p.topicName)).toEqual(['t']);
    expect(localChanges(log.last!.delta, log.state, 3)).toEqual({ leaders: [], followers: [], deletes: [] });

    log.ok({ type: 'BeginReassignment', topicId: t.topicId, partition: 0, partitionEpoch: 0, targetReplicas: [3, 2] });
    expect(localChanges(log.last!.delta, log.state, 3).followers.map((p) => p.partition)).toEqual([0]);
    log.ok({ type: 'PartitionChange', topicId: t.topicId, partition: 0, partitionEpoch: 1, byLeader: { brokerId: 1, brokerEpoch: log.brokerEpoch(1), leaderEpoch: 0 }, isr: [1, 2, 3] });
    log.ok({ type: 'CompleteReassignment', topicId: t.topicId, partition: 0, partitionEpoch: 2 });
    local = localChanges(log.last!.delta, log.state, 1);
    expect(local.deletes).toEqual([{ topicId: t.topicId, partition: 0, topicName: 't' }]);
    expect(localChanges(log.last!.delta, log.state, 3).leaders.map((p) => p.state.leaderEpoch)).toEqual([1]);

    log.ok({ type: 'DeleteTopic', topicId: t.topicId });
    expect(localChanges(log.last!.delta, log.state, 2).deletes).toEqual([{ topicId: t.topicId, partition: 0, topicName: 't' }]);
  });
});
