// Broker benchmark (issue 5, performance). Every figure comes with a baseline measured in
// the same run on this machine (PERFORMANCE.md):
//  - data path: a real broker process (bundled) against a grpc-js echo server in its own
//    process, same message sizes, same concurrency: pipelined ProduceStream vs bidi echo,
//    unary multi-partition Produce and Fetch vs unary echo of the same request size, paced
//    produce-ack latency at half the pipelined maximum;
//  - memory: broker RSS with 100 idle partitions vs a bare Node HTTP process;
//  - shell: spawn → /healthz and /readyz, idle RSS, metrics hot path (shell.ts);
//  - repl: 3 brokers, RF=3 acks=all min.insync=2 vs RF=1 acks=1 on the same cluster, acks=all
//    latency at half that rate, follower catch-up after a SIGKILL (replication.ts).
// Progress on stderr; on stdout a table, then ONE JSON line (figures, baselines, ratios and
// pass/fail against the targets). Every process and temp dir is removed on exit.
//
// Env (defaults in brackets): BENCH_ONLY [data,rss,shell,repl] sections to run; BENCH_STARTS [5];
// BENCH_PARTITIONS [16]; BENCH_RECORD_BYTES [1024]; BENCH_BATCH_BYTES [262144];
// BENCH_PHASE_MS [8000] per produce phase; BENCH_PRODUCE_MB [2048] per produce phase;
// BENCH_WINDOW [8] ProduceStream requests in flight; BENCH_CONCURRENCY [4] unary calls in
// flight; BENCH_PARTITIONS_PER_REQUEST [4]; BENCH_ECHO_MS [4000]; BENCH_FETCH_MS [10000];
// BENCH_LATENCY_MS [6000]; BENCH_IDLE_PARTITIONS [100]; BENCH_RSS_SETTLE_MS [3000];
// BENCH_FLUSH_MODE [always]; BENCH_ROUNDS [4] echo/broker alternations per measurement;
// BENCH_BROKER_ARGS extra broker flags; BENCH_BROKER_NODE_ARGS extra node flags of the broker
// (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'). Replication: BENCH_REPL_PARTITIONS [16];
// BENCH_REPL_IN_FLIGHT [8]; BENCH_REPL_PHASE_MS [8000] per mode; BENCH_REPL_LATENCY_MS [6000];
// BENCH_REPL_LIGHT_MB [2] MB/s of the light-load acks=all latency run;
// BENCH_REPL_CATCH_UP_MB [256] produced while the follower is down.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type StreamBusClient } from '@streambus/protocol';
import { tempDir, type TempDir } from '@streambus/testkit';
import { brokerMemory, startBroker, type BrokerMemory, type BrokerProcess } from './broker-process.js';
import { buildWorkload, createTopic, endOffsets, fetchCursor, fetchDone, fetchSlice, latencyHistogram, produceStream, produceUnary, type ProduceResult, type Workload } from './data-path.js';
import { bidiEcho, echoClient, startEchoServer, unaryEcho, type EchoResult } from './echo.js';
import { replicationConfigFromEnv, runReplicationBench, RF3_VS_RF1_MIN, type ReplicationFigures } from './replication.js';
import { runShellBench, type Row, type ShellResult } from './shell.js';
import { KIB, MIB, cpuMsOf, envArgs, envInt, ownCpuMs, progress, round, rssBytesOf, sleep } from './util.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const APP_DIR = dirname(BENCH_DIR);
/** The bundle lives under bench/ (gitignored as dist/) so Node finds node_modules above it. */
const BUNDLE_DIR = join(BENCH_DIR, 'dist');

// The targets.
const PRODUCE_VS_ECHO_MIN = 0.5;
const FETCH_VS_ECHO_MIN = 0.5;
const IDLE_RSS_BYTES_MAX = 150e6;
const READYZ_MS_MAX = 1_000;
/**
 * Resident memory after the data-path load: the default 256 MiB memtable budget plus 512 MiB
 * for Node, gRPC buffers and garbage not yet collected. Guards against buffers pinned past
 * their flush (a memtable once held 2 GB of dropped batches here).
 */
const RSS_AFTER_LOAD_BYTES_MAX = 768 * 1024 * 1024;

