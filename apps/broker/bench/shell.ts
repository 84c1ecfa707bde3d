// Broker shell benchmark: process start to serving, idle memory, metrics cost.
// Every figure comes with a baseline measured in the same run (PERFORMANCE.md):
//  - start-up: a bare Node process that serves one HTTP route (the floor for any broker);
//  - idle RSS: the same bare process;
//  - metrics hot path: incrementing a plain object field;
//  - /metrics render: JSON.stringify of the same number of values.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '@streambus/testkit';
import { MetricsRegistry, createBrokerMetrics } from '../src/metrics.js';
import { BROKER_NODE_FLAGS } from '../src/node-flags.js';
import { median, progress, round } from './util.js';

const START_TIMEOUT_MS = 20_000;

const BASELINE_SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { res.end(process.memoryUsage.rss().toString()); });
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'broker started', http: { port: s.address().port } })));
process.on('SIGTERM', () => s.close(() => process.exit(0)));
`;

interface StartSample {
  readonly startMs: number;
  /** Spawn → /readyz 200; null when not ready within READY_WAIT_MS (no data path wired). */
  readonly readyMs: number | null;
  readonly rssBytes: number;
}

/** How long a start waits for /readyz after /healthz answered. */
const READY_WAIT_MS = 3_000;
let readyzSeen = true;

async function waitForPort(child: ChildProcess, output: { text: string }): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const line = output.text.split('\n').find((l) => l.includes('"msg":"broker started"'));
    if (line !== undefined) return (JSON.parse(line) as { http: { port: number } }).http.port;
    if (child.exitCode !== null) throw new Error(`process exited ${child.exitCode}: ${output.text}`);
    if (Date.now() > deadline) throw new Error('process did not start');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Spawn → first 200 from `path`; then idle RSS after a short settle. */
async function startOnce(appDir: string, args: string[], path: string, rssOf: (port: number) => Promise<number>, waitReady: boolean): Promise<StartSample> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: appDir, stdio: ['ignore', 'pipe', 'inherit'] });
  const output = { text: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output.text += chunk));
  try {
    const port = await waitForPort(child, output);
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (performance.now() - t0 > START_TIMEOUT_MS) throw new Error(`${path} never answered 200`);
    }
    const startMs = performance.now() - t0;
    let readyMs: number | null = null;
    // Once one start never got ready (no data path in this build), later starts skip the wait.
    if (waitReady && readyzSeen) {
      while (readyMs === null && performance.now() - t0 - startMs < READY_WAIT_MS) {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
        if (ready) readyMs = performance.now() - t0;
        else await new Promise((resolve) => setTimeout(resolve, 5));
      }
      readyzSeen = readyMs !== null;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rssBytes = await rssOf(port);
    return { startMs, readyMs, rssBytes };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

async function brokerRss(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^process_resident_memory_bytes (\d+)$/m.exec(text);
  return Number(match?.[1] ?? NaN);
}

async function baselineRss(port: number): Promise<number> {
  return Number(await (await fetch(`http://127.0.0.1:${port}/`)).text());
}

async function measureStarts(
  name: string,
  starts: number,
  appDir: string,
  makeArgs: () => string[] | Promise<string[]>,
  path: string,
  rssOf: (port: number) => Promise<number>,
  waitReady = false,
): Promise<{ startMsP50: number; startMsMin: number; readyMsP50: number | null; rssBytesP50: number }> {
  const samples: StartSample[] = [];
  for (let i = 0; i < starts; i++) {
    samples.push(await startOnce(appDir, await makeArgs(), path, rssOf, waitReady));
    const last = samples.at(-1);
    progress(`  ${name} start ${i + 1}/${starts}: ${last?.startMs.toFixed(1)} ms${last?.readyMs == null ? '' : `, /readyz ${last.readyMs.toFixed(1)} ms`}`);
  }
  return {
    startMsP50: median(samples.map((s) => s.startMs)),
    startMsMin: Math.min(...samples.map((s) => s.startMs)),
    readyMsP50: samples.every((s) => s.readyMs !== null) ? median(samples.map((s) => s.readyMs ?? NaN)) : null,
    rssBytesP50: median(samples.map((s) => s.rssBytes)),
  };
}

function opsPerSecond(fn: (n: number) => void, n: number): number {
  fn(Math.min(n, 100_000)); // warm-up
  const t0 = performance.now();
  fn(n);
  return n / ((performance.now() - t0) / 1000);
}


export type Row = [measure: string, ours: string, baseline: string, ratio: string];

export interface ShellResult {
  readonly baseline: Record<string, number>;
  readonly figures: Record<string, number | null>;
  readonly ratios: Record<string, number | null>;
  readonly rows: Row[];
}

/**
 * Starts, idle RSS and metrics cost. `mainJs` is the bundled broker; `tmp` holds the data
 * dirs; `appDir` is apps/broker (for the tsx source start).
 */
