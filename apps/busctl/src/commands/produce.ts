// `busctl produce <topic>`: one record per input line (stdin or --file).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type CompressionName, type ProducerMessage } from '@streambus/client';
import { type CommandContext } from '../context.js';
import { BusctlError, usageError } from '../errors.js';
import { render } from '../format.js';
import { parseAcks, parseLine, parsePairs, unescapeSeparator } from '../parse.js';

export interface ProduceArgs {
  topic: string;
  file?: string | undefined;
  keySeparator?: string | undefined;
  header: readonly string[];
  acks: string;
  compression: CompressionName;
  partition?: number | undefined;
  lingerMs: number;
  batchBytes: number;
  /** Sends in flight before busctl waits for their acknowledgements (bounds memory). */
  inFlightRecordsMax: number;
}

export interface PartitionSummary {
  partition: number;
  count: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProduceSummary {
  topic: string;
  count: number;
  partitions: PartitionSummary[];
  elapsedMs: number;
}

export async function produce(ctx: CommandContext, args: ProduceArgs): Promise<void> {
  const acks = parseAcks(args.acks);
  const headers = parsePairs(args.header, '--header').map(({ key, value }) => ({ key, value }));
  const separator = args.keySeparator === undefined ? undefined : unescapeSeparator(args.keySeparator);
  if (separator === '') throw usageError('--key-separator must not be empty');
  const [topic] = await ctx.bus.admin().describeTopics([args.topic]);
  if (args.partition !== undefined && !(topic?.partitions.some((p) => p.partition === args.partition) ?? false)) {
    throw usageError(`topic ${args.topic} has no partition ${args.partition} (it has ${topic?.partitions.length ?? 0})`);
  }
  const producer = ctx.bus.producer({ acks, compression: args.compression, lingerMs: args.lingerMs, batchBytes: args.batchBytes });
  const started = Date.now();
  const byPartition = new Map<number, PartitionSummary>();
  let count = 0;
  let failure: Error | undefined;
  let window: Promise<void>[] = [];
  const input = args.file === undefined ? ctx.io.stdin : createReadStream(args.file);
  const inputError = new Promise<never>((_, reject) => input.once('error', (err: Error) => reject(new BusctlError('INPUT', `cannot read ${args.file ?? 'stdin'}: ${err.message}`, { cause: err }))));
  inputError.catch(() => undefined);
  const lines = createInterface({ input, crlfDelay: Infinity });
  // Ctrl-C ends the input (an interactive stdin would otherwise wait for the next line); what was read is still delivered.
  const endInput = (): void => lines.close();
  ctx.io.signal.addEventListener('abort', endInput, { once: true });
  let lineNumber = 0;
  try {
    const iterate = async (): Promise<void> => {
      for await (const line of lines) {
        lineNumber++;
        if (line === '') continue;
        if (failure !== undefined || ctx.io.signal.aborted) break;
        const parsed = parseLine(line, separator, lineNumber);
        const message: ProducerMessage = { key: parsed.key, value: parsed.value, headers };
        if (args.partition !== undefined) message.partition = args.partition;
        // The handler is attached at once: a rejected send must never be an unhandled rejection.
        window.push(
          producer.send({ topic: args.topic, messages: [message] }).then(
            ([meta]) => {
              count++;
              if (meta === undefined) return;
              const s = byPartition.get(meta.partition);
              if (s === undefined) byPartition.set(meta.partition, { partition: meta.partition, count: 1, firstOffset: meta.offset, lastOffset: meta.offset });
              else {
                s.count++;
                s.firstOffset = Math.min(s.firstOffset, meta.offset);
                s.lastOffset = Math.max(s.lastOffset, meta.offset);
              }
            },
            (err: unknown) => {
              failure ??= err instanceof Error ? err : new BusctlError('FAILED', String(err));
            },
          ),
        );
        if (window.length >= args.inFlightRecordsMax) {
          await Promise.all(window);
          window = [];
        }
      }
    };
    await Promise.race([iterate(), inputError]);
    await Promise.all(window);
  } finally {
    ctx.io.signal.removeEventListener('abort', endInput);
    lines.close();
    await producer.close();
  }
  if (failure !== undefined) throw failure;
  const summary: ProduceSummary = { topic: args.topic, count, partitions: [...byPartition.values()].sort((a, b) => a.partition - b.partition), elapsedMs: Date.now() - started };
  if (ctx.format === 'table') {
    const ranges = summary.partitions.map((p) => (acks === 0 ? `p${p.partition}: ${p.count}` : `p${p.partition}: ${p.firstOffset}..${p.lastOffset}`)).join(', ');
    ctx.progress(`produced ${count} records to ${args.topic} in ${summary.elapsedMs} ms${ranges === '' ? '' : ` (${ranges})`}`);
  } else {
    await ctx.io.stdout(render(ctx.format, summary, () => ''));
  }
}
