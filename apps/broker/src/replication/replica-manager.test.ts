import { NO_LEADER, type PartitionChange, type PartitionState } from '@streambus/metadata';
import { ErrorCode, type ReplicaFetchRequest } from '@streambus/protocol';
import { encodeBatch } from '@streambus/record';
import { MemFileSystem, StorageEngine } from '@streambus/storage';
import { Simulator } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { type AlterPartitionResult } from './leader.js';
import { type PartitionAssignment, ReplicaManager } from './replica-manager.js';
import { type Scheduler } from './types.js';

// A fixed clock keeps the bytes the same on every run.
const batch = (key: string): Promise<Buffer> => encodeBatch([{ key: Buffer.from(key), value: Buffer.from(`v-${key}`) }], { now: () => 0 });
const settle = async (rounds = 3): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};
const tp = { topic: 't', partition: 0 };

function state(over: Partial<PartitionState> = {}): PartitionState {
  return { partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 1, partitionEpoch: 1, addingReplicas: [], removingReplicas: [], offline: false, ...over };
}

function assignment(s: PartitionState, minInsyncReplicas = 2): PartitionAssignment {
  return { topic: 't', topicId: 'tid', partition: 0, state: s, minInsyncReplicas };
}

/** Two brokers whose fetches are direct calls, with the simulator's clock and timers. */
async function pair(): Promise<{ sim: Simulator; rms: Map<number, ReplicaManager>; proposals: PartitionChange[]; run: (ms: number) => Promise<void> }> {
  const sim = new Simulator({ seed: 3 });
  const scheduler: Scheduler = { now: () => sim.now, setTimeout: (fn, ms) => sim.schedule(ms, fn), clearTimeout: (t) => void sim.cancel(t as number) };
  const rms = new Map<number, ReplicaManager>();
  const proposals: PartitionChange[] = [];
  for (const id of [1, 2]) {
    const storage = await StorageEngine.open({ dir: `/b${id}`, fs: new MemFileSystem(), clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
    rms.set(
      id,
      new ReplicaManager({
        brokerId: id,
        brokerEpoch: () => 100 + id,
        storage,
        scheduler,
        config: { replicaFetchWaitMaxMs: 200, replicaLagTimeMaxMs: 1000, isrCheckIntervalMs: 100, replicaFetchBackoffMs: 50 },
        send: (leaderId: number, req: ReplicaFetchRequest) => {
          const leader = rms.get(leaderId);
          return leader === undefined ? Promise.reject(new Error('no such broker')) : leader.handleReplicaFetch(req);
        },
        alterPartition: (change): Promise<AlterPartitionResult> => {
          proposals.push(change);
          const isr = change.isr ?? [];
          return Promise.resolve({ accepted: true, state: state({ isr, partitionEpoch: change.partitionEpoch + 1, leaderEpoch: change.byLeader?.leaderEpoch ?? 1 }) });
        },
      }),
    );
  }
  const run = async (ms: number): Promise<void> => {
    let done = false;
    sim.schedule(ms, () => (done = true));
    await settle();
    while (!done && sim.step()) await settle();
  };
  return { sim, rms, proposals, run };
}

describe('ReplicaManager', () => {
  it('makes one broker leader and the other its follower; acks=all completes through replication', async () => {
    const { rms, run } = await pair();
    const [b1, b2] = [rms.get(1), rms.get(2)];
    await b1?.applyPartition(assignment(state()));
    await b2?.applyPartition(assignment(state()));
    expect(b1?.status(tp)?.role).toBe('leader');
    expect(b2?.status(tp)?.role).toBe('follower');
    expect(b1?.logOf(tp)?.latestEpoch).toBe(1);
    let acked: number | undefined;
    void b1?.produce(tp, await batch('a'), -1, 5000).then((r) => (acked = r.baseOffset));
    await run(500);
    expect(acked).toBe(0);
    expect(b2?.status(tp)).toMatchObject({ role: 'follower', logEndOffset: 1 });
    expect(b1?.metrics()).toMatchObject({ leaderPartitions: 1, underReplicatedPartitions: 0, underMinIsrPartitions: 0, offlinePartitions: 0 });
    expect(b2?.metrics()).toMatchObject({ followerPartitions: 1, fetcherCount: 1 });
  });

  it('shrinks a silent follower out of the ISR and expands it back once it catches up, through AlterPartition', async () => {
    const { rms, proposals, run } = await pair();
    const [b1, b2] = [rms.get(1), rms.get(2)];
    await b1?.applyPartition(assignment(state()));
    await b1?.produce(tp, await batch('a'), 1, 1000);
    await run(1500);
    expect(proposals[0]).toMatchObject({ partitionEpoch: 1, isr: [1], byLeader: { brokerId: 1, brokerEpoch: 101, leaderEpoch: 1 } });
    expect(b1?.metrics()).toMatchObject({ isrShrinksTotal: 1, underReplicatedPartitions: 1, underMinIsrPartitions: 1 });
    await expect(b1?.produce(tp, await batch('b'), -1, 1000)).rejects.toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS });
    await b2?.applyPartition(assignment(state({ isr: [1], partitionEpoch: 2 })));
    await run(500);
    expect(proposals[1]).toMatchObject({ partitionEpoch: 2, isr: [1, 2] });
    expect(b1?.metrics()).toMatchObject({ isrExpandsTotal: 1, underReplicatedPartitions: 0, underMinIsrPartitions: 0 });
    expect(b1?.status(tp)).toMatchObject({ isr: [1, 2], partitionEpoch: 3, highWatermark: 1 });
  });

  it('stops acknowledging the moment metadata names a newer leader epoch', async () => {
    const { rms } = await pair();
    const b1 = rms.get(1);
    await b1?.applyPartition(assignment(state({ isr: [1, 2] })));
    let failure: unknown;
    const pending = b1?.produce(tp, await batch('a'), -1, 60_000).catch((e: unknown) => (failure = e));
    await settle();
    void b1?.applyPartition(assignment(state({ leader: 2, leaderEpoch: 2, partitionEpoch: 2 })));
    await pending;
    expect(failure).toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
    await settle();
    expect(b1?.status(tp)?.role).toBe('follower');
    await expect(b1?.produce(tp, await batch('b'), 1, 1000)).rejects.toMatchObject({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  });

  it('ignores stale metadata and counts under-replicated, under-min-ISR and offline partitions', async () => {
    const { rms } = await pair();
    const b1 = rms.get(1);
    await b1?.applyPartition(assignment(state({ isr: [1], leaderEpoch: 3, partitionEpoch: 5 })));
    await b1?.applyPartition(assignment(state({ leader: 2, leaderEpoch: 2, partitionEpoch: 4 })));
    expect(b1?.status(tp)?.role).toBe('leader');
    expect(b1?.metrics()).toMatchObject({ underReplicatedPartitions: 1, underMinIsrPartitions: 1 });
    await expect(b1?.produce(tp, await batch('a'), -1, 1000)).rejects.toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS });
    // min.insync.replicas lowered by a config change, epochs unchanged: acks=all is accepted now.
    await b1?.applyPartition(assignment(state({ isr: [1], leaderEpoch: 3, partitionEpoch: 5 }), 1));
    await expect(b1?.produce(tp, await batch('a'), -1, 1000)).resolves.toMatchObject({ baseOffset: 0, highWatermark: 1 });
    await b1?.applyPartition(assignment(state({ isr: [1], leader: NO_LEADER, leaderEpoch: 4, partitionEpoch: 6, offline: true })));
    expect(b1?.status(tp)?.role).toBe('offline');
    expect(b1?.metrics()).toMatchObject({ offlinePartitions: 1, leaderPartitions: 0 });
  });

  it('holds a ReplicaFetch with nothing new until maxWaitMs, and answers at once when data arrives', async () => {
    const { sim, rms } = await pair();
    const b1 = rms.get(1);
    await b1?.applyPartition(assignment(state({ isr: [1] }), 1));
    const req: ReplicaFetchRequest = {
      replicaId: 2,
      brokerEpoch: 102,
      maxWaitMs: 200,
      minBytes: 1,
      maxBytes: 1 << 20,
      clusterId: '',
      partitions: [{ topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 1, logStartOffset: 0, partitionMaxBytes: 1 << 20 }],
    };
    let answered = false;
    void b1?.handleReplicaFetch(req).then(() => (answered = true));
    await settle();
    sim.runFor(150);
    await settle();
    expect(answered).toBe(false);
    sim.runFor(50);
    await settle();
    expect(answered).toBe(true);
    let records = -1;
    void b1?.handleReplicaFetch(req).then((r) => (records = r.partitions[0]?.records.length ?? -1));
    await settle();
    await b1?.produce(tp, await batch('a'), 1, 1000);
    await settle();
    expect(records).toBeGreaterThan(0);
  });

  it('answers FENCED_LEADER_EPOCH to a follower with an old epoch and NOT_LEADER_OR_FOLLOWER where it does not lead', async () => {
    const { rms } = await pair();
    const [b1, b2] = [rms.get(1), rms.get(2)];
    await b1?.applyPartition(assignment(state({ leaderEpoch: 4 })));
    await b2?.applyPartition(assignment(state({ leaderEpoch: 4 })));
    const part = { topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 3, logStartOffset: 0, partitionMaxBytes: 1000 };
    const base = { replicaId: 2, brokerEpoch: 102, maxWaitMs: 0, minBytes: 1, maxBytes: 1000, clusterId: '' };
    expect((await b1?.handleReplicaFetch({ ...base, partitions: [part] }))?.partitions[0]?.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect((await b2?.handleReplicaFetch({ ...base, replicaId: 1, partitions: [{ ...part, currentLeaderEpoch: 4 }] }))?.partitions[0]?.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await b1?.handleReplicaFetch({ ...base, partitions: [{ ...part, topic: 'nope' }] }))?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('refuses fetches from a replaced incarnation of a follower with STALE_BROKER_EPOCH', async () => {
    const sim = new Simulator();
    const scheduler: Scheduler = { now: () => sim.now, setTimeout: (fn, ms) => sim.schedule(ms, fn), clearTimeout: (t) => void sim.cancel(t as number) };
    const storage = await StorageEngine.open({ dir: '/s', fs: new MemFileSystem(), clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
    const rm = new ReplicaManager({
      brokerId: 1,
      brokerEpoch: () => 1,
      storage,
      scheduler,
      brokerEpochOf: (id) => (id === 2 ? 50 : undefined),
      send: () => Promise.reject(new Error('unused')),
      alterPartition: () => Promise.reject(new Error('unused')),
    });
    await rm.applyPartition(assignment(state()));
    const part = { topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 1, logStartOffset: 0, partitionMaxBytes: 1000 };
    const base = { replicaId: 2, maxWaitMs: 0, minBytes: 1, maxBytes: 1000, clusterId: '', partitions: [part] };
    expect((await rm.handleReplicaFetch({ ...base, brokerEpoch: 49 })).partitions[0]?.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect((await rm.handleReplicaFetch({ ...base, brokerEpoch: 50 })).partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(rm.leaderOf(tp)?.follower(2)?.logEndOffset).toBe(0);
    await rm.stop();
  });
});
