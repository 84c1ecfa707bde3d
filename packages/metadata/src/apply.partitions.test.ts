import { describe, expect, it } from 'vitest';
import { cluster, type TestLog } from '../test/helpers.js';
import { NO_LEADER, type PartitionChange } from './index.js';

/** Brokers 1..4, topic t with one partition on [1, 2, 3] led by 1. */
function setup(configs: Record<string, string> = {}): { log: TestLog; topicId: string } {
  const log = cluster(4);
  return { log, topicId: log.createTopic('t', [[1, 2, 3]], configs).topicId };
}

function byLeader(log: TestLog, topicId: string, isr: number[], overrides: Partial<PartitionChange> = {}): PartitionChange {
  const p = log.partition('t', 0);
  return {
    type: 'PartitionChange',
    topicId,
    partition: 0,
    partitionEpoch: p.partitionEpoch,
    byLeader: { brokerId: p.leader, brokerEpoch: log.brokerEpoch(p.leader), leaderEpoch: p.leaderEpoch },
    isr,
    ...overrides,
  };
}

describe('PartitionChange proposed by the leader (AlterPartition)', () => {
  it('shrinks and expands the ISR, bumping only the partition epoch', () => {
    const { log, topicId } = setup();
    log.ok(byLeader(log, topicId, [1, 2]));
    expect(log.partition('t', 0)).toMatchObject({ isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    log.ok(byLeader(log, topicId, [1, 2, 3]));
    expect(log.partition('t', 0)).toMatchObject({ isr: [1, 2, 3], partitionEpoch: 2 });
    expect(log.last?.delta.partitions[0]?.before?.isr).toEqual([1, 2]);
  });

  it('rejects a stale partition epoch (a proposal built on an old view)', () => {
    const { log, topicId } = setup();
    const stale = byLeader(log, topicId, [1, 2]);
    log.ok(byLeader(log, topicId, [1, 3]));
    expect(log.rejects(stale)).toBe('INVALID_UPDATE_VERSION');
  });

  it('rejects a deposed leader by its leader epoch', () => {
    const { log, topicId } = setup();
    const fromOldLeader = byLeader(log, topicId, [1, 2]);
    log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, leader: 2 });
    expect(log.rejects(fromOldLeader)).toBe('FENCED_LEADER_EPOCH');
  });

  it('rejects a leader epoch from the future as unknown', () => {
    const { log, topicId } = setup();
    expect(log.rejects(byLeader(log, topicId, [1, 2], { byLeader: { brokerId: 1, brokerEpoch: log.brokerEpoch(1), leaderEpoch: 5 } }))).toBe(
      'UNKNOWN_LEADER_EPOCH',
    );
  });

  it('rejects a stale broker epoch, a non-leader and an unregistered proposer', () => {
    const { log, topicId } = setup();
    expect(log.rejects(byLeader(log, topicId, [1, 2], { byLeader: { brokerId: 1, brokerEpoch: 1, leaderEpoch: 0 } }))).toBe('STALE_BROKER_EPOCH');
    expect(log.rejects(byLeader(log, topicId, [2, 3], { byLeader: { brokerId: 2, brokerEpoch: log.brokerEpoch(2), leaderEpoch: 0 } }))).toBe(
      'NOT_LEADER_OR_FOLLOWER',
    );
    expect(log.rejects(byLeader(log, topicId, [1], { byLeader: { brokerId: 9, brokerEpoch: 1, leaderEpoch: 0 } }))).toBe('BROKER_ID_NOT_REGISTERED');
  });

  it('rejects a leader that changes leadership or replicas, drops itself, or omits the ISR', () => {
    const { log, topicId } = setup();
    expect(log.rejects(byLeader(log, topicId, [1, 2], { leader: 2 }))).toBe('INVALID_REQUEST');
    expect(log.rejects(byLeader(log, topicId, [1, 2], { replicas: [1, 2] }))).toBe('INVALID_REQUEST');
    expect(log.rejects(byLeader(log, topicId, [2, 3]))).toBe('INVALID_REQUEST');
    const { isr: _isr, ...noIsr } = byLeader(log, topicId, [1]);
    expect(log.rejects(noIsr)).toBe('INVALID_REQUEST');
  });

  it('rejects ISR members that are not replicas, duplicated, or fenced', () => {
    const { log, topicId } = setup();
    expect(log.rejects(byLeader(log, topicId, [1, 4]))).toBe('INVALID_REQUEST');
    expect(log.rejects(byLeader(log, topicId, [1, 1]))).toBe('INVALID_REQUEST');
    log.fence(3);
    expect(log.rejects(byLeader(log, topicId, [1, 2, 3]))).toBe('INELIGIBLE_REPLICA');
  });

  it('rejects an unknown topic and partition', () => {
    const { log, topicId } = setup();
    expect(log.rejects(byLeader(log, topicId, [1], { topicId: 'gone' }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(log.rejects(byLeader(log, topicId, [1], { partition: 3 }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('accepts a change that changes nothing without bumping an epoch', () => {
    const { log, topicId } = setup();
    log.ok(byLeader(log, topicId, [1, 2, 3]));
    expect(log.partition('t', 0).partitionEpoch).toBe(0);
    expect(log.last?.delta.partitions).toEqual([]);
  });
});

describe('PartitionChange decided by the controller', () => {
  it('moves leadership to another ISR member, bumping both epochs', () => {
    const { log, topicId } = setup();
    const r = log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, leader: 3 });
    expect(r.partition).toMatchObject({ leader: 3, leaderEpoch: 1, partitionEpoch: 1 });
  });

  it('may take a partition offline and shrink the ISR, but never grow it', () => {
    const { log, topicId } = setup();
    log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, leader: NO_LEADER, isr: [1, 2] });
    expect(log.partition('t', 0)).toMatchObject({ leader: NO_LEADER, offline: true, isr: [1, 2], leaderEpoch: 1 });
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 1, isr: [1, 2, 3] })).toBe('INVALID_REQUEST');
  });

  it('rejects a fenced new leader and a leader outside the ISR', () => {
    const { log, topicId } = setup();
    log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, isr: [1, 2] });
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 1, leader: 3 })).toBe('INVALID_REQUEST');
    log.fence(2);
    expect(log.partition('t', 0).isr).toEqual([1]);
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 2, leader: 2, isr: [2] })).toBe('INELIGIBLE_REPLICA');
  });

  it('rejects an empty ISR and electing the fenced last ISR member', () => {
    const { log, topicId } = setup();
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, isr: [] })).toBe('INVALID_REQUEST');
    log.fence(2);
    log.fence(3);
    log.fence(1);
    expect(log.partition('t', 0)).toMatchObject({ isr: [1], leader: NO_LEADER });
    const partitionEpoch = log.partition('t', 0).partitionEpoch;
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch, leader: 1 })).toBe('INELIGIBLE_REPLICA');
  });

  it('allows an unclean election only where the topic enables it', () => {
    for (const enabled of [false, true]) {
      const { log, topicId } = setup({ 'unclean.leader.election.enable': String(enabled) });
      log.fence(2);
      log.fence(3);
      log.fence(1);
      expect(log.partition('t', 0)).toMatchObject({ leader: NO_LEADER, isr: [1] });
      log.unfence(3);
      const change: PartitionChange = { type: 'PartitionChange', topicId, partition: 0, partitionEpoch: log.partition('t', 0).partitionEpoch, leader: 3, isr: [3] };
      if (enabled) {
        log.ok(change);
        expect(log.partition('t', 0)).toMatchObject({ leader: 3, isr: [3], offline: false });
      } else {
        expect(log.rejects(change)).toBe('INVALID_REQUEST');
      }
    }
  });

  it('changes replicas when no reassignment runs, checking them like an assignment', () => {
    const { log, topicId } = setup();
    log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 0, replicas: [1, 2, 3, 4] });
    expect(log.partition('t', 0).replicas).toEqual([1, 2, 3, 4]);
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 1, replicas: [1, 2, 9] })).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 1, replicas: [2, 3] })).toBe('INVALID_REQUEST');
  });
});

