// End-to-end: brokers beyond the bootstrap voters join the metadata log as Raft learners,
// become ready, host partitions and answer metadata like any broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure, startCluster, type TestCluster } from '../helpers/cluster.js';
import { codeOf, expectOk, partitionLeader, produceValues, readAll, waitLeaderServes } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

let cluster: TestCluster | undefined;
const c = (): TestCluster => {
  if (cluster === undefined) throw new Error('cluster not started');
  return cluster;
};

beforeAll(async () => {
  cluster = await startCluster({ brokers: 4, voters: 3, name: 'e2e-learners' });
});
afterAll(async () => {
  await cluster?.stop();
});
printLogsOnFailure(() => cluster);

describe('learners', () => {
  it('a non-voter broker registers, follows the metadata log and serves its partitions', async () => {
    expect(c().broker(4).voter).toBe(false);
    const leader = await c().leaderOfMetadata();
    expect([1, 2, 3]).toContain(leader);
    const view = await c().client(4).describeCluster({ includeFenced: true });
    expect(view.metadataLeaderId).toBe(leader);
    expect(view.brokers.map((b) => b.brokerId)).toEqual([1, 2, 3, 4]);

    // A topic created through the learner, with its only replica on the learner.
    const res = await c().client(4).createTopics({ topics: [{ name: 'on-learner', assignments: [{ partition: 0, brokerIds: [4] }], configs: {} }], timeoutMs: 10_000, validateOnly: false });
    expect(codeOf(res.topics[0]?.error)).toBe('NONE');
    expect(await partitionLeader(c().client(1), 'on-learner', 0)).toBe(4);
    await waitLeaderServes(c().client(4), 'on-learner', 0);
    expectOk(await produceValues(c().client(4), 'on-learner', 0, ['l1', 'l2'], -1));
    expect((await readAll(c().client(4), 'on-learner', 0)).map((r) => r.value)).toEqual(['l1', 'l2']);

    // Every broker, voter or learner, reports the same topic.
    await waitFor(
      async () => {
        const views = await Promise.all([1, 2, 3, 4].map((id) => c().client(id).metadata({ topics: ['on-learner'] })));
        return views.every((v) => v.topics[0]?.partitions[0]?.leaderId === 4);
      },
      { timeoutMs: 10_000, what: 'all brokers to see on-learner led by broker 4' },
    );
  });
});
