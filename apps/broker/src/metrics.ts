import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and
 * histograms with labels, plus collectors run at scrape time. Written here instead of
 * pulling prom-client because it is ~300 lines, loads in no measurable time, has no
 * dependencies, and bounds label cardinality per metric (a topic-name explosion must not
 * grow broker memory without limit).
 */

export type LabelValues<L extends string> = Readonly<Record<L, string>>;

export interface MetricOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds in base units, strictly increasing; +Inf is implicit. */
  readonly buckets: readonly number[];
}

type MetricType = 'counter' | 'gauge' | 'histogram';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<L extends string, S> {
  abstract readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  // `prefixes` are the rendered `name{labels} ` of each line, built once per label set.
  protected readonly series = new Map<string, { labels: readonly string[]; state: S; prefixes: readonly string[] }>();

  constructor(
    options: MetricOptions<L>,
    private readonly bounds: LabelBounds,
  ) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`metric name ${JSON.stringify(options.name)} is not a valid Prometheus name`);
    for (const label of options.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') throw new Error(`label name ${JSON.stringify(label)} of ${options.name} is not allowed`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
  }

  protected abstract initialState(): S;

  protected linePrefixes(values: readonly string[]): string[] {
    return [`${this.name}${this.labelText(values)} `];
  }

  /** The state of one label set, or undefined when the cardinality bound is reached. */
  protected stateFor(labels: LabelValues<L> | undefined): S | undefined {
    const values = this.labelNames.map((name) => {
      const value = labels?.[name];
      if (typeof value !== 'string') throw new Error(`metric ${this.name} needs label ${name}`);
      return value;
    });
    const key = values.join('\u0000');
    const existing = this.series.get(key);
    if (existing !== undefined) return existing.state;
    if (this.series.size >= this.bounds.labelSetsMax) {
      this.bounds.onDropped(this.name);
      return undefined;
    }
    const state = this.initialState();
    this.series.set(key, { labels: values, state, prefixes: this.linePrefixes(values) });
    return state;
  }

  /** Forget every label set (e.g. a deleted topic's series). */
  reset(): void {
    this.series.clear();
  }

  abstract render(out: string[]): void;

  protected header(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
  }

  protected labelText(values: readonly string[], extra?: string): string {
    const parts = values.map((value, i) => `${this.labelNames[i] ?? ''}="${escapeLabelValue(value)}"`);
    if (extra !== undefined) parts.push(extra);
    return parts.length === 0 ? '' : `{${parts.join(',')}}`;
  }
}

interface LabelBounds {
  readonly labelSetsMax: number;
  onDropped(metric: string): void;
}

interface ValueState {
  value: number;
}

/** A handle bound to one label set; hot paths keep it instead of passing labels each time. */
export interface CounterChild {
  inc(value?: number): void;
}

export class Counter<L extends string = never> extends Metric<L, ValueState> {
  readonly type = 'counter';

  protected initialState(): ValueState {
    return { value: 0 };
  }

  inc(...args: [L] extends [never] ? [value?: number] : [labels: LabelValues<L>, value?: number]): void {
    const [labels, value] = splitArgs<L>(args);
    this.bind(labels).inc(value);
  }

  bind(labels?: LabelValues<L>): CounterChild {
    const state = this.stateFor(labels);
    return {
      inc: (value = 1) => {
        // Counters only go up; a negative increment is a caller bug, not data.
        if (!(value >= 0)) throw new Error(`counter ${this.name} cannot be increased by ${value}`);
        if (state !== undefined) state.value += value;
      },
    };
  }

  render(out: string[]): void {
    this.header(out);
    for (const { state, prefixes } of this.series.values()) out.push(`${prefixes[0] ?? ''}${formatNumber(state.value)}`);
  }
}

export interface GaugeChild {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
}

export class Gauge<L extends string = never> extends Metric<L, ValueState> {
  readonly type = 'gauge';

  protected initialState(): ValueState {
    return { value: 0 };
  }

  set(...args: [L] extends [never] ? [value: number] : [labels: LabelValues<L>, value: number]): void {
    const [labels, value] = splitArgs<L>(args);
    this.bind(labels).set(value ?? 0);
  }

  bind(labels?: LabelValues<L>): GaugeChild {
    const state = this.stateFor(labels);
    return {
      set: (value) => {
        if (state !== undefined) state.value = value;
      },
      inc: (value = 1) => {
        if (state !== undefined) state.value += value;
      },
      dec: (value = 1) => {
        if (state !== undefined) state.value -= value;
      },
    };
  }

  render(out: string[]): void {
    this.header(out);
    for (const { state, prefixes } of this.series.values()) out.push(`${prefixes[0] ?? ''}${formatNumber(state.value)}`);
  }
}

