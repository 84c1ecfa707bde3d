// Shared pieces of the replication tests against real processes: an acks=all writer that
// records every acknowledged (partition, offset, value), a total-queue checker over leader
// reads, ISR observation through DescribeTopics, and a replica-agreement check that reopens
// each stopped broker's storage on its data dir.
import { join } from 'node:path';
import { ErrorCode, errorCodeName, type PartitionDescription, type StreamBusClient } from '@streambus/protocol';
import { splitBatches } from '@streambus/record';
import { StorageEngine } from '@streambus/storage';
import { type TestCluster } from '../helpers/cluster.js';
import { batchOf, decodeFetched, expectOk, fetchPartition } from '../helpers/records.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Brokers that are running and not paused: the only ones worth asking. */
export function liveIds(cluster: TestCluster): number[] {
  return cluster.brokers.filter((b) => b.process !== undefined && b.process.exitStatus === undefined && !b.process.paused).map((b) => b.id);
}

/** DescribeTopics of one partition, asked of the first live broker that answers. */
export async function describePartition(cluster: TestCluster, topic: string, partition: number): Promise<PartitionDescription | undefined> {
  for (const id of liveIds(cluster)) {
    try {
      const d = await cluster.client(id).describeTopics({ names: [topic], includeInternal: false }, { timeoutMs: 1_000 });
      const p = d.topics[0]?.partitions.find((x) => x.partition === partition);
      if (p !== undefined) return p;
    } catch {
      // Not answering (just killed, starting): ask the next one.
    }
  }
  return undefined;
}

/** Waits until DescribeTopics shows a partition state satisfying `ok`; returns it. */
export async function waitPartition(cluster: TestCluster, topic: string, partition: number, ok: (p: PartitionDescription) => boolean, what: string, timeoutMs = 20_000): Promise<PartitionDescription> {
  let last: PartitionDescription | undefined;
  await waitFor(
    async () => {
      last = await describePartition(cluster, topic, partition);
      return last !== undefined && ok(last);
    },
    { timeoutMs, intervalMs: 50, what: () => `${topic}-${partition}: ${what} (last: ${last === undefined ? 'no answer' : `leader ${last.leaderId} epoch ${last.leaderEpoch} isr [${last.isr.join(',')}]`})` },
  );
  if (last === undefined) throw new Error('unreachable');
  return last;
}

export interface Acked {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface WriterStats {
  readonly acked: readonly Acked[];
  /** Values sent in a request that did not succeed: they may or may not be in the log. */
  readonly indefinite: ReadonlySet<string>;
  /** Error codes seen, with counts. */
  readonly errors: Readonly<Record<string, number>>;
  /** Leaders (broker ids) that acknowledged something. */
  readonly ackedBy: ReadonlySet<number>;
}

const RECORDS_PER_BATCH = 4;
const PRODUCE_TIMEOUT_MS = 3_000;
const CALL_DEADLINE_MS = 5_000;
const ERROR_BACKOFF_MS = 50;

/**
 * Produces unique values with acks=all to every partition of `topic` in a loop, one request
 * in flight per partition, always to the leader the metadata names. Each value is sent once:
 * a failed request is not retried with the same values, so a value appears at most once in
 * any log. Bounded by `durationMsMax` even if stop() is never called.
 */
export class AckedWriter {
  private stopped = false;
  private readonly acked: Acked[] = [];
  private readonly indefinite = new Set<string>();
  private readonly errors: Record<string, number> = {};
  private readonly ackedBy = new Set<number>();
  private readonly loops: Promise<void>[];
  private readonly leaders = new Map<number, number>();

  constructor(
    private readonly cluster: TestCluster,
    private readonly topic: string,
    partitions: number,
    private readonly durationMsMax = 60_000,
  ) {
    const deadline = Date.now() + durationMsMax;
    this.loops = Array.from({ length: partitions }, (_, p) => this.loop(p, deadline));
  }

  /** Acknowledged records so far. */
  get ackedCount(): number {
    return this.acked.length;
  }

  /** Waits until at least `n` more records are acknowledged than now. */
  async progress(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(() => this.acked.length >= target, { timeoutMs, intervalMs: 20, what: () => `${n} more acknowledged writes to ${this.topic} (errors so far: ${JSON.stringify(this.errors)})` });
  }

  async stop(): Promise<WriterStats> {
    this.stopped = true;
    await Promise.all(this.loops);
    return { acked: this.acked, indefinite: this.indefinite, errors: this.errors, ackedBy: this.ackedBy };
  }

  private async loop(partition: number, deadline: number): Promise<void> {
    for (let seq = 0; !this.stopped && Date.now() < deadline; seq++) {
      const values = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => `${this.topic}/${partition}/${seq}/${i}`);
      const leader = await this.leaderOf(partition);
      if (leader === undefined) {
        this.count('NO_LEADER');
        await sleep(ERROR_BACKOFF_MS);
        continue;
      }
      let code: string;
      let baseOffset = -1;
      try {
        const res = await this.cluster
          .client(leader)
          .produce({ acks: -1, timeoutMs: PRODUCE_TIMEOUT_MS, partitions: [{ topic: this.topic, partition, records: await batchOf(values) }] }, { timeoutMs: CALL_DEADLINE_MS });
        const p = res.partitions[0];
        code = p === undefined ? 'EMPTY_ANSWER' : errorCodeName(p.errorCode);
        baseOffset = p?.baseOffset ?? -1;
      } catch (err) {
        code = `TRANSPORT(${err instanceof Error ? err.message.slice(0, 40) : String(err)})`;
      }
      if (code === 'NONE') {
        values.forEach((value, i) => this.acked.push({ partition, offset: baseOffset + i, value }));
        this.ackedBy.add(leader);
        continue;
      }
      for (const v of values) this.indefinite.add(v);
      this.count(code);
      this.leaders.delete(partition);
      await sleep(ERROR_BACKOFF_MS);
    }
  }

