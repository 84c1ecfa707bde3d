// Sustained produce against one real broker with a tiny memtable budget, so flushes never stop
// and every maintenance round finds partitions queued for flushing. While producers run flat
// out, probes check that the broker stays responsive: /healthz and a metadata call on a fresh
// connection answer within PROBE_BUDGET_MS, every producer keeps getting acknowledgements, and
// the resident memory stays bounded. Found by the SDK bench: two flush drivers (maintenance
// and the background flusher) once livelocked the event loop after ~10 s at ~75 MB/s.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, ErrorCode } from '@streambus/protocol';
import { BatchBuilder } from '@streambus/record';
import { printLogsOnFailure, startCluster, type TestCluster } from '../helpers/cluster.js';
import { createTopic, latestOffset, waitLeaderServes } from '../helpers/records.js';
import { sleep } from '../helpers/wait.js';

const LOAD_MS = 8_000;
const PROBE_INTERVAL_MS = 250;
/** Far above a healthy answer (milliseconds) and far below "stalled for good". */
const PROBE_BUDGET_MS = 5_000;
const PRODUCERS = 4;
const PARTITIONS = 4;
const RECORDS_PER_BATCH = 60;
const MEMTABLE_BUDGET_BYTES = 1024 * 1024;
/** Resident memory allowed to the broker: the budget is 1 MiB, the rest is Node, gRPC and in-flight requests. */
const RSS_BYTES_MAX = 768 * 1024 * 1024;

let cluster: TestCluster | undefined;
const c = (): TestCluster => {
  if (cluster === undefined) throw new Error('cluster not started');
  return cluster;
};

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, name: 'e2e-load', args: ['--memtable-budget-bytes', String(MEMTABLE_BUDGET_BYTES)] });
});
afterAll(async () => {
  await cluster?.stop();
});
printLogsOnFailure(() => cluster);

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

it('stays responsive and bounded in memory under sustained produce with constant flushing', { timeout: 60_000 }, async () => {
  const topic = 'sustained';
  const broker = c().broker(1);
  const client = c().client(1);
  await createTopic(client, topic, { partitions: PARTITIONS, replicationFactor: 1 });
  for (let p = 0; p < PARTITIONS; p++) await waitLeaderServes(client, topic, p);
  const value = Buffer.alloc(1024, 7);
  const batches = await Promise.all(
    Array.from({ length: PARTITIONS }, () => {
      const builder = new BatchBuilder({ batchBytesMax: 64 * 1024 });
      for (let i = 0; i < RECORDS_PER_BATCH; i++) builder.tryAppend({ value });
      return builder.seal();
    }),
  );
  const endAt = Date.now() + LOAD_MS;
  /** Per producer, when each request (one batch to every partition) was acknowledged. */
  const acked = Array.from({ length: PRODUCERS }, () => [] as number[]);
  const producer = async (n: number): Promise<void> => {
    while (Date.now() < endAt) {
      const res = await client.produce(
        { acks: 1, timeoutMs: 30_000, partitions: batches.map((records, partition) => ({ topic, partition, currentLeaderEpoch: undefined, records })) },
        { timeoutMs: 30_000 },
      );
      for (const p of res.partitions) if (p.errorCode !== ErrorCode.NONE) throw new Error(`produce to ${topic}-${p.partition}: ${p.errorCode} ${p.errorMessage}`);
      acked[n]?.push(Date.now());
    }
  };
  const slowProbes: string[] = [];
  let probes = 0;
  let rssPeak = 0;
  const probe = async (): Promise<void> => {
    while (Date.now() < endAt) {
      const started = Date.now();
      const health = await fetch(`http://127.0.0.1:${broker.httpPort}/healthz`, { signal: AbortSignal.timeout(PROBE_BUDGET_MS) }).then(
        (r) => `${r.status}`,
        (err: Error) => err.name,
      );
      // A fresh connection each time: the stall showed first as new connections never answered.
      const fresh = createClient(broker.clientAddress);
      const meta = await fresh.metadata({ topics: [topic] }, { timeoutMs: PROBE_BUDGET_MS }).then(
        () => 'ok',
        (err: Error) => err.message,
      );
      fresh.close();
      const tookMs = Date.now() - started;
      if (health !== '200' || meta !== 'ok' || tookMs > PROBE_BUDGET_MS) slowProbes.push(`at +${started - (endAt - LOAD_MS)} ms: healthz ${health}, metadata ${meta}, ${tookMs} ms`);
      probes++;
      const pid = broker.process?.pid;
      if (pid !== undefined) rssPeak = Math.max(rssPeak, rssBytes(pid));
      await sleep(PROBE_INTERVAL_MS);
    }
  };
  await Promise.all([...Array.from({ length: PRODUCERS }, (_, n) => producer(n)), probe()]);

  expect(slowProbes).toEqual([]);
  expect(probes).toBeGreaterThan(LOAD_MS / (PROBE_INTERVAL_MS + PROBE_BUDGET_MS));
  // Every producer was acknowledged in the last quarter of the run too: no stall set in.
  for (const times of acked) expect(times.some((t) => t >= endAt - LOAD_MS / 4)).toBe(true);
  expect(rssPeak).toBeGreaterThan(0);
  expect(rssPeak).toBeLessThan(RSS_BYTES_MAX);
  // Nothing acknowledged is missing: the log end offsets add up to the acknowledged records.
  const requestsAcked = acked.reduce((n, times) => n + times.length, 0);
  for (let p = 0; p < PARTITIONS; p++) expect(await latestOffset(client, topic, p)).toBe(requestsAcked * RECORDS_PER_BATCH);
});
