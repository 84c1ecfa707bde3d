import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { Level } from 'level';
import { RaftSimulation } from '../test/sim-harness.js';
import type { Command, LatencyResult, ThroughputResult, VoterData } from './voter.js';

/*
 * Raft benchmark. Baselines measured first in the same run: raw fdatasync rate on a temp file
 * and level's synced single-put rate. Then 3 voters in this process, a worker thread each (its
 * own event loop and heap, as a voter process has), over MessagePorts carrying wire-encoded
 * messages, with real level storage and fsync:
 * committed 1 KiB proposals/s with batching, p50/p99 commit latency at a fixed offered
 * rate, and fsyncs per node per proposal. Last, the simulator's virtual seconds per wall second.
 * Progress on stderr; results on stdout, ending with one JSON line.
 *
 * The voters run with the broker's V8 flag (--initial-old-space-size=128, ADR 0008; the package's
 * bench script passes it, as every broker launcher does), since the metadata Raft lives in the
 * broker process. Without it each voter's small heap ran a 5-15 ms mark-compact every ~300 ms,
 * which was half of the p99.
 */

const PROPOSAL_BYTES = 1024;
const BASELINE_MS = Number(process.env.BENCH_BASELINE_MS ?? 2000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 8000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 8000);
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2048);
const SIM_SEEDS = Number(process.env.BENCH_SIM_SEEDS ?? 30);

const log = (s: string): void => void process.stderr.write(`${s}\n`);

function fsyncRate(dir: string): number {
  const fd = openSync(join(dir, 'fsync.bin'), 'w');
  const buf = Buffer.alloc(PROPOSAL_BYTES, 7);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < BASELINE_MS) {
    writeSync(fd, buf);
    fdatasyncSync(fd);
    n++;
  }
  closeSync(fd);
  return n / ((performance.now() - start) / 1000);
}

async function levelSyncRate(dir: string): Promise<number> {
  const db = new Level<Uint8Array, Uint8Array>(join(dir, 'level-baseline'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const value = new Uint8Array(PROPOSAL_BYTES).fill(3);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < BASELINE_MS) {
    const key = new Uint8Array(8);
    new DataView(key.buffer).setUint32(4, n);
    await db.put(key, value, { sync: true });
    n++;
  }
  const rate = n / ((performance.now() - start) / 1000);
  await db.close();
  return rate;
}

/** A voter in its own worker thread (bench/voter.ts), driven by request/answer messages. */
class Voter {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(
    readonly id: number,
    private readonly worker: Worker,
  ) {
    worker.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (w === undefined || m.id === undefined) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(`voter ${this.id}: ${m.error}`));
      else w.resolve(m.result);
    });
    worker.on('error', (err) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  static async start(data: VoterData, transfer: MessagePort[]): Promise<Voter> {
    const worker = new Worker(new URL('./voter-worker.mjs', import.meta.url), { workerData: data, transferList: transfer });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (m.ready !== true) return;
        worker.off('message', onMessage);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return new Voter(data.id, worker);
  }

  request<T>(c: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...c });
    });
  }

  async stop(): Promise<void> {
    await this.request({ cmd: 'stop' });
    await this.worker.terminate();
  }
}

