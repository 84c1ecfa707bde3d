// `busctl consume <topic>`: prints records from a start point up to the high watermark seen
// at start, or, with --follow, until Ctrl-C.
import { type ConsumerRecord } from '@streambus/client';
import { stringify as toYaml } from 'yaml';
import { type CommandContext } from '../context.js';
import { isAbortLike } from '../abort.js';
import { usageError } from '../errors.js';
import { parseStart, toJsonRecord, unescapeSeparator, type StartSpec } from '../parse.js';

export interface ConsumeArgs {
  topic: string;
  from: string;
  partition?: number | undefined;
  follow: boolean;
  maxMessages?: number | undefined;
  binary: boolean;
  printKey: boolean;
  keySeparator: string;
  fetchMode: 'poll' | 'stream';
}

const END_SWEEP_INTERVAL_MS = 500;

interface Range {
  partition: number;
  start: number;
  /** Stop before this offset; undefined with --follow. */
  end: number | undefined;
}

/** Start offsets and (without --follow) end offsets, asked of the partition leaders once. */
async function plan(ctx: CommandContext, args: ConsumeArgs, spec: StartSpec): Promise<Range[]> {
  const admin = ctx.bus.admin();
  const [topic] = await admin.describeTopics([args.topic]);
  const all = (topic?.partitions ?? []).map((p) => p.partition);
  if (args.partition !== undefined && !all.includes(args.partition)) throw usageError(`topic ${args.topic} has no partition ${args.partition} (it has ${all.length})`);
  const partitions = args.partition === undefined ? all : [args.partition];
  const list = (s: 'earliest' | 'latest' | { timestamp: number }) => admin.listOffsets(partitions.map((partition) => ({ topic: args.topic, partition, spec: s })));
  const latest = await list('latest');
  const earliest = spec.kind === 'earliest' || spec.kind === 'offset' ? await list('earliest') : undefined;
  const atTime = spec.kind === 'timestamp' ? await list({ timestamp: spec.timestamp }) : undefined;
  return partitions.map((partition, i) => {
    const hw = latest[i]?.offset ?? 0;
    let start: number;
    switch (spec.kind) {
      case 'earliest':
        start = earliest?.[i]?.offset ?? 0;
        break;
      case 'latest':
        start = hw;
        break;
      case 'offset':
        // Below the log start the records are gone; start at the first one that exists.
        start = Math.max(spec.offset, earliest?.[i]?.offset ?? 0);
        break;
      case 'timestamp': {
        const found = atTime?.[i]?.offset ?? -1;
        start = found < 0 ? hw : found;
        break;
      }
    }
    return { partition, start, end: args.follow ? undefined : hw };
  });
}

function formatRecord(ctx: CommandContext, args: ConsumeArgs, r: ConsumerRecord, separator: string): string {
  switch (ctx.format) {
    case 'json':
      return JSON.stringify(toJsonRecord(r, args.binary)) + '\n';
    case 'yaml':
      return `---\n${toYaml(toJsonRecord(r, args.binary))}`;
    case 'table': {
      const text = (b: Buffer | null): string => (b === null ? '' : args.binary ? b.toString('base64') : b.toString('utf8'));
      return args.printKey ? `${text(r.key)}${separator}${text(r.value)}\n` : `${text(r.value)}\n`;
    }
  }
}

export async function consume(ctx: CommandContext, args: ConsumeArgs): Promise<void> {
  const spec = parseStart(args.from);
  if (args.maxMessages !== undefined && !(Number.isSafeInteger(args.maxMessages) && args.maxMessages >= 1)) throw usageError('--max-messages must be a positive integer');
  const separator = unescapeSeparator(args.keySeparator);
  const ranges = (await plan(ctx, args, spec)).filter((r) => r.end === undefined || r.start < r.end);
  let count = 0;
  if (ranges.length > 0) {
    const consumer = ctx.bus.consumer({ autoOffsetReset: 'earliest', fetchMode: args.fetchMode });
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    ctx.io.signal.addEventListener('abort', onAbort, { once: true });
    const ends = new Map(ranges.map((r) => [r.partition, r.end]));
    let open = ranges.length;
    // Without --follow, a partition whose last offsets hold no record (compacted away, or
    // transaction markers) yields nothing more; its position still reaches the end.
    const sweep = args.follow
      ? undefined
      : setInterval(() => {
          for (const lag of consumer.lags()) {
            const end = ends.get(lag.partition);
            if (end === undefined || end < 0 || lag.position === undefined || lag.position < end) continue;
            ends.set(lag.partition, -1);
            if (--open === 0) stop.abort();
          }
        }, END_SWEEP_INTERVAL_MS);
    try {
      consumer.assign(ranges.map((r) => ({ topic: args.topic, partition: r.partition, offset: r.start })));
      for await (const r of consumer.records({ signal: stop.signal })) {
        const end = ends.get(r.partition);
        if (end !== undefined && (end < 0 || r.offset >= end)) continue;
        await ctx.io.stdout(formatRecord(ctx, args, r, separator));
        count++;
        if (args.maxMessages !== undefined && count >= args.maxMessages) break;
        if (end !== undefined && r.offset + 1 >= end) {
          consumer.pause([{ topic: args.topic, partition: r.partition }]);
          ends.set(r.partition, -1);
          if (--open === 0) break;
        }
        if (ctx.io.signal.aborted) break;
      }
    } catch (err) {
      if (!(isAbortLike(err) && stop.signal.aborted)) throw err;
    } finally {
      if (sweep !== undefined) clearInterval(sweep);
      ctx.io.signal.removeEventListener('abort', onAbort);
      await consumer.close();
    }
  }
  ctx.progress(`consumed ${count} records from ${args.topic}`);
}
