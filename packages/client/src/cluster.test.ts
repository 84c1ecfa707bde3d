import { BrokerStatus, ErrorCode, type MetadataResponse } from '@streambus/protocol';
import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

function view(metadataOffset: number, leaderId: number, leaderEpoch: number, partitions = 2): MetadataResponse {
  return {
    clusterId: 'c',
    metadataLeaderId: 0,
    metadataOffset,
    brokers: [0, 1].map((brokerId) => ({ brokerId, host: '127.0.0.1', port: 9000 + brokerId, status: BrokerStatus.ACTIVE, incarnationId: 'x', brokerEpoch: 1, rack: undefined })),
    topics: [
      {
        name: 't',
        topicId: 'id-1',
        error: undefined,
        internal: false,
        partitions: Array.from({ length: partitions }, (_, partition) => ({
          partition,
          errorCode: ErrorCode.NONE,
          leaderId,
          leaderEpoch,
          partitionEpoch: 0,
          replicas: [0, 1],
          isr: [0, 1],
          offlineReplicas: [],
          addingReplicas: [],
          removingReplicas: [],
          offline: false,
          underReplicated: false,
      underMinIsr: false,
        })),
      },
    ],
  };
}

describe('cluster metadata', () => {
  it('reuses one channel per broker address, bootstrap and discovered alike', () => {
    const cluster = new Cluster({ brokers: ['127.0.0.1:9000'] });
    cluster.apply(view(1, 0, 0));
    expect(cluster.brokerClient(0)).toBe(cluster.clientFor('127.0.0.1:9000'));
    expect(cluster.brokerClient(1)).toBe(cluster.brokerClient(1));
    expect(cluster.brokerClient(1)).not.toBe(cluster.brokerClient(0));
    cluster.close();
    expect(cluster.brokerClient(0)).toBeUndefined();
  });

  it('keeps the newest view and never moves a partition back to an older leader epoch', () => {
    const cluster = new Cluster({ brokers: ['127.0.0.1:9000'] });
    cluster.apply(view(5, 0, 3));
    cluster.apply(view(4, 1, 2));
    expect(cluster.partitionInfo('t', 0)).toMatchObject({ leaderId: 0, leaderEpoch: 3 });
    cluster.applyLeaderHint('t', 0, { leaderId: 1, leaderEpoch: 4 });
    expect(cluster.partitionInfo('t', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 4 });
    // A newer view that still shows epoch 3 (the broker lags) keeps the hinted epoch 4.
    cluster.apply(view(6, 0, 3));
    expect(cluster.partitionInfo('t', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 4 });
    // An older or unknown-broker hint is ignored.
    cluster.applyLeaderHint('t', 0, { leaderId: 0, leaderEpoch: 1 });
    cluster.applyLeaderHint('t', 0, { leaderId: 7, leaderEpoch: 9 });
    expect(cluster.partitionInfo('t', 0)).toMatchObject({ leaderId: 1, leaderEpoch: 4 });
    cluster.apply(view(7, 0, 5, 3));
    expect(cluster.topic('t')!.partitions).toHaveLength(3);
    cluster.close();
  });

  it('forgets a topic the newest view reports unknown', () => {
    const cluster = new Cluster({ brokers: ['127.0.0.1:9000'] });
    cluster.apply(view(1, 0, 0));
    cluster.apply({ ...view(2, 0, 0), topics: [{ name: 't', topicId: '', internal: false, partitions: [], error: { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: 'gone', retriable: true } }] });
    expect(cluster.topic('t')).toBeUndefined();
    cluster.close();
  });
});
