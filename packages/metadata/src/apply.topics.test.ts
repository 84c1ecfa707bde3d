import { describe, expect, it } from 'vitest';
import { cluster } from '../test/helpers.js';
import { metadataLimits, topicIdFor, type MetadataErrorCode } from './index.js';

describe('CreateTopic', () => {
  it('creates partitions led by their first replica, with ISR = replicas and epochs at 0', () => {
    const log = cluster(3);
    const result = log.ok({ type: 'CreateTopic', name: 'orders', assignment: [[1, 2], [2, 3]], configs: { 'retention.ms': '1000' } });
    expect(result).toEqual({ type: 'CreateTopic', topicId: topicIdFor('test-cluster', log.index), name: 'orders' });
    const topic = log.topic('orders');
    expect(topic.configs).toEqual({ 'retention.ms': '1000' });
    expect(topic.partitions).toEqual([
      { partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [], offline: false },
      { partition: 1, replicas: [2, 3], isr: [2, 3], leader: 2, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [], offline: false },
    ]);
    expect(log.last?.delta.topicsCreated.map((t) => t.name)).toEqual(['orders']);
    expect(log.last?.delta.partitions.map((p) => [p.partition, p.before])).toEqual([
      [0, undefined],
      [1, undefined],
    ]);
  });

  it('derives the topic id from the cluster id and log index, in UUID shape', () => {
    expect(topicIdFor('c', 10)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(topicIdFor('c', 10)).toBe(topicIdFor('c', 10));
    expect(topicIdFor('c', 10)).not.toBe(topicIdFor('c', 11));
    expect(topicIdFor('c', 10)).not.toBe(topicIdFor('d', 10));
  });

  it('leaves fenced replicas out of the ISR and leads with the first unfenced one', () => {
    const log = cluster(3);
    log.fence(1);
    log.createTopic('t', [[1, 2]]);
    expect(log.partition('t', 0)).toMatchObject({ replicas: [1, 2], isr: [2], leader: 2 });
  });

  it.each<[string, string]>([
    ['', 'empty'],
    ['.', 'dot'],
    ['..', 'dot-dot'],
    ['a b', 'space'],
    ['ä', 'non-ASCII'],
    ['a/b', 'slash'],
    ['x'.repeat(250), 'too long'],
  ])('rejects the topic name %j (%s) as INVALID_TOPIC_EXCEPTION', (name) => {
    const log = cluster(1);
    expect(log.rejects({ type: 'CreateTopic', name, assignment: [[1]], configs: {} })).toBe('INVALID_TOPIC_EXCEPTION');
  });

  it('accepts every legal character and the longest legal name', () => {
    const log = cluster(1);
    log.createTopic('aZ09._-', [[1]]);
    log.createTopic('y'.repeat(249), [[1]]);
    expect(log.state.topics.size).toBe(2);
  });

  it('rejects an existing name, and a name that collides once "." and "_" are folded', () => {
    const log = cluster(1);
    log.createTopic('a.b', [[1]]);
    expect(log.rejects({ type: 'CreateTopic', name: 'a.b', assignment: [[1]], configs: {} })).toBe('TOPIC_ALREADY_EXISTS');
    expect(log.rejects({ type: 'CreateTopic', name: 'a_b', assignment: [[1]], configs: {} })).toBe('INVALID_TOPIC_EXCEPTION');
  });

  it.each<[string, number[][], MetadataErrorCode]>([
    ['no partitions', [], 'INVALID_PARTITIONS'],
    ['replication factor 0', [[]], 'INVALID_REPLICATION_FACTOR'],
    ['more replicas than unfenced brokers', [[1, 2, 3, 4]], 'INVALID_REPLICATION_FACTOR'],
    ['uneven replication factors', [[1, 2], [1]], 'INVALID_REPLICA_ASSIGNMENT'],
    ['a broker twice', [[1, 1]], 'INVALID_REPLICA_ASSIGNMENT'],
    ['an unregistered broker', [[1, 9]], 'INVALID_REPLICA_ASSIGNMENT'],
  ])('rejects an assignment with %s', (_name, assignment, code) => {
    const log = cluster(3);
    expect(log.rejects({ type: 'CreateTopic', name: 't', assignment, configs: {} })).toBe(code);
  });

  it('counts only unfenced brokers for the replication factor and rejects all-fenced replicas', () => {
    const log = cluster(3);
    log.fence(3);
    expect(log.rejects({ type: 'CreateTopic', name: 't', assignment: [[1, 2, 3]], configs: {} })).toBe('INVALID_REPLICATION_FACTOR');
    log.fence(2);
    expect(log.rejects({ type: 'CreateTopic', name: 't', assignment: [[2]], configs: {} })).toBe('INVALID_REPLICA_ASSIGNMENT');
  });

  it('rejects bad configs and min.insync.replicas above the replication factor', () => {
    const log = cluster(3);
    expect(log.rejects({ type: 'CreateTopic', name: 't', assignment: [[1, 2]], configs: { 'retention.mss': '1' } })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'CreateTopic', name: 't', assignment: [[1, 2]], configs: { 'min.insync.replicas': '3' } })).toBe('INVALID_CONFIG');
    log.createTopic('t', [[1, 2]], { 'min.insync.replicas': '2' });
  });
});