interface HistogramState {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export interface HistogramChild {
  observe(value: number): void;
}

export class Histogram<L extends string = never> extends Metric<L, HistogramState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions<L>, bounds: LabelBounds) {
    super(options, bounds);
    if (options.buckets.length === 0) throw new Error(`histogram ${options.name} needs at least one bucket`);
    for (let i = 1; i < options.buckets.length; i++) {
      if (!((options.buckets[i] ?? NaN) > (options.buckets[i - 1] ?? NaN))) throw new Error(`histogram ${options.name} buckets must be strictly increasing`);
    }
    this.buckets = [...options.buckets];
  }

  protected override linePrefixes(values: readonly string[]): string[] {
    const buckets = this.buckets.map((le) => `${this.name}_bucket${this.labelText(values, `le="${formatNumber(le)}"`)} `);
    return [...buckets, `${this.name}_bucket${this.labelText(values, 'le="+Inf"')} `, `${this.name}_sum${this.labelText(values)} `, `${this.name}_count${this.labelText(values)} `];
  }

  protected initialState(): HistogramState {
    return { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
  }

  observe(...args: [L] extends [never] ? [value: number] : [labels: LabelValues<L>, value: number]): void {
    const [labels, value] = splitArgs<L>(args);
    this.bind(labels).observe(value ?? NaN);
  }

  bind(labels?: LabelValues<L>): HistogramChild {
    const state = this.stateFor(labels);
    return {
      observe: (value) => {
        if (state === undefined || Number.isNaN(value)) return;
        // Non-cumulative counts here; render() accumulates, so observe stays O(log n).
        const index = upperBoundIndex(this.buckets, value);
        if (index < this.buckets.length) state.counts[index] = (state.counts[index] ?? 0) + 1;
        state.sum += value;
        state.count += 1;
      },
    };
  }

  render(out: string[]): void {
    this.header(out);
    for (const { state, prefixes } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += state.counts[i] ?? 0;
        out.push(`${prefixes[i] ?? ''}${formatNumber(cumulative)}`);
      }
      const n = this.buckets.length;
      out.push(`${prefixes[n] ?? ''}${formatNumber(state.count)}`, `${prefixes[n + 1] ?? ''}${formatNumber(state.sum)}`, `${prefixes[n + 2] ?? ''}${formatNumber(state.count)}`);
    }
  }
}

