import { ErrorCode, type ReplicaFetchPartitionResponse, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@streambus/protocol';
import { encodeBatch } from '@streambus/record';
import { MemFileSystem, type PartitionLog, StorageEngine } from '@streambus/storage';
import { Simulator } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { FollowerPartition, ReplicaFetcher } from './follower.js';
import { resolveReplicationConfig, type Scheduler } from './types.js';

// A fixed clock keeps the bytes the same on every run.
const batch = (key: string): Promise<Buffer> => encodeBatch([{ key: Buffer.from(key), value: Buffer.from(`v-${key}`) }], { now: () => 0 });
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function openLog(sim: Simulator, partition = 0): Promise<{ engine: StorageEngine; log: PartitionLog }> {
  const engine = await StorageEngine.open({ dir: '/d', fs: new MemFileSystem(), clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
  return { engine, log: await engine.createPartition({ topic: 't', partition }) };
}

/** Appends one single-record batch per epoch in `epochs`, as a leader of that epoch would. */
async function fill(log: PartitionLog, epochs: number[]): Promise<void> {
  for (const [i, e] of epochs.entries()) await log.append(await batch(`r${i}`), { assignOffsets: true, leaderEpoch: e });
}

/** Leader bytes as a follower receives them: batches with offsets and epochs already set. */
async function leaderBytes(epochs: number[], from: number): Promise<Buffer> {
  const sim = new Simulator();
  const { log } = await openLog(sim);
  await fill(log, epochs);
  const r = await log.read(from, 1 << 20);
  return Buffer.concat(r.batches);
}

function response(over: Partial<ReplicaFetchPartitionResponse>): ReplicaFetchPartitionResponse {
  return { topic: 't', partition: 0, errorCode: ErrorCode.NONE, errorMessage: '', highWatermark: 0, logStartOffset: 0, logEndOffset: 0, records: Buffer.alloc(0), ...over };
}

describe('FollowerPartition', () => {
  it('fetches from its log end with the epoch of its last batch', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0, 0, 2]);
    // A leadership it held without writing leaves an empty epoch at the log end: not "fetched".
    await log.assignLeaderEpoch(3);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 4, initialHighWatermark: 1 });
    expect(fp.fetchRequest(100)).toMatchObject({ fetchOffset: 3, lastFetchedEpoch: 2, currentLeaderEpoch: 4, partitionMaxBytes: 100 });
  });

  it('appends the leader bytes unchanged and learns the epochs they carry', async () => {
    const { log } = await openLog(new Simulator());
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 5, initialHighWatermark: 0 });
    const bytes = await leaderBytes([1, 1, 5], 0);
    const out = await fp.applyResponse(response({ records: Buffer.from(bytes), highWatermark: 2, logEndOffset: 3 }), fp.fetchRequest(1000));
    expect(out).toEqual({ kind: 'appended', bytes: bytes.length });
    const read = await log.read(0, 1 << 20);
    expect(Buffer.concat(read.batches).equals(bytes)).toBe(true);
    expect(log.leaderEpochs).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 5, startOffset: 2 },
    ]);
    expect(fp.highWatermark).toBe(2);
  });

  it('truncates exactly where the leader epoch ended when it shares that epoch', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0, 0, 2, 2, 2]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 4, initialHighWatermark: 1 });
    const out = await fp.applyResponse(response({ divergingEpoch: { epoch: 2, endOffset: 3 } }), fp.fetchRequest(1000));
    expect(out).toEqual({ kind: 'truncated', to: 3, reason: 'divergingEpoch' });
    expect(log.logEndOffset).toBe(3);
    // Never down to the high watermark (1): offsets 1..2 are kept.
    expect(fp.highWatermark).toBe(1);
  });

  it('truncates at the end of its own older epoch when it never had the leader epoch (not at the leader end)', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0, 0, 2, 2, 2]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 4, initialHighWatermark: 0 });
    // Leader: epoch 1 ran to offset 7. We have no epoch 1; ours (0) ended at 2.
    const out = await fp.applyResponse(response({ divergingEpoch: { epoch: 1, endOffset: 7 } }), fp.fetchRequest(1000));
    expect(out).toEqual({ kind: 'truncated', to: 2, reason: 'divergingEpoch' });
    expect(log.logEndOffset).toBe(2);
    expect(fp.fetchRequest(1000)).toMatchObject({ fetchOffset: 2, lastFetchedEpoch: 0 });
  });

  it('never truncates on a plain fetch answer, even with a high watermark below its log end', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0, 0, 0]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 3 });
    const out = await fp.applyResponse(response({ highWatermark: 1, logEndOffset: 5 }), fp.fetchRequest(1000));
    expect(out.kind).toBe('idle');
    expect(log.logEndOffset).toBe(3);
    expect(fp.highWatermark).toBe(1);
  });

  it('restarts at the leader log start when it is behind it (OFFSET_OUT_OF_RANGE)', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 0 });
    const out = await fp.applyResponse(response({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 10, logEndOffset: 12 }), fp.fetchRequest(1000));
    expect(out).toEqual({ kind: 'truncated', to: 10, reason: 'outOfRange' });
    expect(log.logStartOffset).toBe(10);
    expect(log.logEndOffset).toBe(10);
  });

  it("follows the leader's log start offset, but never past its own high watermark", async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0, 0, 0, 0]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 0 });
    await fp.applyResponse(response({ highWatermark: 2, logStartOffset: 3, logEndOffset: 4 }), fp.fetchRequest(1000));
    expect(log.logStartOffset).toBe(0);
    await fp.applyResponse(response({ highWatermark: 4, logStartOffset: 3, logEndOffset: 4 }), fp.fetchRequest(1000));
    expect(log.logStartOffset).toBe(3);
    expect(log.logEndOffset).toBe(4);
  });

  it('skips the whole batches it already holds and appends only the rest', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [1, 1]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 0 });
    const bytes = await leaderBytes([1, 1, 1], 0);
    const tail = await leaderBytes([1, 1, 1], 2);
    const out = await fp.applyResponse(response({ records: Buffer.from(bytes), highWatermark: 3, logEndOffset: 3 }), fp.fetchRequest(1000));
    expect(out).toEqual({ kind: 'appended', bytes: tail.length });
    expect(log.logEndOffset).toBe(3);
    expect(Buffer.concat((await log.read(0, 1 << 20)).batches).equals(bytes)).toBe(true);
  });

  it('refuses bytes that are not whole batches and leaves the log as it was', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [1]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 0 });
    // Shorter than a batch length field: the header read itself fails.
    await expect(fp.applyResponse(response({ records: Buffer.alloc(10), logEndOffset: 2 }), fp.fetchRequest(1000))).rejects.toMatchObject({ code: 'TRUNCATED' });
    // A cut-off batch past our end: storage validates before it appends anything.
    const bytes = await leaderBytes([1, 1, 1], 1);
    await expect(fp.applyResponse(response({ records: bytes.subarray(0, bytes.length - 3), logEndOffset: 3 }), fp.fetchRequest(1000))).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    expect(log.logEndOffset).toBe(1);
  });

  it('reports other error codes without touching the log', async () => {
    const { log } = await openLog(new Simulator());
    await fill(log, [0]);
    const fp = new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 2, leaderEpoch: 1, initialHighWatermark: 0 });
    const out = await fp.applyResponse(response({ errorCode: ErrorCode.FENCED_LEADER_EPOCH }), fp.fetchRequest(1000));
    expect(out).toMatchObject({ kind: 'error', errorCode: ErrorCode.FENCED_LEADER_EPOCH });
    expect(log.logEndOffset).toBe(1);
  });
});

