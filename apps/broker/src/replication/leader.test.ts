import { type PartitionChange, type PartitionState } from '@streambus/metadata';
import { ErrorCode, type ReplicaFetchPartition } from '@streambus/protocol';
import { encodeBatch } from '@streambus/record';
import { type FileSystem, MemFileSystem, type PartitionLog, StorageEngine } from '@streambus/storage';
import { Simulator } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { type AlterPartitionResult, LeaderPartition } from './leader.js';
import { slowSyncs } from './sim-harness.js';
import { isReplicationError, resolveReplicationConfig, type Scheduler } from './types.js';

const config = resolveReplicationConfig({ replicaLagTimeMaxMs: 1000, isrCheckIntervalMs: 100, alterPartitionBackoffMs: 50 });

function simScheduler(sim: Simulator): Scheduler {
  return { now: () => sim.now, setTimeout: (fn, ms) => sim.schedule(ms, fn), clearTimeout: (t) => void sim.cancel(t as number) };
}

function state(over: Partial<PartitionState> = {}): PartitionState {
  return { partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 1, addingReplicas: [], removingReplicas: [], offline: false, ...over };
}

// A fixed clock keeps the bytes the same on every run.
const batch = (key: string): Promise<Buffer> => encodeBatch([{ key: Buffer.from(key), value: Buffer.from(`v-${key}`) }], { now: () => 0 });
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Setup {
  sim: Simulator;
  log: PartitionLog;
  leader: LeaderPartition;
  proposals: PartitionChange[];
  answers: ((r: AlterPartitionResult) => void)[];
  fetch(replicaId: number, fetchOffset: number, lastFetchedEpoch?: number, currentLeaderEpoch?: number): ReturnType<LeaderPartition['handleReplicaFetch']>;
}

async function setup(over: Partial<PartitionState> = {}, minInsyncReplicas = 2, prepare?: (log: PartitionLog) => Promise<void>, fs: FileSystem = new MemFileSystem()): Promise<Setup> {
  const sim = new Simulator({ seed: 1 });
  const engine = await StorageEngine.open({ dir: '/d', fs, clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
  const log = await engine.createPartition({ topic: 't', partition: 0 });
  await prepare?.(log);
  const s = state(over);
  await log.assignLeaderEpoch(s.leaderEpoch);
  const proposals: PartitionChange[] = [];
  const answers: ((r: AlterPartitionResult) => void)[] = [];
  const leader = new LeaderPartition({
    tp: { topic: 't', partition: 0 },
    topicId: 'tid',
    brokerId: 1,
    brokerEpoch: () => 7,
    log,
    state: s,
    minInsyncReplicas,
    initialHighWatermark: 0,
    config,
    scheduler: simScheduler(sim),
    alterPartition: (change) => {
      proposals.push(change);
      return new Promise((resolve) => answers.push(resolve));
    },
  });
  const fetch: Setup['fetch'] = (replicaId, fetchOffset, lastFetchedEpoch, currentLeaderEpoch = s.leaderEpoch) => {
    const req: ReplicaFetchPartition = { topic: 't', partition: 0, fetchOffset, currentLeaderEpoch, logStartOffset: 0, partitionMaxBytes: 1 << 20 };
    if (lastFetchedEpoch !== undefined) req.lastFetchedEpoch = lastFetchedEpoch;
    return leader.handleReplicaFetch(req, replicaId, sim.now, 1 << 20);
  };
  return { sim, log, leader, proposals, answers, fetch };
}

async function accept(s: Setup, isr: number[]): Promise<void> {
  const answer = s.answers.shift();
  expect(answer).toBeDefined();
  answer?.({ accepted: true, state: state({ isr, partitionEpoch: s.leader.partitionEpoch + 1, replicas: s.leader.replicas }) });
  await settle();
}

describe('LeaderPartition high watermark', () => {
  it('is the minimum log end offset over the ISR, and waits for followers it has not heard from', async () => {
    const s = await setup();
    for (const k of ['a', 'b', 'c']) await s.leader.append(await batch(k), 1, 1000);
    expect(s.leader.logEndOffset).toBe(3);
    expect(s.leader.highWatermark).toBe(0);
    await s.fetch(2, 3, 1);
    expect(s.leader.highWatermark).toBe(0);
    await s.fetch(3, 2, 1);
    expect(s.leader.highWatermark).toBe(2);
    await s.fetch(3, 3, 1);
    expect(s.leader.highWatermark).toBe(3);
  });

  it('is held back while the ISR is smaller than min.insync.replicas', async () => {
    const s = await setup({ isr: [1] }, 2);
    await s.leader.append(await batch('a'), 1, 1000);
    expect(s.leader.highWatermark).toBe(0);
  });

  it('returns the high watermark and the leader log bounds in fetch answers', async () => {
    const s = await setup();
    await s.leader.append(await batch('a'), 1, 1000);
    await s.fetch(2, 1, 1);
    const r = await s.fetch(3, 1, 1);
    expect(r).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 1, logStartOffset: 0, logEndOffset: 1 });
  });
});