function flushModeFromEnv(): 'always' | 'interval' {
  const mode = process.env.BENCH_FLUSH_MODE ?? 'always';
  if (mode !== 'always' && mode !== 'interval') throw new RangeError(`BENCH_FLUSH_MODE must be always or interval, got ${mode}`);
  return mode;
}
const sections = new Set((process.env.BENCH_ONLY ?? 'data,rss,shell,repl').split(',').map((s) => s.trim()));
const config = {
  flushMode: flushModeFromEnv(),
  acks: 1,
  starts: envInt('BENCH_STARTS', 5),
  partitions: envInt('BENCH_PARTITIONS', 16),
  recordBytes: envInt('BENCH_RECORD_BYTES', KIB),
  batchBytesMax: envInt('BENCH_BATCH_BYTES', 256 * KIB, 1024),
  phaseMs: envInt('BENCH_PHASE_MS', 8_000),
  produceBytesMax: envInt('BENCH_PRODUCE_MB', 2_048) * MIB,
  streamWindow: envInt('BENCH_WINDOW', 8),
  concurrency: envInt('BENCH_CONCURRENCY', 4),
  partitionsPerRequest: envInt('BENCH_PARTITIONS_PER_REQUEST', 4),
  echoMs: envInt('BENCH_ECHO_MS', 4_000),
  rounds: envInt('BENCH_ROUNDS', 4),
  fetchMs: envInt('BENCH_FETCH_MS', 10_000),
  latencyMs: envInt('BENCH_LATENCY_MS', 6_000),
  idlePartitions: envInt('BENCH_IDLE_PARTITIONS', 100),
  rssSettleMs: envInt('BENCH_RSS_SETTLE_MS', 3_000),
};
/** Extra broker flags for experiments, e.g. BENCH_BROKER_ARGS='--sstable-target-bytes 1048576'. */
const BROKER_EXTRA_ARGS = envArgs('BENCH_BROKER_ARGS');
/** Warm-up of each connection (JIT, HTTP/2 windows) before anything is timed. */
const WARMUP_MS = 1_000;
/** Bound on paced requests in flight: open loop, but not unbounded when the broker stalls. */
const PACED_WINDOW_MAX = 4_096;

/** Bytes, records and seconds summed over the interleaved slices of one measurement. */
class Tally {
  bytes = 0;
  records = 0;
  seconds = 0;
  /** CPU (all threads) of the server process, and of this process (the client), during the slices. */
  serverCpuMs = 0;
  clientCpuMs = 0;
  add(bytes: number, records: number, seconds: number): void {
    this.bytes += bytes;
    this.records += records;
    this.seconds += seconds;
  }
  /**
   * Runs one slice and charges the CPU both sides used meanwhile. CPU per MB holds up on a
   * loaded machine where MB/s does not: it is what the work costs, not what the scheduler gave.
   */
  async measure<T>(serverPid: number, run: () => Promise<T>): Promise<T> {
    const server0 = cpuMsOf(serverPid);
    const client0 = ownCpuMs();
    const result = await run();
    this.serverCpuMs += cpuMsOf(serverPid) - server0;
    this.clientCpuMs += ownCpuMs() - client0;
    return result;
  }
  get serverCpuMsPerMB(): number {
    return this.serverCpuMs / (this.bytes / 1e6);
  }
  get clientCpuMsPerMB(): number {
    return this.clientCpuMs / (this.bytes / 1e6);
  }
  get mbPerSecond(): number {
    return this.seconds > 0 ? this.bytes / this.seconds / 1e6 : NaN;
  }
  get recordsPerSecond(): number {
    return this.seconds > 0 ? this.records / this.seconds : NaN;
  }
}

interface DataPathFigures {
  readonly workload: Workload;
  readonly echo: { readonly bidi: Tally; readonly unaryRequest: Tally; readonly unaryForFetch: Tally; readonly unaryBatch: Tally };
  readonly stream: Tally;
  readonly unary: Tally;
  readonly fetch: Tally & { complete?: boolean };
  readonly fetchComplete: boolean;
  readonly producedRecords: number;
  readonly latency: { readonly targetMBPerSecond: number; readonly achieved: ProduceResult; readonly p50Ms: number; readonly p99Ms: number; readonly p999Ms: number; readonly maxMs: number; readonly count: number };
  readonly rssAfterLoadBytes: number;
  readonly memoryAfterLoad: BrokerMemory;
  readonly readyMs: number;
}