/** Three voters, one worker thread each, wired pairwise with MessageChannels; voter 1 leads. */
async function startCluster(dir: string, name: string): Promise<Voter[]> {
  const ids = [1, 2, 3];
  const peers = new Map<number, Record<number, MessagePort>>(ids.map((id) => [id, {}]));
  for (const a of ids) {
    for (const b of ids) {
      if (a >= b) continue;
      const { port1, port2 } = new MessageChannel();
      (peers.get(a) ?? {})[b] = port1;
      (peers.get(b) ?? {})[a] = port2;
    }
  }
  const voters = await Promise.all(
    ids.map((id) => {
      const mine = peers.get(id) ?? {};
      return Voter.start({ id, dir: join(dir, `${name}-node-${id}`), voters: ids, proposalBytes: PROPOSAL_BYTES, snapshotEntriesMax: 10_000, peers: mine }, Object.values(mine));
    }),
  );
  const leader = voters[0]!;
  await leader.request({ cmd: 'campaign' });
  const start = Date.now();
  while (!(await leader.request<boolean>({ cmd: 'isLeader' }))) {
    if (Date.now() - start > 10_000) throw new Error('no leader within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return voters;
}

async function syncs(voters: Voter[]): Promise<number> {
  const stats = await Promise.all(voters.map((v) => v.request<{ syncedWrites: number }>({ cmd: 'stats' })));
  return stats.reduce((a, s) => a + s.syncedWrites, 0);
}

/** Closed loop in the leader's worker: CONCURRENCY proposals outstanding for THROUGHPUT_MS. */
async function throughput(voters: Voter[]): Promise<{ perSec: number; fsyncsPerNodePerProposal: number; proposalsPerBatch: number }> {
  const syncs0 = await syncs(voters);
  const r = await voters[0]!.request<ThroughputResult>({ cmd: 'throughput', ms: THROUGHPUT_MS, concurrency: CONCURRENCY });
  return {
    perSec: r.done / r.secs,
    fsyncsPerNodePerProposal: ((await syncs(voters)) - syncs0) / voters.length / r.done,
    proposalsPerBatch: r.proposals / Math.max(1, r.proposalBatches),
  };
}

/** Open loop in the leader's worker at LATENCY_RATE proposals/s: commit latency from propose() to applied. */
async function latency(voters: Voter[]): Promise<{ p50Ms: number; p99Ms: number; p999Ms: number; achievedPerSec: number }> {
  const r = await voters[0]!.request<LatencyResult>({ cmd: 'latency', ms: LATENCY_MS, rate: LATENCY_RATE });
  return { p50Ms: r.p50Ms, p99Ms: r.p99Ms, p999Ms: r.p999Ms, achievedPerSec: r.sent / r.secs };
}

function simulationSpeed(): { virtualSecPerWallSec: number; seeds: number } {
  let virtualMs = 0;
  const start = performance.now();
  for (let seed = 1; seed <= SIM_SEEDS; seed++) virtualMs += new RaftSimulation({ seed }).run().virtualMs;
  const wallMs = performance.now() - start;
  return { virtualSecPerWallSec: virtualMs / wallMs, seeds: SIM_SEEDS };
}

async function main(): Promise<void> {
  if (!process.execArgv.includes('--initial-old-space-size=128')) log('note: started without --initial-old-space-size=128 (the broker\'s V8 flag); latency will be worse than a broker\'s');
  const dir = mkdtempSync(join(tmpdir(), 'raft-bench-'));
  try {
    log('baseline: raw write+fdatasync of 1 KiB ...');
    const fsyncPerSec = fsyncRate(dir);
    log(`  ${fsyncPerSec.toFixed(0)} fsyncs/s`);
    log('baseline: level put with sync ...');
    const levelSyncPerSec = await levelSyncRate(dir);
    log(`  ${levelSyncPerSec.toFixed(0)} synced puts/s`);

    log('raft: starting 3 voters (a worker thread each) ...');
    const nodes = await startCluster(dir, 'throughput');
    log(`raft: closed loop, ${CONCURRENCY} outstanding 1 KiB proposals for ${THROUGHPUT_MS} ms ...`);
    const tp = await throughput(nodes);
    log(`  ${tp.perSec.toFixed(0)} proposals/s, ${tp.proposalsPerBatch.toFixed(1)} proposals per batch, ${tp.fsyncsPerNodePerProposal.toFixed(4)} fsyncs per node per proposal`);
    for (const n of nodes) await n.stop();
    // A fresh cluster: LevelDB compactions left behind by the throughput run would skew latency.
    log('raft: starting 3 fresh voters ...');
    const fresh = await startCluster(dir, 'latency');
    log(`raft: open loop at ${LATENCY_RATE}/s for ${LATENCY_MS} ms ...`);
    const lat = await latency(fresh);
    log(`  p50 ${lat.p50Ms.toFixed(2)} ms, p99 ${lat.p99Ms.toFixed(2)} ms, p99.9 ${lat.p999Ms.toFixed(2)} ms`);
    for (const n of fresh) await n.stop();

    log(`simulation: ${SIM_SEEDS} seeds ...`);
    const sim = simulationSpeed();
    log(`  ${sim.virtualSecPerWallSec.toFixed(1)} virtual s per wall s`);

    const result = {
      bench: 'raft',
      proposalBytes: PROPOSAL_BYTES,
      baseline: { fsyncPerSec: Math.round(fsyncPerSec), levelSyncPutPerSec: Math.round(levelSyncPerSec) },
      throughput: { proposalsPerSec: Math.round(tp.perSec), concurrency: CONCURRENCY, proposalsPerBatch: Number(tp.proposalsPerBatch.toFixed(1)), fsyncsPerNodePerProposal: Number(tp.fsyncsPerNodePerProposal.toFixed(5)) },
      latency: { offeredPerSec: LATENCY_RATE, achievedPerSec: Math.round(lat.achievedPerSec), p50Ms: lat.p50Ms, p99Ms: lat.p99Ms, p999Ms: lat.p999Ms },
      simulation: { virtualSecPerWallSec: Number(sim.virtualSecPerWallSec.toFixed(1)), seeds: sim.seeds },
      ratios: {
        proposalsPerSecOverFsyncPerSec: Number((tp.perSec / fsyncPerSec).toFixed(2)),
        proposalsPerSecOverLevelSyncPutPerSec: Number((tp.perSec / levelSyncPerSec).toFixed(2)),
        p99MsOverFsyncMs: Number((lat.p99Ms / (1000 / fsyncPerSec)).toFixed(2)),
      },
      targets: { proposalsPerSecMin: 20_000, p99MsMax: 10, met: tp.perSec >= 20_000 && lat.p99Ms <= 10 },
    };
    console.log(`raft: ${result.throughput.proposalsPerSec} proposals/s (${result.ratios.proposalsPerSecOverFsyncPerSec}x raw fsync rate ${result.baseline.fsyncPerSec}/s); p50 ${lat.p50Ms} ms p99 ${lat.p99Ms} ms at ${LATENCY_RATE}/s; sim ${result.simulation.virtualSecPerWallSec} virtual s/s`);
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
