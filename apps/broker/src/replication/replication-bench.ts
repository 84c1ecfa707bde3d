// Replication benchmark (not used at run time): produce throughput and acks=all latency of
// RF=3 in-process replication (three ReplicaManagers, each with its own StorageEngine on the
// real file system, flush=always, fetches as direct calls) against a baseline measured in the
// same run: the same appends to one StorageEngine with no replication (PERFORMANCE.md).
// Run: node --conditions=@streambus/source --import tsx src/replication/replication-bench.ts
// Progress on stderr; a table, then ONE JSON line on stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type PartitionState } from '@streambus/metadata';
import { encodeBatch } from '@streambus/record';
import { StorageEngine } from '@streambus/storage';
import { type AlterPartitionResult } from './leader.js';
import { ReplicaManager } from './replica-manager.js';
import { type Acks, systemScheduler } from './types.js';

export interface ReplicationBenchOptions {
  /** Batches produced per variant. */
  readonly batches?: number;
  readonly recordsPerBatch?: number;
  readonly recordBytes?: number;
  /** Produce requests in flight at once. */
  readonly concurrency?: number;
}

export interface VariantResult {
  readonly name: string;
  readonly mbPerSec: number;
  readonly recordsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const progress = (text: string): boolean => process.stderr.write(`${text}\n`);

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function drive(name: string, batchesTotal: number, concurrency: number, batch: () => Buffer, produce: (b: Buffer) => Promise<unknown>, bytesPerBatch: number, recordsPerBatch: number): Promise<VariantResult> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < batchesTotal) {
      next++;
      const t = performance.now();
      await produce(batch());
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const r = {
    name,
    mbPerSec: (batchesTotal * bytesPerBatch) / seconds / 1e6,
    recordsPerSec: (batchesTotal * recordsPerBatch) / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
  progress(`${name}: ${r.mbPerSec.toFixed(1)} MB/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
  return r;
}

async function replicated(dir: string, acks: Acks, o: Required<ReplicationBenchOptions>, batch: () => Buffer, bytesPerBatch: number): Promise<VariantResult> {
  const scheduler = systemScheduler();
  const rms = new Map<number, ReplicaManager>();
  const engines: StorageEngine[] = [];
  const state: PartitionState = { partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 1, addingReplicas: [], removingReplicas: [], offline: false };
  for (const id of [1, 2, 3]) {
    const storage = await StorageEngine.open({ dir: join(dir, `acks${acks}-b${id}`), flush: 'always', maintenanceIntervalMs: 0 });
    engines.push(storage);
    rms.set(
      id,
      new ReplicaManager({
        brokerId: id,
        brokerEpoch: () => 1,
        storage,
        scheduler,
        config: { replicaFetchWaitMaxMs: 100, replicaLagTimeMaxMs: 60_000 },
        send: (leaderId, req) => rms.get(leaderId)?.handleReplicaFetch(req) ?? Promise.reject(new Error('unknown broker')),
        alterPartition: (): Promise<AlterPartitionResult> => Promise.resolve({ accepted: false, errorCode: 'BENCH' }),
      }),
    );
  }
  for (const rm of rms.values()) await rm.applyPartition({ topic: 'bench', topicId: 'bench', partition: 0, state, minInsyncReplicas: 2 });
  const leader = rms.get(1);
  if (leader === undefined) throw new Error('no leader');
  const tp = { topic: 'bench', partition: 0 };
  const result = await drive(`rf3-acks${acks === -1 ? 'all' : acks}`, o.batches, o.concurrency, batch, (b) => leader.produce(tp, b, acks, 30_000), bytesPerBatch, o.recordsPerBatch);
  for (const rm of rms.values()) await rm.stop();
  for (const e of engines) await e.close();
  return result;
}

export async function runReplicationBench(options: ReplicationBenchOptions = {}): Promise<{ baseline: VariantResult; variants: VariantResult[] }> {
  const o: Required<ReplicationBenchOptions> = { batches: 2000, recordsPerBatch: 16, recordBytes: 1024, concurrency: 8, ...options };
  const value = Buffer.alloc(o.recordBytes, 7);
  const template = await encodeBatch(Array.from({ length: o.recordsPerBatch }, () => ({ value })));
  // A fresh copy per produce: appends restamp baseOffset and epoch in place.
  const batch = (): Buffer => Buffer.from(template);
  const bytesPerBatch = template.length;
  const dir = mkdtempSync(join(tmpdir(), 'streambus-repl-bench-'));
  try {
    const engine = await StorageEngine.open({ dir: join(dir, 'baseline'), flush: 'always', maintenanceIntervalMs: 0 });
    const log = await engine.createPartition({ topic: 'bench', partition: 0 });
    const baseline = await drive('baseline-single-log', o.batches, o.concurrency, batch, (b) => log.append(b, { assignOffsets: true, leaderEpoch: 1 }), bytesPerBatch, o.recordsPerBatch);
    await engine.close();
    const variants = [await replicated(dir, 1, o, batch, bytesPerBatch), await replicated(dir, -1, o, batch, bytesPerBatch)];
    return { baseline, variants };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const batches = Number(process.env.BENCH_BATCHES ?? 2000);
  const { baseline, variants } = await runReplicationBench({ batches });
  const rows = [baseline, ...variants];
  process.stdout.write(`${'variant'.padEnd(22)} ${'MB/s'.padStart(8)} ${'rec/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ratio\n`);
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(22)} ${r.mbPerSec.toFixed(1).padStart(8)} ${Math.round(r.recordsPerSec).toString().padStart(10)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${(r.mbPerSec / baseline.mbPerSec).toFixed(3)}\n`,
    );
  }
  const json = {
    bench: 'replication',
    baseline,
    variants,
    ratios: Object.fromEntries(variants.map((v) => [`${v.name}_vs_baseline_throughput`, Number((v.mbPerSec / baseline.mbPerSec).toFixed(3))])),
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