const addEcho = (tally: Tally, r: EchoResult, payloadBytes: number): void => tally.add(r.messages * payloadBytes, 0, r.seconds);
const addProduce = (tally: Tally, r: ProduceResult): void => tally.add(r.bytes, r.records, r.seconds);

/**
 * The broker and the echo server run side by side; each measurement alternates short slices
 * of echo and broker (config.rounds of each), so load from other processes on this shared
 * machine weighs on both sides of every ratio alike.
 */
async function measureDataPath(tmp: TempDir, workload: Workload): Promise<DataPathFigures> {
  const requestBytes = config.partitionsPerRequest * workload.batchBytes;
  progress(`data path: ${config.partitions} partitions, ${workload.recordsPerBatch} records of ${config.recordBytes} B per ${workload.batchBytes} B batch, acks=1, flush=${config.flushMode}; ${config.rounds} interleaved rounds per measurement`);
  const echoServer = await startEchoServer(BENCH_DIR);
  const echo = echoClient(echoServer.address);
  let broker: BrokerProcess | undefined;
  let client: StreamBusClient | undefined;
  try {
    broker = await startBroker({ mainJs: join(BUNDLE_DIR, 'main.js'), dataDir: join(tmp.path, 'data'), flushMode: config.flushMode, extraArgs: BROKER_EXTRA_ARGS });
    client = createClient(broker.clientAddress);
    const c = client;
    const brokerPid = broker.pid;
    const echoPid = echoServer.process.pid;
    await createTopic(client, workload.topic, workload.partitions);
    const batch = Buffer.alloc(workload.batchBytes, 7);
    const request = Buffer.alloc(requestBytes, 7);
    const echoSliceMs = config.echoMs / config.rounds;
    const phaseSliceMs = config.phaseMs / config.rounds;

    await bidiEcho(echo, batch, WARMUP_MS / 2, Number.MAX_SAFE_INTEGER);
    await unaryEcho(echo, request, config.concurrency, WARMUP_MS / 2, Number.MAX_SAFE_INTEGER);
    let producedRecords = (await produceStream(client, workload, { windowMax: config.streamWindow, durationMs: WARMUP_MS, bytesMax: config.produceBytesMax })).records;

    const echoBidi = new Tally();
    const stream = new Tally();
    for (let r = 0; r < config.rounds; r++) {
      addEcho(echoBidi, await echoBidi.measure(echoPid, () => bidiEcho(echo, batch, echoSliceMs, config.produceBytesMax)), workload.batchBytes);
      const slice = await stream.measure(brokerPid, () => produceStream(c, workload, { windowMax: config.streamWindow, durationMs: phaseSliceMs, bytesMax: config.produceBytesMax }));
      addProduce(stream, slice);
      producedRecords += slice.records;
    }
    progress(`  ProduceStream (window ${config.streamWindow}): ${stream.mbPerSecond.toFixed(0)} MB/s, ${stream.recordsPerSecond.toFixed(0)} records/s; bidi echo ${echoBidi.mbPerSecond.toFixed(0)} MB/s; server CPU ${stream.serverCpuMsPerMB.toFixed(2)} vs ${echoBidi.serverCpuMsPerMB.toFixed(2)} ms/MB`);

    const echoUnary = new Tally();
    const unary = new Tally();
    for (let r = 0; r < config.rounds; r++) {
      addEcho(echoUnary, await echoUnary.measure(echoPid, () => unaryEcho(echo, request, config.concurrency, echoSliceMs, config.produceBytesMax)), requestBytes);
      const slice = await unary.measure(brokerPid, () => produceUnary(c, workload, { concurrency: config.concurrency, partitionsPerRequest: config.partitionsPerRequest, durationMs: phaseSliceMs, bytesMax: config.produceBytesMax }));
      addProduce(unary, slice);
      producedRecords += slice.records;
    }
    progress(`  Produce unary (${config.partitionsPerRequest} partitions/request, ${config.concurrency} in flight): ${unary.mbPerSecond.toFixed(0)} MB/s, ${unary.recordsPerSecond.toFixed(0)} records/s; unary echo ${echoUnary.mbPerSecond.toFixed(0)} MB/s; server CPU ${unary.serverCpuMsPerMB.toFixed(2)} vs ${echoUnary.serverCpuMsPerMB.toFixed(2)} ms/MB`);
    const echoUnaryBatch = new Tally();
    addEcho(echoUnaryBatch, await unaryEcho(echo, batch, config.concurrency, echoSliceMs, config.produceBytesMax), workload.batchBytes);

    const cursor = fetchCursor(workload, await endOffsets(client, workload), config.concurrency);
    const echoFetch = new Tally();
    const fetch = new Tally();
    for (let r = 0; r < config.rounds && !fetchDone(cursor); r++) {
      addEcho(echoFetch, await echoFetch.measure(echoPid, () => unaryEcho(echo, request, config.concurrency, echoSliceMs, config.produceBytesMax)), requestBytes);
      const slice = await fetch.measure(brokerPid, () => fetchSlice(c, workload, cursor, { partitionMaxBytes: workload.batchBytes, durationMs: config.fetchMs / config.rounds }));
      fetch.add(slice.bytes, slice.records, slice.seconds);
    }
    const fetchComplete = fetchDone(cursor);
    progress(`  Fetch from offset 0: ${fetch.mbPerSecond.toFixed(0)} MB/s, ${fetch.recordsPerSecond.toFixed(0)} records/s${fetchComplete ? ' (all data read)' : ' (time bound reached)'}; unary echo ${echoFetch.mbPerSecond.toFixed(0)} MB/s; server CPU ${fetch.serverCpuMsPerMB.toFixed(2)} vs ${echoFetch.serverCpuMsPerMB.toFixed(2)} ms/MB`);
    if (fetchComplete && fetch.records !== producedRecords) throw new Error(`fetch read ${fetch.records} records, ${producedRecords} were acknowledged`);

    const targetMBPerSecond = stream.mbPerSecond / 2;
    const intervalMs = (workload.batchBytes / (targetMBPerSecond * 1e6)) * 1000;
    const histogram = latencyHistogram();
    const achieved = await produceStream(client, workload, { windowMax: PACED_WINDOW_MAX, durationMs: config.latencyMs, bytesMax: Number.MAX_SAFE_INTEGER, intervalMs, histogram });
    const latency = {
      targetMBPerSecond,
      achieved,
      p50Ms: histogram.getValueAtPercentile(50) / 1000,
      p99Ms: histogram.getValueAtPercentile(99) / 1000,
      p999Ms: histogram.getValueAtPercentile(99.9) / 1000,
      maxMs: histogram.maxValue / 1000,
      count: histogram.totalCount,
    };
    histogram.destroy();
    progress(`  paced at ${targetMBPerSecond.toFixed(0)} MB/s (achieved ${achieved.mbPerSecond.toFixed(0)}): p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms, p99.9 ${latency.p999Ms.toFixed(2)} ms`);
    const rssAfterLoadBytes = rssBytesOf(broker.pid);
    const memoryAfterLoad = await brokerMemory(broker.httpPort);
    return {
      workload,
      echo: { bidi: echoBidi, unaryRequest: echoUnary, unaryForFetch: echoFetch, unaryBatch: echoUnaryBatch },
      stream,
      unary,
      fetch,
      fetchComplete,
      producedRecords,
      latency,
      rssAfterLoadBytes,
      memoryAfterLoad,
      readyMs: broker.readyMs,
    };
  } finally {
    client?.close();
    echo.close();
    await broker?.stop();
    await echoServer.process.stop(5_000);
    // Gigabytes no later section reads. Left in place until the run ended, their page cache
    // stayed resident under the replication section, and on this VM that made its brokers'
    // buffered writes dear (RF=3 system CPU 11–18 instead of ~6 ms/MB, its ratio 0.36–0.43
    // instead of 0.43–0.49; the kernel-side mechanism is not pinned down, see README.md).
    rmSync(join(tmp.path, 'data'), { recursive: true, force: true });
  }
}

