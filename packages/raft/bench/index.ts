import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { Level } from 'level';
import { MemoryNetwork, RaftNode, type StateMachine } from '../src/index.js';
import { RaftSimulation } from '../test/sim-harness.js';

/*
 * Raft benchmark. Baselines measured first in the same run: raw fdatasync rate on a temp file
 * and level's synced single-put rate. Then 3 voters in this process over an in-memory
 * transport (messages encoded with the wire codec) with real level storage and fsync:
 * committed 1 KiB proposals/s with batching, p50/p99 commit latency at a fixed offered
 * rate, and fsyncs per node per proposal. Last, the simulator's virtual seconds per wall second.
 * Progress on stderr; results on stdout, ending with one JSON line.
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

class CountingMachine implements StateMachine {
  applied = 0;
  apply(): void {
    this.applied++;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied = Number(new TextDecoder().decode(data));
  }
}

async function startCluster(dir: string, name: string): Promise<RaftNode[]> {
  const net = new MemoryNetwork(true);
  const voters = [1, 2, 3];
  const nodes: RaftNode[] = [];
  for (const id of voters) {
    nodes.push(
      await RaftNode.start({
        id,
        dir: join(dir, `${name}-node-${id}`),
        voters,
        transport: net.transport(id),
        stateMachine: new CountingMachine(),
        tickMs: 50,
        raft: { electionTimeoutTicks: 20, heartbeatIntervalTicks: 2 },
        snapshotEntriesMax: 10_000,
      }),
    );
  }
  nodes[0]!.campaign();
  const start = Date.now();
  while (!nodes[0]!.isLeader()) {
    if (Date.now() - start > 10_000) throw new Error('no leader within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return nodes;
}

function syncs(nodes: RaftNode[]): number {
  return nodes.reduce((a, n) => a + n.stats().syncedWrites, 0);
}

/** Closed loop: CONCURRENCY proposals outstanding for THROUGHPUT_MS. */
async function throughput(leader: RaftNode, nodes: RaftNode[]): Promise<{ perSec: number; fsyncsPerNodePerProposal: number; proposalsPerBatch: number }> {
  const payload = new Uint8Array(PROPOSAL_BYTES).fill(1);
  let done = 0;
  let stop = false;
  const syncs0 = syncs(nodes);
  const st0 = leader.stats();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (!stop) {
      await leader.propose(payload);
      done++;
    }
  };
  const timer = setTimeout(() => (stop = true), THROUGHPUT_MS);
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearTimeout(timer);
  const secs = (performance.now() - start) / 1000;
  const st1 = leader.stats();
  return {
    perSec: done / secs,
    fsyncsPerNodePerProposal: (syncs(nodes) - syncs0) / nodes.length / done,
    proposalsPerBatch: (st1.proposals - st0.proposals) / Math.max(1, st1.proposalBatches - st0.proposalBatches),
  };
}

/** Open loop at LATENCY_RATE proposals/s: commit latency from propose() to applied. */
async function latency(leader: RaftNode): Promise<{ p50Ms: number; p99Ms: number; p999Ms: number; achievedPerSec: number }> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const payload = new Uint8Array(PROPOSAL_BYTES).fill(2);
  let outstanding = 0;
  let failed = 0;
  let sent = 0;
  const start = performance.now();
  const tickMs = 1;
  while (performance.now() - start < LATENCY_MS) {
    const due = Math.floor(((performance.now() - start) / 1000) * LATENCY_RATE);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      outstanding++;
      leader.propose(payload).then(
        () => {
          outstanding--;
          h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        },
        () => {
          outstanding--;
          failed++;
        },
      );
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  while (outstanding > 0) await new Promise((r) => setTimeout(r, 5));
  if (failed > 0) throw new Error(`${failed} proposals failed during the latency run`);
  const secs = (performance.now() - start) / 1000;
  const r = { p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000, p999Ms: h.getValueAtPercentile(99.9) / 1000, achievedPerSec: sent / secs };
  h.destroy();
  return r;
}

function simulationSpeed(): { virtualSecPerWallSec: number; seeds: number } {
  let virtualMs = 0;
  const start = performance.now();
  for (let seed = 1; seed <= SIM_SEEDS; seed++) virtualMs += new RaftSimulation({ seed }).run().virtualMs;
  const wallMs = performance.now() - start;
  return { virtualSecPerWallSec: virtualMs / wallMs, seeds: SIM_SEEDS };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'raft-bench-'));
  try {
    log('baseline: raw write+fdatasync of 1 KiB ...');
    const fsyncPerSec = fsyncRate(dir);
    log(`  ${fsyncPerSec.toFixed(0)} fsyncs/s`);
    log('baseline: level put with sync ...');
    const levelSyncPerSec = await levelSyncRate(dir);
    log(`  ${levelSyncPerSec.toFixed(0)} synced puts/s`);

    log('raft: starting 3 voters ...');
    const nodes = await startCluster(dir, 'throughput');
    log(`raft: closed loop, ${CONCURRENCY} outstanding 1 KiB proposals for ${THROUGHPUT_MS} ms ...`);
    const tp = await throughput(nodes[0]!, nodes);
    log(`  ${tp.perSec.toFixed(0)} proposals/s, ${tp.proposalsPerBatch.toFixed(1)} proposals per batch, ${tp.fsyncsPerNodePerProposal.toFixed(4)} fsyncs per node per proposal`);
    for (const n of nodes) await n.stop();
    // A fresh cluster: LevelDB compactions left behind by the throughput run would skew latency.
    log('raft: starting 3 fresh voters ...');
    const fresh = await startCluster(dir, 'latency');
    log(`raft: open loop at ${LATENCY_RATE}/s for ${LATENCY_MS} ms ...`);
    const lat = await latency(fresh[0]!);
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