describe('reassignment steps', () => {
  it('runs begin → leader adds the new replica to the ISR → complete, moving the leader off a leaving broker', () => {
    const { log, topicId } = setup();
    const begun = log.ok({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [4, 2, 3] });
    expect(begun.partition).toMatchObject({ replicas: [4, 2, 3, 1], addingReplicas: [4], removingReplicas: [1], isr: [1, 2, 3], partitionEpoch: 1 });
    expect(log.rejects({ type: 'CompleteReassignment', topicId, partition: 0, partitionEpoch: 1 })).toBe('REASSIGNMENT_IN_PROGRESS');
    log.ok(byLeader(log, topicId, [1, 2, 3, 4]));
    const done = log.ok({ type: 'CompleteReassignment', topicId, partition: 0, partitionEpoch: 2 });
    expect(done.partition).toMatchObject({ replicas: [4, 2, 3], isr: [2, 3, 4], leader: 4, leaderEpoch: 1, addingReplicas: [], removingReplicas: [] });
  });

  it('cancel drops the added replicas and keeps the original ones', () => {
    const { log, topicId } = setup();
    log.ok({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [4, 2, 3] });
    log.ok(byLeader(log, topicId, [1, 2, 3, 4]));
    const cancelled = log.ok({ type: 'CancelReassignment', topicId, partition: 0, partitionEpoch: 2 });
    expect(cancelled.partition).toMatchObject({ replicas: [2, 3, 1], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, addingReplicas: [], removingReplicas: [] });
  });

  it('only reorders replicas when the target holds the same brokers', () => {
    const { log, topicId } = setup();
    const r = log.ok({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [3, 2, 1] });
    expect(r.partition).toMatchObject({ replicas: [3, 2, 1], addingReplicas: [], removingReplicas: [], leader: 1 });
  });

  it('rejects a second begin, steps without a reassignment, stale epochs and bad targets', () => {
    const { log, topicId } = setup();
    expect(log.rejects({ type: 'CompleteReassignment', topicId, partition: 0, partitionEpoch: 0 })).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    expect(log.rejects({ type: 'CancelReassignment', topicId, partition: 0, partitionEpoch: 0 })).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    expect(log.rejects({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [1, 1] })).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(log.rejects({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [] })).toBe('INVALID_REPLICA_ASSIGNMENT');
    log.ok({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [4] });
    expect(log.rejects({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 1, targetReplicas: [2] })).toBe('REASSIGNMENT_IN_PROGRESS');
    expect(log.rejects({ type: 'CancelReassignment', topicId, partition: 0, partitionEpoch: 0 })).toBe('INVALID_UPDATE_VERSION');
    expect(log.rejects({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 1, replicas: [4, 1] })).toBe('REASSIGNMENT_IN_PROGRESS');
  });

  it('refuses to cancel when no original replica is in sync', () => {
    const { log, topicId } = setup();
    log.ok({ type: 'BeginReassignment', topicId, partition: 0, partitionEpoch: 0, targetReplicas: [4] });
    log.ok(byLeader(log, topicId, [1, 4]));
    log.ok({ type: 'PartitionChange', topicId, partition: 0, partitionEpoch: 2, leader: 4, isr: [4] });
    expect(log.rejects({ type: 'CancelReassignment', topicId, partition: 0, partitionEpoch: 3 })).toBe('INVALID_REQUEST');
    log.ok({ type: 'CompleteReassignment', topicId, partition: 0, partitionEpoch: 3 });
    expect(log.partition('t', 0)).toMatchObject({ replicas: [4], isr: [4], leader: 4 });
  });
});