interface IdleRss {
  readonly noPartitionsBytes: number;
  readonly idleBytes: number;
  readonly metricBytes: number;
}

async function measureIdleRss(tmp: TempDir): Promise<IdleRss> {
  progress(`idle RSS: ${config.idlePartitions} partitions, ${config.rssSettleMs} ms settle`);
  const broker: BrokerProcess = await startBroker({ mainJs: join(BUNDLE_DIR, 'main.js'), dataDir: join(tmp.path, 'idle'), flushMode: config.flushMode, extraArgs: BROKER_EXTRA_ARGS });
  const client = createClient(broker.clientAddress);
  try {
    await sleep(config.rssSettleMs / 3);
    const noPartitionsBytes = rssBytesOf(broker.pid);
    await createTopic(client, 'idle', config.idlePartitions);
    await sleep(config.rssSettleMs);
    const idleBytes = rssBytesOf(broker.pid);
    const metricBytes = (await brokerMemory(broker.httpPort)).rssBytes;
    progress(`  VmRSS ${(noPartitionsBytes / MIB).toFixed(1)} MiB empty, ${(idleBytes / MIB).toFixed(1)} MiB with ${config.idlePartitions} partitions`);
    return { noPartitionsBytes, idleBytes, metricBytes };
  } finally {
    client.close();
    await broker.stop();
  }
}