function upperBoundIndex(buckets: readonly number[], value: number): number {
  let lo = 0;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((buckets[mid] ?? Infinity) >= value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function splitArgs<L extends string>(args: readonly unknown[]): [LabelValues<L> | undefined, number | undefined] {
  if (typeof args[0] === 'object' && args[0] !== null) return [args[0] as LabelValues<L>, args[1] as number | undefined];
  return [undefined, args[0] as number | undefined];
}

export interface RegistryOptions {
  /** Distinct label sets kept per metric; later ones are dropped and counted. */
  readonly labelSetsMax: number;
}

/** Owns every metric of the process; other modules register theirs here. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<string, unknown>>();
  private readonly collectors: (() => void)[] = [];
  private readonly bounds: LabelBounds;
  private readonly dropped: Counter<'metric'>;

  constructor(options: RegistryOptions) {
    if (!(options.labelSetsMax >= 1)) throw new Error('labelSetsMax must be at least 1');
    const holder: { dropped?: Counter<'metric'> } = {};
    this.bounds = {
      labelSetsMax: options.labelSetsMax,
      onDropped: (metric) => {
        // The dropped counter has its own bound; its overflow is simply not counted.
        if (metric !== holder.dropped?.name) holder.dropped?.inc({ metric });
      },
    };
    const droppedCounter = this.counter<'metric'>({
      name: 'streambus_metric_label_sets_dropped_total',
      help: 'Observations dropped because a metric reached its label set bound (--metric-label-sets-max).',
      labelNames: ['metric'],
    });
    holder.dropped = droppedCounter;
    this.dropped = droppedCounter;
  }

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.add(new Counter<L>(options, this.bounds));
  }

  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.add(new Gauge<L>(options, this.bounds));
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.add(new Histogram<L>(options, this.bounds));
  }

  /** Runs before every scrape; use it to copy values owned elsewhere into gauges. */
  addCollector(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The whole registry in Prometheus text format 0.0.4. */
  render(): string {
    for (const collect of this.collectors) collect();
    const out: string[] = [];
    for (const metric of this.metrics.values()) metric.render(out);
    return out.join('\n') + '\n';
  }

  get droppedLabelSets(): Counter<'metric'> {
    return this.dropped;
  }

  private add<M extends Metric<string, unknown>>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Request latency buckets in seconds: 0.5 ms to 10 s, covering long-poll fetches. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The broker's own metrics (DESIGN.md §8). Handles are filled in by the data path. */
export interface BrokerMetrics {
  readonly requestDuration: Histogram<'api'>;
  readonly requestErrors: Counter<'api' | 'code'>;
  readonly bytesIn: Counter<'topic'>;
  readonly bytesOut: Counter<'topic'>;
  readonly recordsIn: Counter<'topic'>;
  readonly recordsOut: Counter<'topic'>;
  readonly partitions: Gauge<'role'>;
  readonly underReplicatedPartitions: Gauge;
  readonly offlinePartitions: Gauge;
  readonly underMinIsrPartitions: Gauge;
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  readonly raftTerm: Gauge;
  readonly raftCommitIndex: Gauge;
  readonly raftAppliedIndex: Gauge;
  readonly raftLeaderId: Gauge;
  readonly walSyncDuration: Histogram;
  readonly memtableBytes: Gauge;
  readonly sstables: Gauge;
  readonly storageFlushes: Counter;
  readonly storageCompactions: Counter;
  readonly storageBytesWritten: Counter<'kind'>;
  readonly ready: Gauge;
}

export interface BrokerIdentity {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly rack: string | null;
  readonly version: string;
}

export function createBrokerMetrics(registry: MetricsRegistry, identity: BrokerIdentity): BrokerMetrics {
  registry
    .gauge<'broker_id' | 'cluster_id' | 'rack' | 'version'>({
      name: 'streambus_broker_info',
      help: 'Constant 1, labelled with the broker identity.',
      labelNames: ['broker_id', 'cluster_id', 'rack', 'version'],
    })
    .set({ broker_id: String(identity.brokerId), cluster_id: identity.clusterId, rack: identity.rack ?? '', version: identity.version }, 1);
  const metrics: BrokerMetrics = {
    requestDuration: registry.histogram({ name: 'streambus_request_duration_seconds', help: 'Time from request received to response sent, by API.', labelNames: ['api'], buckets: LATENCY_BUCKETS_SECONDS }),
    requestErrors: registry.counter({ name: 'streambus_request_errors_total', help: 'Requests answered with an error, by API and error code.', labelNames: ['api', 'code'] }),
    bytesIn: registry.counter({ name: 'streambus_bytes_in_total', help: 'Record batch bytes appended by producers, by topic.', labelNames: ['topic'] }),
    bytesOut: registry.counter({ name: 'streambus_bytes_out_total', help: 'Record batch bytes sent to consumers, by topic.', labelNames: ['topic'] }),
    recordsIn: registry.counter({ name: 'streambus_records_in_total', help: 'Records appended by producers, by topic.', labelNames: ['topic'] }),
    recordsOut: registry.counter({ name: 'streambus_records_out_total', help: 'Records sent to consumers, by topic.', labelNames: ['topic'] }),
    partitions: registry.gauge({ name: 'streambus_partitions', help: 'Partition replicas hosted by this broker, by role (leader, follower).', labelNames: ['role'] }),
    underReplicatedPartitions: registry.gauge({ name: 'streambus_under_replicated_partitions', help: 'Partitions led here whose ISR is smaller than the replica set.' }),
    offlinePartitions: registry.gauge({ name: 'streambus_offline_partitions', help: 'Partitions hosted here that have no live leader.' }),
    underMinIsrPartitions: registry.gauge({ name: 'streambus_under_min_isr_partitions', help: 'Partitions led here whose ISR is smaller than min.insync.replicas (acks=all writes are refused).' }),
    isrShrinks: registry.counter({ name: 'streambus_isr_shrinks_total', help: 'ISR shrinks proposed by this broker as leader.' }),
    isrExpands: registry.counter({ name: 'streambus_isr_expands_total', help: 'ISR expands proposed by this broker as leader.' }),
    raftTerm: registry.gauge({ name: 'streambus_raft_term', help: 'Current Raft term of the metadata log.' }),
    raftCommitIndex: registry.gauge({ name: 'streambus_raft_commit_index', help: 'Highest metadata log index known committed.' }),
    raftAppliedIndex: registry.gauge({ name: 'streambus_raft_applied_index', help: 'Highest metadata log index applied to the local metadata state.' }),
    raftLeaderId: registry.gauge({ name: 'streambus_raft_leader_id', help: 'Broker id of the metadata Raft leader; -1 when unknown.' }),
    walSyncDuration: registry.histogram({ name: 'streambus_storage_wal_sync_duration_seconds', help: 'Duration of each fdatasync of the write-ahead log (one per group commit under flush=always).', buckets: LATENCY_BUCKETS_SECONDS }),
    memtableBytes: registry.gauge({ name: 'streambus_storage_memtable_bytes', help: 'Bytes held in memtables, all partitions together (bounded by the memtable budget).' }),
    sstables: registry.gauge({ name: 'streambus_storage_sstables', help: 'SSTable files holding partition data.' }),
    storageFlushes: registry.counter({ name: 'streambus_storage_flushes_total', help: 'Memtable flushes to SSTables.' }),
    storageCompactions: registry.counter({ name: 'streambus_storage_compactions_total', help: 'SSTable merges and key compactions.' }),
    storageBytesWritten: registry.counter({ name: 'streambus_storage_bytes_written_total', help: 'Bytes the storage engine wrote, by kind: wal, flush (memtables to SSTables), compaction (SSTables rewritten).', labelNames: ['kind'] }),
    ready: registry.gauge({ name: 'streambus_broker_ready', help: '1 when /readyz answers 200, else 0.' }),
  };
  for (const role of ['leader', 'follower']) metrics.partitions.set({ role }, 0);
  metrics.underReplicatedPartitions.set(0);
  metrics.offlinePartitions.set(0);
  metrics.isrShrinks.inc(0);
  metrics.isrExpands.inc(0);
  metrics.raftTerm.set(0);
  metrics.raftCommitIndex.set(0);
  metrics.raftAppliedIndex.set(0);
  metrics.raftLeaderId.set(-1);
  metrics.ready.set(0);
  return metrics;
}

/** Resolution of the event-loop delay sampler; perf_hooks' default. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * Process and Node.js runtime metrics, named as prom-client names them so existing
 * dashboards work. The event-loop lag histogram is reset at each scrape, so its figures
 * cover the interval since the previous scrape.
 */
export class RuntimeMetrics {
  private readonly loopDelay: IntervalHistogram;
  private readonly cpuAtStart = process.cpuUsage();

  constructor(registry: MetricsRegistry) {
    this.loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    const rss = registry.gauge({ name: 'process_resident_memory_bytes', help: 'Resident set size of the process.' });
    const heapUsed = registry.gauge({ name: 'nodejs_heap_size_used_bytes', help: 'V8 heap in use.' });
    const heapTotal = registry.gauge({ name: 'nodejs_heap_size_total_bytes', help: 'V8 heap reserved.' });
    const external = registry.gauge({ name: 'nodejs_external_memory_bytes', help: 'Memory of C++ objects bound to JS objects (Buffers).' });
    const cpu = registry.counter({ name: 'process_cpu_seconds_total', help: 'User and system CPU time spent since the metrics started.' });
    const startTime = registry.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch.' });
    const openFds = registry.gauge({ name: 'process_open_fds', help: 'Open file descriptors (Linux only; -1 elsewhere).' });
    const lag = {
      min: registry.gauge({ name: 'nodejs_eventloop_lag_min_seconds', help: 'Smallest event-loop delay since the last scrape.' }),
      max: registry.gauge({ name: 'nodejs_eventloop_lag_max_seconds', help: 'Largest event-loop delay since the last scrape.' }),
      mean: registry.gauge({ name: 'nodejs_eventloop_lag_mean_seconds', help: 'Mean event-loop delay since the last scrape.' }),
      p50: registry.gauge({ name: 'nodejs_eventloop_lag_p50_seconds', help: 'Median event-loop delay since the last scrape.' }),
      p99: registry.gauge({ name: 'nodejs_eventloop_lag_p99_seconds', help: '99th percentile event-loop delay since the last scrape.' }),
    };
    startTime.set(Math.round(performance.timeOrigin / 1000));
    let cpuSecondsReported = 0;
    registry.addCollector(() => {
      const memory = process.memoryUsage();
      rss.set(memory.rss);
      heapUsed.set(memory.heapUsed);
      heapTotal.set(memory.heapTotal);
      external.set(memory.external);
      const usage = process.cpuUsage(this.cpuAtStart);
      const cpuSeconds = (usage.user + usage.system) / 1e6;
      cpu.inc(Math.max(0, cpuSeconds - cpuSecondsReported));
      cpuSecondsReported = Math.max(cpuSeconds, cpuSecondsReported);
      openFds.set(countOpenFds());
      const h = this.loopDelay;
      // The sampler records the time between its timer ticks, so an idle loop reads as the
      // resolution itself; lag is the excess. Before the first sample min is a huge sentinel.
      const seconds = (ns: number): number => (h.count > 0 && Number.isFinite(ns) ? Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS) / 1e3 : 0);
      lag.min.set(seconds(h.min));
      lag.max.set(seconds(h.max));
      lag.mean.set(seconds(h.mean));
      lag.p50.set(seconds(h.percentile(50)));
      lag.p99.set(seconds(h.percentile(99)));
      h.reset();
    });
  }

  start(): void {
    this.loopDelay.enable();
  }

  stop(): void {
    this.loopDelay.disable();
  }
}

function countOpenFds(): number {
  if (process.platform !== 'linux') return -1;
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}