describe('ReplicaFetcher', () => {
  function simScheduler(sim: Simulator): Scheduler {
    return { now: () => sim.now, setTimeout: (fn, ms) => sim.schedule(ms, fn), clearTimeout: (t) => void sim.cancel(t as number) };
  }

  it('carries every partition followed from one leader in one request, and adding partitions adds no calls', async () => {
    const sim = new Simulator();
    const engine = await StorageEngine.open({ dir: '/d', fs: new MemFileSystem(), clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
    const requests: ReplicaFetchRequest[] = [];
    let release: (() => void) | undefined;
    const fetcher = new ReplicaFetcher({
      brokerId: 3,
      brokerEpoch: () => 11,
      leaderId: 1,
      config: resolveReplicationConfig({ replicaFetchPartitionBytesMax: 1000, replicaFetchResponseBytesMax: 5000 }),
      scheduler: simScheduler(sim),
      send: (_leader, req) => {
        requests.push(req);
        return new Promise<ReplicaFetchResponse>((resolve) => {
          release = () => resolve({ partitions: req.partitions.map((p) => response({ topic: p.topic, partition: p.partition })) });
        });
      },
    });
    for (let p = 0; p < 3; p++) {
      const log = await engine.createPartition({ topic: 't', partition: p });
      fetcher.addPartition(new FollowerPartition({ tp: { topic: 't', partition: p }, log, leaderId: 1, leaderEpoch: 2, initialHighWatermark: 0 }));
    }
    await settle();
    // One request in flight, holding the first partition; the others join the next one.
    expect(requests).toHaveLength(1);
    release?.();
    await settle();
    expect(requests).toHaveLength(2);
    const second = requests[1];
    expect(second?.partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
    expect(second).toMatchObject({ replicaId: 3, brokerEpoch: 11, maxBytes: 5000 });
    expect(second?.partitions.every((p) => p.partitionMaxBytes === 1000 && p.currentLeaderEpoch === 2)).toBe(true);
    await fetcher.stop();
    release?.();
    await settle();
    expect(requests).toHaveLength(2);
  });

  it('backs off a partition after an error and the whole fetcher after a transport failure', async () => {
    const sim = new Simulator();
    const { log } = await openLog(sim);
    let calls = 0;
    const fetcher = new ReplicaFetcher({
      brokerId: 3,
      brokerEpoch: () => 1,
      leaderId: 1,
      config: resolveReplicationConfig({ replicaFetchBackoffMs: 100 }),
      scheduler: simScheduler(sim),
      send: async () => {
        calls++;
        throw new Error('connection refused');
      },
    });
    fetcher.addPartition(new FollowerPartition({ tp: { topic: 't', partition: 0 }, log, leaderId: 1, leaderEpoch: 0, initialHighWatermark: 0 }));
    await settle();
    expect(calls).toBe(1);
    sim.runFor(99);
    await settle();
    expect(calls).toBe(1);
    sim.runFor(1);
    await settle();
    expect(calls).toBe(2);
    await fetcher.stop();
  });
});