interface Target {
  readonly value: number | null;
  readonly limit: number;
  readonly kind: 'min' | 'max';
  readonly pass: boolean | null;
}

function target(value: number | null | undefined, limit: number, kind: 'min' | 'max'): Target {
  const v = value ?? null;
  return { value: v, limit, kind, pass: v === null ? null : kind === 'min' ? v >= limit : v <= limit };
}

const mb = (v: number): string => `${v.toFixed(0)} MB/s`;
const mib = (v: number): string => `${(v / MIB).toFixed(1)} MiB`;
const ratio = (a: number, b: number): number => round(a / b);

async function main(): Promise<void> {
  progress(`building the broker bundle into ${BUNDLE_DIR}`);
  const build = spawnSync(process.execPath, [join(APP_DIR, 'build.mjs'), BUNDLE_DIR], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  const tmp = await tempDir('streambus-broker-bench-');
  try {
    let data: DataPathFigures | undefined;
    if (sections.has('data')) {
      // Encoded once and reused: the broker copies what it receives, so one batch per partition serves every request.
      const workload = await buildWorkload('bench', config.partitions, config.recordBytes, config.batchBytesMax);
      data = await measureDataPath(tmp, workload);
    }
    const idle = sections.has('rss') ? await measureIdleRss(tmp) : undefined;
    const shell: ShellResult | undefined = sections.has('shell') ? await runShellBench({ mainJs: join(BUNDLE_DIR, 'main.js'), appDir: APP_DIR, tmp: tmp.path, starts: config.starts }) : undefined;
    const replication = sections.has('repl') ? await runReplicationBench(join(BUNDLE_DIR, 'main.js'), join(tmp.path, 'repl'), replicationConfigFromEnv(config.flushMode)) : undefined;
    report(data, idle, shell, replication);
  } finally {
    await tmp.cleanup();
    rmSync(BUNDLE_DIR, { recursive: true, force: true });
  }
}

function report(data: DataPathFigures | undefined, idle: IdleRss | undefined, shell: ShellResult | undefined, replication: ReplicationFigures | undefined): void {
  const rows: Row[] = [];
  const baseline: Record<string, number> = { ...shell?.baseline };
  const figures: Record<string, number | boolean | null> = { ...shell?.figures };
  const ratios: Record<string, number | null> = { ...shell?.ratios };
  if (data !== undefined) {
    const { stream, unary, fetch, latency, echo } = data;
    Object.assign(baseline, {
      bidiEchoBatchMBPerSecond: round(echo.bidi.mbPerSecond),
      unaryEchoBatchMBPerSecond: round(echo.unaryBatch.mbPerSecond),
      unaryEchoRequestMBPerSecond: round(echo.unaryRequest.mbPerSecond),
      unaryEchoRequestDuringFetchMBPerSecond: round(echo.unaryForFetch.mbPerSecond),
      echoServerCpuMsPerMBBidi: round(echo.bidi.serverCpuMsPerMB),
      echoServerCpuMsPerMBUnary: round(echo.unaryRequest.serverCpuMsPerMB),
      echoServerCpuMsPerMBUnaryDuringFetch: round(echo.unaryForFetch.serverCpuMsPerMB),
      echoClientCpuMsPerMBBidi: round(echo.bidi.clientCpuMsPerMB),
      echoClientCpuMsPerMBUnary: round(echo.unaryRequest.clientCpuMsPerMB),
    });
    Object.assign(figures, {
      recordsPerBatch: data.workload.recordsPerBatch,
      batchBytes: data.workload.batchBytes,
      produceStreamMBPerSecond: round(stream.mbPerSecond),
      produceStreamRecordsPerSecond: Math.round(stream.recordsPerSecond),
      produceUnaryMBPerSecond: round(unary.mbPerSecond),
      produceUnaryRecordsPerSecond: Math.round(unary.recordsPerSecond),
      fetchMBPerSecond: round(fetch.mbPerSecond),
      fetchRecordsPerSecond: Math.round(fetch.recordsPerSecond),
      fetchBytes: fetch.bytes,
      fetchComplete: data.fetchComplete,
      producedRecords: data.producedRecords,
      latencyTargetMBPerSecond: round(latency.targetMBPerSecond),
      latencyAchievedMBPerSecond: round(latency.achieved.mbPerSecond),
      produceAckP50Ms: round(latency.p50Ms),
      produceAckP99Ms: round(latency.p99Ms),
      produceAckP999Ms: round(latency.p999Ms),
      produceAckMaxMs: round(latency.maxMs),
      produceAckSamples: latency.count,
      rssAfterLoadBytes: data.rssAfterLoadBytes,
      heapUsedAfterLoadBytes: data.memoryAfterLoad.heapUsedBytes,
      externalAfterLoadBytes: data.memoryAfterLoad.externalBytes,
      brokerCpuMsPerMBProduceStream: round(stream.serverCpuMsPerMB),
      brokerCpuMsPerMBProduceUnary: round(unary.serverCpuMsPerMB),
      brokerCpuMsPerMBFetch: round(fetch.serverCpuMsPerMB),
      clientCpuMsPerMBProduceStream: round(stream.clientCpuMsPerMB),
      clientCpuMsPerMBProduceUnary: round(unary.clientCpuMsPerMB),
      clientCpuMsPerMBFetch: round(fetch.clientCpuMsPerMB),
      dataBrokerStartToReadyzMs: round(data.readyMs),
    });
    Object.assign(ratios, {
      produceStreamVsBidiEcho: ratio(stream.mbPerSecond, echo.bidi.mbPerSecond),
      produceUnaryVsUnaryEcho: ratio(unary.mbPerSecond, echo.unaryRequest.mbPerSecond),
      fetchVsUnaryEcho: ratio(fetch.mbPerSecond, echo.unaryForFetch.mbPerSecond),
      fetchVsBidiEcho: ratio(fetch.mbPerSecond, echo.bidi.mbPerSecond),
      // CPU efficiency: echo server CPU per MB / broker CPU per MB (1 = as cheap as the echo).
      produceStreamCpuVsBidiEcho: ratio(echo.bidi.serverCpuMsPerMB, stream.serverCpuMsPerMB),
      produceUnaryCpuVsUnaryEcho: ratio(echo.unaryRequest.serverCpuMsPerMB, unary.serverCpuMsPerMB),
      fetchCpuVsUnaryEcho: ratio(echo.unaryForFetch.serverCpuMsPerMB, fetch.serverCpuMsPerMB),
    });
    const perRequest = `${config.partitionsPerRequest}x${data.workload.batchBytes} B`;
    rows.push(
      [`ProduceStream ${data.workload.batchBytes} B, window ${config.streamWindow}`, `${mb(stream.mbPerSecond)}, ${Math.round(stream.recordsPerSecond)} rec/s`, `${mb(echo.bidi.mbPerSecond)} (bidi echo)`, `${ratios.produceStreamVsBidiEcho}x`],
      [`Produce unary ${perRequest}, ${config.concurrency} in flight`, `${mb(unary.mbPerSecond)}, ${Math.round(unary.recordsPerSecond)} rec/s`, `${mb(echo.unaryRequest.mbPerSecond)} (unary echo ${requestBytesOf(data)} B)`, `${ratios.produceUnaryVsUnaryEcho}x`],
      [`Fetch ${perRequest}, ${config.concurrency} in flight`, `${mb(fetch.mbPerSecond)}, ${Math.round(fetch.recordsPerSecond)} rec/s`, `${mb(echo.unaryForFetch.mbPerSecond)} (unary echo ${requestBytesOf(data)} B)`, `${ratios.fetchVsUnaryEcho}x`],
      [`unary echo ${data.workload.batchBytes} B x${config.concurrency} (reference)`, '', mb(echo.unaryBatch.mbPerSecond), ''],
      [`produce ack latency at ${mb(latency.targetMBPerSecond)}`, `p50 ${latency.p50Ms.toFixed(2)} / p99 ${latency.p99Ms.toFixed(2)} / p99.9 ${latency.p999Ms.toFixed(2)} ms`, `achieved ${mb(latency.achieved.mbPerSecond)}`, ''],
      ['broker CPU per MB: ProduceStream', `${stream.serverCpuMsPerMB.toFixed(2)} ms/MB`, `${echo.bidi.serverCpuMsPerMB.toFixed(2)} ms/MB (bidi echo server)`, `${ratios.produceStreamCpuVsBidiEcho}x`],
      ['broker CPU per MB: Produce unary', `${unary.serverCpuMsPerMB.toFixed(2)} ms/MB`, `${echo.unaryRequest.serverCpuMsPerMB.toFixed(2)} ms/MB (unary echo server)`, `${ratios.produceUnaryCpuVsUnaryEcho}x`],
      ['broker CPU per MB: Fetch', `${fetch.serverCpuMsPerMB.toFixed(2)} ms/MB`, `${echo.unaryForFetch.serverCpuMsPerMB.toFixed(2)} ms/MB (unary echo server)`, `${ratios.fetchCpuVsUnaryEcho}x`],
      ['broker memory after the load', `RSS ${mib(data.rssAfterLoadBytes)}, heap ${mib(data.memoryAfterLoad.heapUsedBytes)}, external ${mib(data.memoryAfterLoad.externalBytes)}`, '', ''],
    );
  }
  if (idle !== undefined) {
    Object.assign(figures, { idlePartitions: config.idlePartitions, idleRssBytes: idle.idleBytes, idleRssMetricBytes: idle.metricBytes, emptyBrokerRssBytes: idle.noPartitionsBytes, rssBytesPerIdlePartition: Math.round((idle.idleBytes - idle.noPartitionsBytes) / config.idlePartitions) });
    if (shell !== undefined) ratios.idleRssVsBareNode = ratio(idle.idleBytes, shell.baseline.bareNodeHttpRssBytesP50 ?? NaN);
    rows.push([`RSS, ${config.idlePartitions} idle partitions`, mib(idle.idleBytes), shell === undefined ? '' : `${mib(shell.baseline.bareNodeHttpRssBytesP50 ?? NaN)} (bare node http)`, ratios.idleRssVsBareNode === undefined ? '' : `${ratios.idleRssVsBareNode}x`]);
  }
  if (shell !== undefined) rows.push(...shell.rows);
  if (replication !== undefined) rows.push(...replication.rows);

  const targets = {
    produceStreamVsBidiEcho: target(ratios.produceStreamVsBidiEcho, PRODUCE_VS_ECHO_MIN, 'min'),
    produceUnaryVsUnaryEcho: target(ratios.produceUnaryVsUnaryEcho, PRODUCE_VS_ECHO_MIN, 'min'),
    fetchVsUnaryEcho: target(ratios.fetchVsUnaryEcho, FETCH_VS_ECHO_MIN, 'min'),
    idleRssBytes: target(idle?.idleBytes, IDLE_RSS_BYTES_MAX, 'max'),
    rssAfterLoadBytes: target(data?.rssAfterLoadBytes, RSS_AFTER_LOAD_BYTES_MAX, 'max'),
    startToReadyzMs: target(shell?.figures.bundleStartToReadyzMsP50, READYZ_MS_MAX, 'max'),
    rf3AcksAllVsRf1Acks1: target(replication?.rf3VsRf1, RF3_VS_RF1_MIN, 'min'),
  };
  const checked = Object.values(targets).filter((t) => t.pass !== null);
  const pass = checked.length > 0 && checked.every((t) => t.pass === true);

  process.stdout.write('| measure | ours | baseline (same run) | ratio |\n|---|---|---|---|\n');
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
  process.stdout.write('\n| target | value | limit | pass |\n|---|---|---|---|\n');
  for (const [name, t] of Object.entries(targets)) process.stdout.write(`| ${name} | ${t.value ?? 'not run'} | ${t.kind === 'min' ? '≥' : '≤'} ${t.limit} | ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'} |\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'broker', config, baseline, figures, ratios, replication: replication === undefined ? null : { baseline: replication.baseline, figures: replication.figures, ratios: replication.ratios }, targets, pass })}\n`);
}

function requestBytesOf(data: DataPathFigures): number {
  return config.partitionsPerRequest * data.workload.batchBytes;
}

// A Ctrl-C must still run the exit hooks that stop child processes and remove temp dirs.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