  private count(code: string): void {
    const key = code.startsWith('TRANSPORT') ? 'TRANSPORT' : code;
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  private async leaderOf(partition: number): Promise<number | undefined> {
    const live = liveIds(this.cluster);
    const cached = this.leaders.get(partition);
    if (cached !== undefined && live.includes(cached)) return cached;
    const p = await describePartition(this.cluster, this.topic, partition);
    const leader = p?.leaderId;
    if (leader === undefined || leader <= 0 || !live.includes(leader)) return undefined;
    this.leaders.set(partition, leader);
    return leader;
  }
}

/** Reads a partition from its current leader up to the high watermark; waits for a serving leader. */
export async function readFromLeader(cluster: TestCluster, topic: string, partition: number): Promise<{ leader: number; highWatermark: number; records: { offset: number; value: string | null }[] }> {
  let leader = 0;
  let client: StreamBusClient | undefined;
  let highWatermark = -1;
  await waitFor(
    async () => {
      const p = await describePartition(cluster, topic, partition);
      leader = p?.leaderId ?? 0;
      if (leader <= 0 || !liveIds(cluster).includes(leader)) return false;
      client = cluster.client(leader);
      try {
        const first = await fetchPartition(client, topic, partition, 0);
        highWatermark = first.highWatermark;
        return first.errorCode === ErrorCode.NONE;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 50, what: `a serving leader of ${topic}-${partition}` },
  );
  if (client === undefined) throw new Error('unreachable');
  const records: { offset: number; value: string | null }[] = [];
  let offset = 0;
  for (let i = 0; i < 10_000 && offset < highWatermark; i++) {
    const p = expectOk(await fetchPartition(client, topic, partition, offset));
    const batch = await decodeFetched(p.records, offset);
    if (batch.length === 0) break;
    records.push(...batch);
    offset = (batch.at(-1)?.offset ?? offset) + 1;
  }
  return { leader, highWatermark, records };
}

/**
 * Total-queue check of one writer's history against what the leader serves: every
 * acknowledged value is at its acknowledged offset; offsets are dense from 0; no value is
 * read twice; every value read was sent (acknowledged or indefinite). Returns a list of
 * problems (empty when all hold), naming the first counterexamples.
 */
export function checkTotalQueue(stats: WriterStats, reads: ReadonlyMap<number, readonly { offset: number; value: string | null }[]>): string[] {
  const problems: string[] = [];
  const ackedValues = new Set(stats.acked.map((a) => a.value));
  for (const [partition, records] of reads) {
    const byOffset = new Map<number, string | null>();
    const seen = new Set<string>();
    records.forEach((r, i) => {
      if (r.offset !== i) problems.push(`p${partition}: offset ${r.offset} at position ${i} (offsets not dense from 0)`);
      byOffset.set(r.offset, r.value);
      if (r.value === null) return problems.push(`p${partition}@${r.offset}: null value`);
      if (seen.has(r.value)) problems.push(`p${partition}@${r.offset}: ${r.value} read twice`);
      seen.add(r.value);
      if (!ackedValues.has(r.value) && !stats.indefinite.has(r.value)) problems.push(`p${partition}@${r.offset}: ${r.value} was never sent`);
      return undefined;
    });
  }
  for (const a of stats.acked) {
    const got = reads.get(a.partition)?.find((r) => r.offset === a.offset)?.value;
    if (got !== a.value) problems.push(`acknowledged ${a.value} at p${a.partition}@${a.offset} lost: read ${got === undefined ? 'nothing' : got}`);
  }
  return problems.slice(0, 20);
}

/** Every batch of one partition as stored in a stopped broker's data dir. */
export async function diskBatches(dataDir: string, topic: string, partitions: readonly number[]): Promise<Map<number, { logStartOffset: number; logEndOffset: number; batches: Buffer[] }>> {
  const engine = await StorageEngine.open({ dir: join(dataDir, 'storage'), maintenanceIntervalMs: 0 });
  try {
    const out = new Map<number, { logStartOffset: number; logEndOffset: number; batches: Buffer[] }>();
    const present = engine.listPartitions();
    for (const partition of partitions) {
      if (!present.some((tp) => tp.topic === topic && tp.partition === partition)) continue;
      const log = engine.partition({ topic, partition });
      const batches: Buffer[] = [];
      let offset = log.logStartOffset;
      for (let i = 0; i < 100_000 && offset < log.logEndOffset; i++) {
        const read = await log.read(offset, 1024 * 1024);
        if (read.batches.length === 0) break;
        for (const b of read.batches) {
          for (const view of splitBatches(b)) {
            if (view.lastOffset < offset) continue;
            batches.push(Buffer.from(view.bytes));
            offset = view.lastOffset + 1;
          }
        }
      }
      out.set(partition, { logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset, batches });
    }
    return out;
  } finally {
    await engine.close();
  }
}

/** The byte size of batches up to (excluding) `endOffset`, as one buffer: the prefix to compare. */
export function prefixBelow(batches: readonly Buffer[], endOffset: number): Buffer {
  const kept: Buffer[] = [];
  for (const b of batches) {
    const [view] = [...splitBatches(b)];
    if (view === undefined || view.lastOffset >= endOffset) break;
    kept.push(b);
  }
  return Buffer.concat(kept);
}

export const codeName = (c: ErrorCode): string => errorCodeName(c);
