// busctl's own overhead: `produce` and `consume --format json` through runCli against the
// same work done with raw SDK calls, on one in-process FakeBroker, measured in the same run.
// A ratio near 1 means the CLI (line parsing, JSON formatting, stdout backpressure) costs
// little on top of the SDK. Progress on stderr; a table, then one JSON line, on stdout.
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { FakeBroker, StreamBus } from '@streambus/client';
import { runCli, type Io } from '../src/index.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const VALUE_BYTES = 100;
const PARTITIONS = 4;
const WINDOW_RECORDS = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PRODUCER = { lingerMs: 5, batchBytes: 65_536, acks: 'all' as const };

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function lines(): string[] {
  return Array.from({ length: RECORDS }, (_, i) => `key-${i % 1000}:${String(i).padStart(VALUE_BYTES, 'v')}`);
}

function sinkIo(stdin: string, sink: { bytes: number }): Io {
  return {
    stdout: async (t) => {
      sink.bytes += t.length;
    },
    stderr: () => undefined,
    stdin: Readable.from([stdin]),
    env: {},
    stdoutIsTty: false,
    stderrIsTty: false,
    signal: new AbortController().signal,
  };
}

async function sdkProduce(bus: StreamBus, topic: string, input: string[]): Promise<number> {
  const producer = bus.producer(PRODUCER);
  const started = performance.now();
  for (let i = 0; i < input.length; i += WINDOW_RECORDS) {
    await Promise.all(
      input.slice(i, i + WINDOW_RECORDS).map((line) => {
        const sep = line.indexOf(':');
        return producer.send({ topic, messages: [{ key: line.slice(0, sep), value: line.slice(sep + 1) }] });
      }),
    );
  }
  await producer.close();
  return performance.now() - started;
}

async function sdkConsume(bus: StreamBus, topic: string, records: number): Promise<number> {
  const consumer = bus.consumer({ fetchMode: 'stream' });
  const started = performance.now();
  consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  let n = 0;
  for await (const r of consumer.records()) {
    if (r.value !== null) n++;
    if (n >= records) break;
  }
  await consumer.close();
  return performance.now() - started;
}

async function cliRun(argv: string[], stdin: string): Promise<{ ms: number; bytes: number }> {
  const sink = { bytes: 0 };
  const started = performance.now();
  const code = await runCli(argv, sinkIo(stdin, sink));
  if (code !== 0) throw new Error(`busctl ${argv.join(' ')} exited ${code}`);
  return { ms: performance.now() - started, bytes: sink.bytes };
}

const fake = await FakeBroker.start({ brokerCount: 1, topics: ['sdk', 'cli'].map((name) => ({ name, partitions: PARTITIONS })) });
const brokers = fake.brokers.join(',');
const bus = new StreamBus({ brokers: fake.brokers });
try {
  const input = lines();
  const text = input.join('\n') + '\n';
  log(`busctl bench: ${RECORDS} records of ${VALUE_BYTES} B, ${PARTITIONS} partitions, FakeBroker in process`);
  // Warm-up: JIT and channels, not measured.
  await cliRun(['produce', 'cli', '-K', ':', '--brokers', brokers], input.slice(0, 1000).join('\n'));
  await sdkProduce(bus, 'sdk', input.slice(0, 1000));
  await sdkConsume(bus, 'sdk', 1000);
  await cliRun(['consume', 'sdk', '--format', 'json', '--brokers', brokers, '--max-messages', '1000'], '');
  // Rounds alternate SDK and busctl so drift on a shared machine hits both; the best round counts.
  let sdkProduceMs = Infinity;
  let cliProduceMs = Infinity;
  let sdkConsumeMs = Infinity;
  const cliConsume = { ms: Infinity, bytes: 0 };
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round}/${ROUNDS}: produce (SDK, busctl), consume (SDK, busctl --format json)`);
    sdkProduceMs = Math.min(sdkProduceMs, await sdkProduce(bus, 'sdk', input));
    cliProduceMs = Math.min(cliProduceMs, (await cliRun(['produce', 'cli', '-K', ':', '--brokers', brokers, '--linger-ms', '5', '--batch-bytes', '65536'], text)).ms);
    sdkConsumeMs = Math.min(sdkConsumeMs, await sdkConsume(bus, 'sdk', RECORDS));
    const c = await cliRun(['consume', 'sdk', '--format', 'json', '--brokers', brokers, '--max-messages', String(RECORDS)], '');
    if (c.ms < cliConsume.ms) Object.assign(cliConsume, c);
  }
  const cliProduce = { ms: cliProduceMs };
  const rate = (ms: number): number => Math.round((RECORDS * 1000) / ms);
  const figures = {
    records: RECORDS,
    produceSdkRecordsPerSec: rate(sdkProduceMs),
    produceCliRecordsPerSec: rate(cliProduce.ms),
    consumeSdkRecordsPerSec: rate(sdkConsumeMs),
    consumeCliJsonRecordsPerSec: rate(cliConsume.ms),
    consumeCliJsonMiBPerSec: Math.round((cliConsume.bytes / 1_048_576 / (cliConsume.ms / 1000)) * 100) / 100,
  };
  const ratios = {
    produceCliVsSdk: Math.round((figures.produceCliRecordsPerSec / figures.produceSdkRecordsPerSec) * 100) / 100,
    consumeCliJsonVsSdk: Math.round((figures.consumeCliJsonRecordsPerSec / figures.consumeSdkRecordsPerSec) * 100) / 100,
  };
  process.stdout.write(
    [
      'workload              busctl rec/s   SDK rec/s (baseline)   ratio',
      `produce (-K :)        ${String(figures.produceCliRecordsPerSec).padEnd(14)} ${String(figures.produceSdkRecordsPerSec).padEnd(22)} ${ratios.produceCliVsSdk}`,
      `consume --format json ${String(figures.consumeCliJsonRecordsPerSec).padEnd(14)} ${String(figures.consumeSdkRecordsPerSec).padEnd(22)} ${ratios.consumeCliJsonVsSdk}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(JSON.stringify({ bench: 'busctl', figures, baseline: { produceSdkRecordsPerSec: figures.produceSdkRecordsPerSec, consumeSdkRecordsPerSec: figures.consumeSdkRecordsPerSec }, ratios }) + '\n');
} finally {
  await bus.close();
  await fake.stop();
}
