// `busctl bench produce|consume|e2e`: load generator with HDR-histogram latency percentiles,
// live progress on stderr and a JSON summary on stdout (the last line).
import { performance } from 'node:perf_hooks';
import { type CompressionName, type Producer } from '@streambus/client';
import * as hdr from 'hdr-histogram-js';
import { isAbortLike } from '../abort.js';
import { type CommandContext } from '../context.js';
import { usageError } from '../errors.js';
import { renderFields } from '../format.js';
import { parseAcks } from '../parse.js';

export type BenchMode = 'produce' | 'consume' | 'e2e';

export interface BenchArgs {
  mode: BenchMode;
  topic: string;
  records?: number | undefined;
  durationMs?: number | undefined;
  /** Records per second; 0 = as fast as acknowledgements allow. */
  rate: number;
  recordSize: number;
  batchBytes: number;
  lingerMs: number;
  acks: string;
  compression: CompressionName;
  partitions: number;
  replicationFactor: number;
  inFlightRecordsMax: number;
  progressIntervalMs: number;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface BenchSummary {
  mode: BenchMode;
  topic: string;
  records: number;
  bytes: number;
  errors: number;
  elapsedMs: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Produce: send() to acknowledgement. e2e: send() to consumed. Consume: none. */
  latencyMs: LatencySummary | null;
  /** e2e only: send() to acknowledgement. */
  ackLatencyMs?: LatencySummary | null;
  config: { rate: number; recordSize: number; batchBytes: number; lingerMs: number; acks: string; compression: string };
}

const RECORDS_DEFAULT = 100_000;
const LATENCY_US_MAX = 600_000_000;
const E2E_DRAIN_MS_MAX = 30_000;

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
}

export function latencyOf(h: hdr.Histogram): LatencySummary | null {
  if (h.totalCount === 0) return null;
  // A percentile is the highest value equivalent to its bucket, which may exceed the exact max.
  const ms = (us: number): number => Math.round(Math.min(us, h.maxValue)) / 1000;
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), mean: ms(h.mean) };
}

class Progress {
  private lastAt = 0;
  private lastCount = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: CommandContext,
    private readonly label: string,
    private readonly intervalMs: number,
    private readonly count: () => number,
  ) {}

  start(): void {
    this.lastAt = performance.now();
    // A terminal gets a live line once a second; a pipe or log file a plain line every few seconds.
    const every = this.ctx.io.stderrIsTty ? 1_000 : this.intervalMs;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const n = this.count();
    const rate = ((n - this.lastCount) * 1000) / Math.max(1, now - this.lastAt);
    this.lastAt = now;
    this.lastCount = n;
    const text = `${this.label}: ${n} records, ${Math.round(rate)} records/s`;
    if (this.ctx.io.stderrIsTty) this.ctx.io.stderr(`\r\u001b[2K${text}`);
    else this.ctx.io.stderr(`${text}\n`);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.ctx.io.stderrIsTty) this.ctx.io.stderr('\r\u001b[2K');
  }
}

/** Counts in-flight sends and lets the sender wait for a free slot (bounded memory). */
class Slots {
  private used = 0;
  private waiter: (() => void) | undefined;

  constructor(private readonly max: number) {}

  async acquire(): Promise<void> {
    while (this.used >= this.max) await new Promise<void>((resolve) => (this.waiter = resolve));
    this.used++;
  }

  release(): void {
    this.used--;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async drain(): Promise<void> {
    while (this.used > 0) await new Promise<void>((resolve) => (this.waiter = resolve));
  }
}

async function ensureTopic(ctx: CommandContext, args: BenchArgs): Promise<void> {
  const admin = ctx.bus.admin();
  const names = await admin.listTopics();
  if (names.includes(args.topic)) return;
  if (args.mode === 'consume') throw usageError(`topic ${args.topic} does not exist; run 'busctl bench produce --topic ${args.topic}' first`);
  await admin.createTopics([{ name: args.topic, numPartitions: args.partitions, replicationFactor: args.replicationFactor }]);
}

function validate(args: BenchArgs): void {
  const positive = (v: number | undefined, flag: string): void => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) throw usageError(`${flag} must be a positive integer`);
  };
  positive(args.records, '--records');
  positive(args.durationMs, '--duration-ms');
  positive(args.batchBytes, '--batch-bytes');
  positive(args.partitions, '--partitions');
  positive(args.replicationFactor, '--replication-factor');
  positive(args.inFlightRecordsMax, '--in-flight-records-max');
  if (!(Number.isSafeInteger(args.recordSize) && args.recordSize >= 8 && args.recordSize <= 16 * 1024 * 1024)) throw usageError('--record-size must be 8..16777216 bytes');
  if (!(Number.isFinite(args.rate) && args.rate >= 0)) throw usageError('--rate must be >= 0 (0: unthrottled)');
  if (!(Number.isSafeInteger(args.lingerMs) && args.lingerMs >= 0)) throw usageError('--linger-ms must be >= 0');
}