describe('DeleteTopic', () => {
  it('removes the topic and its name, and reports it deleted', () => {
    const log = cluster(2);
    const topic = log.createTopic('t', [[1, 2]]);
    expect(log.ok({ type: 'DeleteTopic', topicId: topic.topicId })).toEqual({ type: 'DeleteTopic', topicId: topic.topicId, name: 't' });
    expect(log.state.topics.size).toBe(0);
    expect(log.state.topicIdsByName.size).toBe(0);
    expect(log.last?.delta.topicsDeleted).toEqual([topic]);
    expect(log.last?.delta.partitions).toEqual([]);
  });

  it('rejects an unknown topic id, so a delete aimed at an older topic of the same name misses', () => {
    const log = cluster(1);
    const first = log.createTopic('t', [[1]]);
    log.ok({ type: 'DeleteTopic', topicId: first.topicId });
    const second = log.createTopic('t', [[1]]);
    expect(second.topicId).not.toBe(first.topicId);
    expect(log.rejects({ type: 'DeleteTopic', topicId: first.topicId })).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('CreatePartitions', () => {
  it('appends partitions with the topic replication factor', () => {
    const log = cluster(3);
    const topic = log.createTopic('t', [[1, 2]]);
    expect(log.ok({ type: 'CreatePartitions', topicId: topic.topicId, assignment: [[2, 3], [3, 1]] })).toEqual({
      type: 'CreatePartitions',
      topicId: topic.topicId,
      partitionCount: 3,
    });
    expect(log.partition('t', 2)).toMatchObject({ replicas: [3, 1], leader: 3 });
    expect(log.last?.delta.partitions.map((p) => p.partition)).toEqual([1, 2]);
  });

  it.each<[string, number[][], MetadataErrorCode]>([
    ['nothing new', [], 'INVALID_PARTITIONS'],
    ['another replication factor', [[1]], 'INVALID_REPLICA_ASSIGNMENT'],
    ['an unregistered broker', [[1, 7]], 'INVALID_REPLICA_ASSIGNMENT'],
  ])('rejects %s', (_name, assignment, code) => {
    const log = cluster(3);
    const topic = log.createTopic('t', [[1, 2]]);
    expect(log.rejects({ type: 'CreatePartitions', topicId: topic.topicId, assignment })).toBe(code);
  });

  it('rejects an unknown topic and a count beyond partitionsPerTopicMax', () => {
    const log = cluster(1);
    expect(log.rejects({ type: 'CreatePartitions', topicId: 'nope', assignment: [[1]] })).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const topic = log.createTopic('t', [[1]]);
    const many = Array.from({ length: metadataLimits.partitionsPerTopicMax }, () => [1]);
    expect(log.rejects({ type: 'CreatePartitions', topicId: topic.topicId, assignment: many })).toBe('INVALID_PARTITIONS');
  });
});

describe('AlterConfigs', () => {
  it('sets normalized values, deletes back to the default, and reports the topic', () => {
    const log = cluster(3);
    const topic = log.createTopic('t', [[1, 2, 3]], { 'retention.ms': '5' });
    log.ok({ type: 'AlterConfigs', topicId: topic.topicId, set: { 'cleanup.policy': 'Delete, Compact', 'min.insync.replicas': '2' }, delete: ['retention.ms'] });
    expect(log.topic('t').configs).toEqual({ 'cleanup.policy': 'compact,delete', 'min.insync.replicas': '2' });
    expect(Object.keys(log.topic('t').configs)).toEqual(['cleanup.policy', 'min.insync.replicas']);
    expect(log.last?.delta.configsChanged).toEqual([topic.topicId]);
  });

  it('reports nothing when the values do not change', () => {
    const log = cluster(1);
    const topic = log.createTopic('t', [[1]], { 'retention.ms': '5' });
    log.ok({ type: 'AlterConfigs', topicId: topic.topicId, set: { 'retention.ms': '5' }, delete: [] });
    expect(log.last?.delta.configsChanged).toEqual([]);
  });

  it('rejects unknown keys, bad values, set-and-delete of one key, too-large min.insync.replicas, unknown topics', () => {
    const log = cluster(2);
    const id = log.createTopic('t', [[1, 2]]).topicId;
    expect(log.rejects({ type: 'AlterConfigs', topicId: id, set: { foo: '1' }, delete: [] })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'AlterConfigs', topicId: id, set: {}, delete: ['foo'] })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'AlterConfigs', topicId: id, set: { 'retention.ms': '-2' }, delete: [] })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'AlterConfigs', topicId: id, set: { 'retention.ms': '1' }, delete: ['retention.ms'] })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'AlterConfigs', topicId: id, set: { 'min.insync.replicas': '3' }, delete: [] })).toBe('INVALID_CONFIG');
    expect(log.rejects({ type: 'AlterConfigs', topicId: 'x', set: {}, delete: [] })).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});
