import { type ClusterDetails, type PartitionDetails, type TopicDetails } from '@streambus/client';
import { describe, expect, it } from 'vitest';
import { assessHealth } from './cluster.js';

const brokers = (ids: number[]): ClusterDetails['brokers'] => ids.map((brokerId) => ({ brokerId, host: '127.0.0.1', port: 9000 + brokerId, rack: undefined }));
const partition = (n: number, over: Partial<PartitionDetails> = {}): PartitionDetails => ({ partition: n, leaderId: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3], offline: false, underReplicated: false, ...over });
const topic = (name: string, partitions: PartitionDetails[]): TopicDetails => ({ name, topicId: name, internal: false, partitions });

describe('assessHealth', () => {
  const all: ClusterDetails = { clusterId: 'c', metadataLeaderId: 1, brokers: brokers([1, 2, 3]) };

  it('is healthy with a metadata leader, every broker live and every partition fully replicated', () => {
    const r = assessHealth(all, all, [topic('a', [partition(0), partition(1)])]);
    expect(r).toMatchObject({ healthy: true, problems: [], brokers: { total: 3, live: 3, fenced: [] }, partitions: { total: 2 } });
  });

  it('reports each kind of problem', () => {
    const live = { ...all, brokers: brokers([1, 2]) };
    const r = assessHealth({ ...all, metadataLeaderId: undefined }, live, [topic('a', [partition(0, { underReplicated: true, isr: [1] }), partition(1, { offline: true, leaderId: undefined })])]);
    expect(r.healthy).toBe(false);
    expect(r.brokers.fenced).toEqual([3]);
    expect(r.partitions.offline).toEqual(['a-1']);
    expect(r.partitions.underReplicated).toEqual(['a-0']);
    expect(r.problems).toEqual(['no metadata (Raft) leader', 'fenced brokers: 3', '1 offline partitions: a-1', '1 under-replicated partitions: a-0']);
  });

  it('is healthy with no topics at all', () => {
    expect(assessHealth(all, all, []).healthy).toBe(true);
  });
});