/**
 * Sends records at `rate` (or as fast as slots free up) until the record count or the
 * duration is reached. Each value starts with its send time (performance.now(), float64)
 * so the e2e consumer can measure produce → consume latency in the same process.
 */
async function runProducer(args: BenchArgs, producer: Producer, ack: hdr.Histogram, stats: { sent: number; acked: number; errors: number; bytes: number }, signal: AbortSignal): Promise<void> {
  const total = args.records ?? (args.durationMs === undefined ? RECORDS_DEFAULT : Number.MAX_SAFE_INTEGER);
  const deadline = args.durationMs === undefined ? Infinity : performance.now() + args.durationMs;
  const slots = new Slots(args.inFlightRecordsMax);
  const payload = Buffer.alloc(args.recordSize, 0x61);
  const started = performance.now();
  for (let i = 0; i < total && !signal.aborted; i++) {
    if (args.rate > 0) {
      const due = started + (i * 1000) / args.rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (performance.now() >= deadline) break;
    await slots.acquire();
    const value = Buffer.from(payload);
    const sentAt = performance.now();
    value.writeDoubleLE(sentAt, 0);
    stats.sent++;
    producer.send({ topic: args.topic, messages: [{ value }] }).then(
      () => {
        stats.acked++;
        stats.bytes += args.recordSize;
        ack.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
        slots.release();
      },
      () => {
        stats.errors++;
        slots.release();
      },
    );
  }
  await slots.drain();
}

function summarize(args: BenchArgs, records: number, bytes: number, errors: number, elapsedMs: number, latency: LatencySummary | null): BenchSummary {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  return {
    mode: args.mode,
    topic: args.topic,
    records,
    bytes,
    errors,
    elapsedMs: Math.round(elapsedMs),
    recordsPerSec: Math.round(records / seconds),
    mbPerSec: Math.round((bytes / seconds / 1_048_576) * 100) / 100,
    latencyMs: latency,
    config: { rate: args.rate, recordSize: args.recordSize, batchBytes: args.batchBytes, lingerMs: args.lingerMs, acks: args.acks, compression: args.compression },
  };
}

async function benchProduce(ctx: CommandContext, args: BenchArgs, signal: AbortSignal): Promise<BenchSummary> {
  const producer = ctx.bus.producer({ acks: parseAcks(args.acks), batchBytes: args.batchBytes, lingerMs: args.lingerMs, compression: args.compression });
  const ack = histogram();
  const stats = { sent: 0, acked: 0, errors: 0, bytes: 0 };
  const progress = new Progress(ctx, 'produce', args.progressIntervalMs, () => stats.acked);
  const started = performance.now();
  progress.start();
  try {
    await runProducer(args, producer, ack, stats, signal);
  } finally {
    progress.stop();
    await producer.close();
  }
  return summarize(args, stats.acked, stats.bytes, stats.errors, performance.now() - started, latencyOf(ack));
}

async function benchConsume(ctx: CommandContext, args: BenchArgs, signal: AbortSignal): Promise<BenchSummary> {
  const admin = ctx.bus.admin();
  const [topic] = await admin.describeTopics([args.topic]);
  const partitions = (topic?.partitions ?? []).map((p) => p.partition);
  const ends = await admin.listOffsets(partitions.map((partition) => ({ topic: args.topic, partition, spec: 'latest' as const })));
  const starts = await admin.listOffsets(partitions.map((partition) => ({ topic: args.topic, partition, spec: 'earliest' as const })));
  const available = ends.reduce((n, e, i) => n + Math.max(0, e.offset - (starts[i]?.offset ?? 0)), 0);
  const target = Math.min(available, args.records ?? Number.MAX_SAFE_INTEGER);
  const consumer = ctx.bus.consumer({ autoOffsetReset: 'earliest', fetchMode: 'stream' });
  let records = 0;
  let bytes = 0;
  const progress = new Progress(ctx, 'consume', args.progressIntervalMs, () => records);
  const deadline = args.durationMs === undefined ? Infinity : performance.now() + args.durationMs;
  const started = performance.now();
  progress.start();
  try {
    if (target > 0) {
      consumer.assign(partitions.map((partition, i) => ({ topic: args.topic, partition, offset: starts[i]?.offset ?? 'earliest' })));
      await consumer.run({
        signal,
        eachBatch: async ({ records: batch }) => {
          for (const r of batch) {
            records++;
            bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
          }
          if (records >= target || performance.now() >= deadline) throw new BenchDone();
        },
      });
    }
  } catch (err) {
    if (!(err instanceof BenchDone) && !(isAbortLike(err) && signal.aborted)) throw err;
  } finally {
    progress.stop();
    await consumer.close();
  }
  return summarize(args, records, bytes, 0, performance.now() - started, null);
}

class BenchDone extends Error {}

async function benchE2e(ctx: CommandContext, args: BenchArgs, signal: AbortSignal): Promise<BenchSummary> {
  const admin = ctx.bus.admin();
  const [topic] = await admin.describeTopics([args.topic]);
  const partitions = (topic?.partitions ?? []).map((p) => p.partition);
  const ends = await admin.listOffsets(partitions.map((partition) => ({ topic: args.topic, partition, spec: 'latest' as const })));
  const consumer = ctx.bus.consumer({ fetchMode: 'stream', fetchMaxWaitMs: 100 });
  consumer.assign(partitions.map((partition, i) => ({ topic: args.topic, partition, offset: ends[i]?.offset ?? 'latest' })));
  const e2e = histogram();
  const ack = histogram();
  const stats = { sent: 0, acked: 0, errors: 0, bytes: 0 };
  let consumed = 0;
  let consumedBytes = 0;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const reading = consumer
    .run({
      signal: stop.signal,
      eachBatch: async ({ records }) => {
        const now = performance.now();
        for (const r of records) {
          if (r.value === null || r.value.length < 8) continue;
          consumed++;
          consumedBytes += r.value.length;
          e2e.recordValue(Math.max(1, Math.round((now - r.value.readDoubleLE(0)) * 1000)));
        }
      },
    })
    .catch((err: unknown) => {
      if (!(isAbortLike(err) && stop.signal.aborted)) throw err;
    });
  const producer = ctx.bus.producer({ acks: parseAcks(args.acks), batchBytes: args.batchBytes, lingerMs: args.lingerMs, compression: args.compression });
  const progress = new Progress(ctx, 'e2e', args.progressIntervalMs, () => consumed);
  const started = performance.now();
  progress.start();
  try {
    await runProducer(args, producer, ack, stats, signal);
    await producer.flush();
    const drainBy = performance.now() + E2E_DRAIN_MS_MAX;
    while (consumed < stats.acked && performance.now() < drainBy && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    progress.stop();
    stop.abort();
    signal.removeEventListener('abort', onAbort);
    await reading;
    await producer.close();
    await consumer.close();
  }
  const summary = summarize(args, consumed, consumedBytes, stats.errors + Math.max(0, stats.acked - consumed), performance.now() - started, latencyOf(e2e));
  return { ...summary, ackLatencyMs: latencyOf(ack) };
}

export async function bench(ctx: CommandContext, args: BenchArgs): Promise<void> {
  validate(args);
  await ensureTopic(ctx, args);
  const signal = ctx.io.signal;
  let summary: BenchSummary;
  switch (args.mode) {
    case 'produce':
      summary = await benchProduce(ctx, args, signal);
      break;
    case 'consume':
      summary = await benchConsume(ctx, args, signal);
      break;
    case 'e2e':
      summary = await benchE2e(ctx, args, signal);
      break;
  }
  if (ctx.format === 'table') {
    const l = summary.latencyMs;
    ctx.progress(
      renderFields([
        ['records', summary.records],
        ['throughput', `${summary.recordsPerSec} records/s, ${summary.mbPerSec} MiB/s`],
        ['latency ms', l === null ? '-' : `p50 ${l.p50}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}`],
        ['errors', summary.errors],
      ]),
    );
  }
  // The summary line is always JSON on stdout, last, so scripts can `tail -1 | jq`.
  await ctx.io.stdout(JSON.stringify(summary) + '\n');
  if (summary.errors > 0) ctx.exitCode = 1;
}