/** A file system whose fdatasyncs wait, once `hold()` is called, until `release()`. */
function heldSyncs(): { fs: FileSystem; hold(): void; release(): void; held(): number; waiting(): Promise<void> } {
  let holding = false;
  const held: (() => void)[] = [];
  return {
    fs: slowSyncs(new MemFileSystem(), () => (holding ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve())),
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const r of held.splice(0)) r();
    },
    held: () => held.length,
    waiting: async () => {
      for (let i = 0; i < 5 && held.length === 0; i++) await settle();
    },
  };
}

describe('LeaderPartition appends in flight (ADR 0011)', () => {
  it('serves an append to followers while its own write is in flight, and counts it only once durable here', async () => {
    const syncs = heldSyncs();
    const s = await setup({}, 2, undefined, syncs.fs);
    syncs.hold();
    let acked = false;
    const produced = s.leader.append(await batch('a'), -1, 5000).then(() => (acked = true));
    await syncs.waiting();
    expect(syncs.held()).toBe(1); // the WAL's fdatasync is waiting
    expect(s.log.logEndOffset).toBe(0);
    expect(s.leader.appendsInFlight).toBe(1);
    const first = await s.fetch(2, 0, 1);
    expect(first.errorCode).toBe(ErrorCode.NONE);
    expect(first.logEndOffset).toBe(1);
    expect(Number(first.records.readBigInt64BE(0))).toBe(0);
    expect(first.records.readInt32BE(12)).toBe(1); // partitionLeaderEpoch
    // Both followers hold it, yet the high watermark waits for the leader's own disk.
    await s.fetch(2, 1, 1);
    await s.fetch(3, 1, 1);
    expect(s.leader.highWatermark).toBe(0);
    expect(acked).toBe(false);
    expect((await s.fetch(3, 2, 1)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    syncs.release();
    await produced;
    expect(s.leader.appendsInFlight).toBe(0);
    expect(s.leader.highWatermark).toBe(1);
    expect(acked).toBe(true);
  });

  it('answers a follower ahead of the durable end in the current epoch without a divergence', async () => {
    const syncs = heldSyncs();
    const s = await setup({}, 2, undefined, syncs.fs);
    await s.leader.append(await batch('a'), 1, 1000);
    syncs.hold();
    void s.leader.append(await batch('b'), 1, 1000);
    await syncs.waiting();
    const r = await s.fetch(2, 2, 1);
    expect(r.divergingEpoch).toBeUndefined();
    expect(r.errorCode).toBe(ErrorCode.NONE);
    expect(r.records.length).toBe(0);
    syncs.release();
  });
});

describe('LeaderPartition acks', () => {
  it('acks=all answers only once the high watermark passes the batch', async () => {
    const s = await setup();
    let done = false;
    const p = s.leader.append(await batch('a'), -1, 5000).then((r) => {
      done = true;
      return r;
    });
    await settle();
    await s.fetch(2, 1, 1);
    await settle();
    expect(done).toBe(false);
    await s.fetch(3, 1, 1);
    const r = await p;
    expect(r.baseOffset).toBe(0);
    expect(r.highWatermark).toBe(1);
  });

  it('acks=all is refused with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, and nothing is written', async () => {
    const s = await setup({ isr: [1, 2] }, 3);
    await expect(s.leader.append(await batch('a'), -1, 1000)).rejects.toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, retriable: true });
    expect(s.log.logEndOffset).toBe(0);
    // acks=1 is still accepted by the leader alone.
    await expect(s.leader.append(await batch('b'), 1, 1000)).resolves.toMatchObject({ baseOffset: 0 });
  });

  it('acks=all times out with REQUEST_TIMED_OUT when followers do not fetch', async () => {
    const s = await setup();
    const p = s.leader.append(await batch('a'), -1, 300);
    const caught = p.catch((e: unknown) => e);
    await settle();
    s.sim.runFor(300);
    expect(await caught).toMatchObject({ errorCode: ErrorCode.REQUEST_TIMED_OUT });
  });

  it('fails pending acks=all writes with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks below the minimum', async () => {
    const s = await setup({}, 3);
    const caught = s.leader.append(await batch('a'), -1, 60_000).catch((e: unknown) => e);
    await settle();
    for (let t = 0; t < 12; t++) {
      s.sim.runFor(100);
      await s.fetch(2, 1, 1);
    }
    expect(s.proposals.at(-1)?.isr).toEqual([1, 2]);
    await accept(s, [1, 2]);
    expect(await caught).toMatchObject({ errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND });
  });

  it('resign() fails every waiter with NOT_LEADER_OR_FOLLOWER at once and refuses new writes', async () => {
    const s = await setup();
    const caught = s.leader.append(await batch('a'), -1, 60_000).catch((e: unknown) => e);
    await settle();
    s.leader.resign();
    const err = await caught;
    expect(isReplicationError(err, ErrorCode.NOT_LEADER_OR_FOLLOWER)).toBe(true);
    await expect(s.leader.append(await batch('b'), 1, 1000)).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    expect((await s.fetch(2, 0)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it('rejects bad acks with INVALID_REQUIRED_ACKS', async () => {
    const s = await setup();
    await expect(s.leader.append(await batch('a'), 2 as -1, 1000)).rejects.toMatchObject({ errorCode: ErrorCode.INVALID_REQUIRED_ACKS });
  });
});

describe('LeaderPartition ISR changes', () => {
  it('shrinks a follower that has not caught up within replica.lag.time.max.ms, with the partition epoch', async () => {
    const s = await setup();
    await s.leader.append(await batch('a'), 1, 1000);
    for (let t = 0; t < 12; t++) {
      s.sim.runFor(100);
      await s.fetch(2, 1, 1);
    }
    expect(s.proposals).toHaveLength(1);
    expect(s.proposals[0]).toMatchObject({ type: 'PartitionChange', topicId: 'tid', partitionEpoch: 1, isr: [1, 2], byLeader: { brokerId: 1, brokerEpoch: 7, leaderEpoch: 1 } });
    // While the shrink is in flight the leaving member still bounds the high watermark.
    expect(s.leader.maximalIsr).toEqual([1, 2, 3]);
    expect(s.leader.highWatermark).toBe(0);
    await accept(s, [1, 2]);
    expect(s.leader.isr).toEqual([1, 2]);
    expect(s.leader.partitionEpoch).toBe(2);
    expect(s.leader.highWatermark).toBe(1);
  });

  it('keeps one change in flight and backs off after a rejection (a stale partition epoch)', async () => {
    const s = await setup();
    s.sim.runFor(1500);
    expect(s.proposals).toHaveLength(1);
    s.sim.runFor(1000);
    expect(s.proposals).toHaveLength(1);
    s.answers.shift()?.({ accepted: false, errorCode: 'INVALID_UPDATE_VERSION' });
    await settle();
    expect(s.leader.isr).toEqual([1, 2, 3]);
    s.sim.runFor(200);
    expect(s.proposals).toHaveLength(2);
  });

  it('gives up on an unanswered proposal after alterPartitionTimeoutMs and proposes again', async () => {
    const s = await setup();
    s.sim.runFor(1200);
    expect(s.proposals).toHaveLength(1);
    s.sim.runFor(config.alterPartitionTimeoutMs - 300);
    expect(s.proposals).toHaveLength(1);
    s.sim.runFor(500);
    expect(s.proposals).toHaveLength(2);
    // The late answer to the first proposal is ignored; the second one's answer applies.
    s.answers.shift()?.({ accepted: true, state: state({ isr: [1, 3], partitionEpoch: 2 }) });
    await settle();
    expect(s.leader.isr).toEqual([1, 2, 3]);
    await accept(s, [1]);
    expect(s.leader.isr).toEqual([1]);
  });

  it('expands the ISR when a follower reaches the high watermark within the current leader epoch', async () => {
    const s = await setup({ isr: [1, 2] });
    await s.leader.append(await batch('a'), 1, 1000);
    await s.fetch(2, 1, 1);
    expect(s.leader.highWatermark).toBe(1);
    await s.fetch(3, 0);
    expect(s.proposals).toHaveLength(0);
    await s.fetch(3, 1, 1);
    expect(s.proposals[0]?.isr).toEqual([1, 2, 3]);
    // A pending expand already counts the joiner for the high watermark (maximal ISR).
    expect(s.leader.maximalIsr).toEqual([1, 2, 3]);
    await accept(s, [1, 2, 3]);
    expect(s.leader.isr).toEqual([1, 2, 3]);
  });

  it('does not expand a follower that only caught up to data before this leader epoch', async () => {
    const s = await setup({ isr: [1, 2], leaderEpoch: 2 }, 2, async (log) => {
      await log.append(await batch('old'), { assignOffsets: true, leaderEpoch: 1 });
    });
    expect(s.leader.leaderEpochStartOffset).toBe(1);
    await s.fetch(3, 0, undefined, 2);
    expect(s.proposals).toHaveLength(0);
    await s.fetch(3, 1, 1, 2);
    expect(s.proposals[0]?.isr).toEqual([1, 2, 3]);
  });
});

describe('LeaderPartition fetch answers (KIP-320)', () => {
  async function twoEpochs(): Promise<Setup> {
    // Epoch 1 holds offsets 0..2; this leader's epoch 3 starts at 3 and holds 3..4.
    const s = await setup({ leaderEpoch: 3 }, 2, async (log) => {
      for (const k of ['a', 'b', 'c']) await log.append(await batch(k), { assignOffsets: true, leaderEpoch: 1 });
    });
    await s.leader.append(await batch('d'), 1, 1000);
    await s.leader.append(await batch('e'), 1, 1000);
    return s;
  }

  it('answers a diverging epoch when the follower has an epoch the leader never had', async () => {
    const s = await twoEpochs();
    const r = await s.fetch(2, 5, 2, 3);
    expect(r.divergingEpoch).toEqual({ epoch: 1, endOffset: 3 });
    expect(r.records.length).toBe(0);
    // A diverging fetch says nothing about the follower's position.
    expect(s.leader.follower(2)?.logEndOffset).toBe(-1);
  });

  it('answers a diverging epoch when the follower is past the end of its last epoch on the leader', async () => {
    const s = await twoEpochs();
    expect((await s.fetch(2, 4, 1, 3)).divergingEpoch).toEqual({ epoch: 1, endOffset: 3 });
    const ok = await s.fetch(2, 3, 1, 3);
    expect(ok.divergingEpoch).toBeUndefined();
    expect(ok.errorCode).toBe(ErrorCode.NONE);
    expect(ok.records.length).toBeGreaterThan(0);
  });

  it('fences stale and unknown leader epochs, and answers OFFSET_OUT_OF_RANGE past the log end', async () => {
    const s = await twoEpochs();
    expect((await s.fetch(2, 0, undefined, 2)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect((await s.fetch(2, 0, undefined, 4)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
    expect((await s.fetch(2, 9, undefined, 3)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect((await s.fetch(9, 0, undefined, 3)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    await s.log.deleteRecordsBefore(2);
    const below = await s.fetch(2, 1, 1, 3);
    expect(below).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 2, logEndOffset: 5 });
  });
});