export async function runShellBench(options: { mainJs: string; appDir: string; tmp: string; starts: number }): Promise<ShellResult> {
  const { mainJs, appDir, tmp, starts } = options;
  let run = 0;
  // Every listener on loopback with a free port: other processes on this machine may hold the
  // defaults, and port 0 will not do for the peer port, which the broker advertises to itself
  // (registration goes through it), so it would never turn ready.
  const brokerArgs = async (): Promise<string[]> => [
    ...['--data-dir', join(tmp, `shell-${run++}`), '--log-level', 'info', '--http-host', '127.0.0.1', '--http-port', '0'],
    ...['--client-host', '127.0.0.1', '--client-port', String(await freePort()), '--peer-host', '127.0.0.1', '--peer-port', String(await freePort())],
  ];
  progress('baseline: bare node http server');
  const baseline = await measureStarts('baseline', starts, appDir, () => ['-e', BASELINE_SERVER], '/', baselineRss);
  progress('broker bundle');
  const bundle = await measureStarts('bundle', starts, appDir, async () => [...BROKER_NODE_FLAGS, mainJs, ...(await brokerArgs())], '/healthz', brokerRss, true);
  progress('broker from source (tsx)');
  const source = await measureStarts('source', starts, appDir, async () => [...BROKER_NODE_FLAGS, '--conditions=@streambus/source', '--import', 'tsx', join(appDir, 'src/main.ts'), ...(await brokerArgs())], '/healthz', brokerRss);

  progress('metrics hot path and render');
  const registry = new MetricsRegistry({ labelSetsMax: 10_000 });
  const metrics = createBrokerMetrics(registry, { brokerId: 0, clusterId: 'bench', rack: null, version: 'bench' });
  const child = metrics.bytesIn.bind({ topic: 'orders' });
  const plain = { value: 0 };
  const counterOps = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) child.inc(1024);
  }, 20_000_000);
  const plainOps = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) plain.value += 1024;
  }, 20_000_000);
  const latency = metrics.requestDuration.bind({ api: 'Produce' });
  const histogramOps = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) latency.observe((i % 1000) / 100_000);
  }, 5_000_000);
  // 100 topics' worth of series: per-topic counters and 10 APIs' latency histograms.
  for (let t = 0; t < 100; t++) for (const c of [metrics.bytesIn, metrics.bytesOut, metrics.recordsIn, metrics.recordsOut]) c.inc({ topic: `topic-${t}` }, t);
  for (let a = 0; a < 10; a++) metrics.requestDuration.observe({ api: `Api${a}` }, 0.001 * a);
  const text = registry.render();
  const seriesCount = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const equivalent = Object.fromEntries(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l, i) => [`k${i}`, i]));
  const renderPerSecond = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) registry.render();
  }, 2_000);
  const jsonPerSecond = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) JSON.stringify(equivalent);
  }, 2_000);

  const result = {
    baseline: { bareNodeHttpStartMsP50: round(baseline.startMsP50), bareNodeHttpRssBytesP50: baseline.rssBytesP50, plainIncrementOpsPerSecond: round(plainOps), jsonStringifyPerSecond: round(jsonPerSecond) },
    figures: {
      bundleStartToHealthzMsP50: round(bundle.startMsP50),
      bundleStartToHealthzMsMin: round(bundle.startMsMin),
      bundleStartToReadyzMsP50: bundle.readyMsP50 === null ? null : round(bundle.readyMsP50),
      sourceStartToHealthzMsP50: round(source.startMsP50),
      bundleIdleRssBytesP50: bundle.rssBytesP50,
      counterIncOpsPerSecond: round(counterOps),
      histogramObserveOpsPerSecond: round(histogramOps),
      metricsSeries: seriesCount,
      metricsRenderPerSecond: round(renderPerSecond),
    },
    ratios: {
      bundleStartVsBareNode: round(bundle.startMsP50 / baseline.startMsP50),
      bundleReadyzVsBareNode: bundle.readyMsP50 === null ? null : round(bundle.readyMsP50 / baseline.startMsP50),
      sourceStartVsBareNode: round(source.startMsP50 / baseline.startMsP50),
      bundleRssVsBareNode: round(bundle.rssBytesP50 / baseline.rssBytesP50),
      counterIncVsPlainIncrement: round(counterOps / plainOps),
      histogramObserveVsPlainIncrement: round(histogramOps / plainOps),
      metricsRenderVsJsonStringify: round(renderPerSecond / jsonPerSecond),
    },
  };
  const rows: Row[] = [
    ['start → /healthz p50', `${result.figures.bundleStartToHealthzMsP50} ms (bundle)`, `${result.baseline.bareNodeHttpStartMsP50} ms (bare node http)`, `${result.ratios.bundleStartVsBareNode}x`],
    [
      'start → /readyz p50',
      result.figures.bundleStartToReadyzMsP50 === null ? 'never ready' : `${result.figures.bundleStartToReadyzMsP50} ms (bundle)`,
      `${result.baseline.bareNodeHttpStartMsP50} ms`,
      result.ratios.bundleReadyzVsBareNode === null ? 'n/a' : `${result.ratios.bundleReadyzVsBareNode}x`,
    ],
    ['start → /healthz p50', `${result.figures.sourceStartToHealthzMsP50} ms (tsx source)`, `${result.baseline.bareNodeHttpStartMsP50} ms`, `${result.ratios.sourceStartVsBareNode}x`],
    ['idle RSS p50 (no partitions)', `${(bundle.rssBytesP50 / 2 ** 20).toFixed(1)} MiB`, `${(baseline.rssBytesP50 / 2 ** 20).toFixed(1)} MiB`, `${result.ratios.bundleRssVsBareNode}x`],
    ['counter inc (bound)', `${(counterOps / 1e6).toFixed(1)} M/s`, `${(plainOps / 1e6).toFixed(1)} M/s (plain +=)`, `${result.ratios.counterIncVsPlainIncrement}x`],
    ['histogram observe', `${(histogramOps / 1e6).toFixed(1)} M/s`, `${(plainOps / 1e6).toFixed(1)} M/s (plain +=)`, `${result.ratios.histogramObserveVsPlainIncrement}x`],
    [`/metrics render (${seriesCount} series)`, `${round(renderPerSecond)} /s`, `${round(jsonPerSecond)} /s (JSON.stringify)`, `${result.ratios.metricsRenderVsJsonStringify}x`],
  ];
  return { ...result, rows };
}
