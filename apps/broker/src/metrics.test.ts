import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBrokerMetrics, MetricsRegistry, RuntimeMetrics } from './metrics.js';

/**
 * A strict parser for the Prometheus text exposition format 0.0.4: every line is a
 * HELP/TYPE comment or a sample `name{labels} value`; label values are unescaped.
 */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`, 's');
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{.*\\})? (\\S+)$`, 's');
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  while (text[i] !== '}') {
    const nameMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (nameMatch?.[1] === undefined) throw new Error(`bad label name at ${i} in ${text}`);
    i += nameMatch[0].length;
    let value = '';
    for (;;) {
      const ch = text[i];
      if (ch === undefined) throw new Error(`unterminated label value in ${text}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape \\${next ?? ''} in ${text}`);
        i += 2;
      } else {
        if (ch === '\n') throw new Error('raw newline in label value');
        value += ch;
        i += 1;
      }
    }
    i += 1; // closing quote
    if (Object.hasOwn(labels, nameMatch[1])) throw new Error(`duplicate label ${nameMatch[1]}`);
    labels[nameMatch[1]] = value;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`expected , or } at ${i} in ${text}`);
  }
  if (i !== text.length - 1) throw new Error(`trailing text after labels in ${text}`);
  return labels;
}

function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) {
      const type = TYPE_LINE.exec(line);
      if (type?.[1] !== undefined && type[2] !== undefined) {
        if (types.has(type[1])) throw new Error(`second TYPE for ${type[1]}`);
        types.set(type[1], type[2]);
      } else if (!HELP_LINE.test(line)) {
        throw new Error(`bad comment line: ${line}`);
      }
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    if (match?.[1] === undefined || match[3] === undefined) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    if (!VALUE.test(match[3])) throw new Error(`bad value in line: ${line}`);
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    samples.push({ name: match[1], labels: match[2] === undefined ? {} : parseLabels(match[2]), value });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('exposition format', () => {
  it('renders the whole broker metric set as valid lines', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 100 });
    const metrics = createBrokerMetrics(registry, { brokerId: 3, clusterId: 'c1', rack: null, version: '0.1.0' });
    const runtime = new RuntimeMetrics(registry);
    runtime.start();
    metrics.requestDuration.observe({ api: 'Produce' }, 0.003);
    metrics.bytesIn.inc({ topic: 'orders' }, 1024);
    metrics.recordsIn.inc({ topic: 'orders' }, 10);
    metrics.partitions.set({ role: 'leader' }, 4);
    metrics.raftTerm.set(7);
    const { samples, types } = parseExposition(registry.render());
    runtime.stop();
    expect(types.get('streambus_request_duration_seconds')).toBe('histogram');
    expect(find(samples, 'streambus_request_duration_seconds_count', { api: 'Produce' })).toBe(1);
    expect(find(samples, 'streambus_bytes_in_total', { topic: 'orders' })).toBe(1024);
    expect(find(samples, 'streambus_partitions', { role: 'leader' })).toBe(4);
    expect(find(samples, 'streambus_partitions', { role: 'follower' })).toBe(0);
    expect(find(samples, 'streambus_raft_term')).toBe(7);
    expect(find(samples, 'streambus_raft_leader_id')).toBe(-1);
    expect(find(samples, 'streambus_broker_info', { broker_id: '3', cluster_id: 'c1' })).toBe(1);
    expect(find(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(find(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    for (const name of types.keys()) {
      if (types.get(name) === 'counter') expect(name.endsWith('_total')).toBe(true);
    }
  });

  it('escapes any label value and help text so it parses back unchanged', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30, unit: 'binary' }), fc.string({ maxLength: 30 }), fc.double({ noNaN: false }), (labelValue, help, value) => {
        const registry = new MetricsRegistry({ labelSetsMax: 10 });
        registry.gauge<'topic'>({ name: 'g', help, labelNames: ['topic'] }).set({ topic: labelValue }, value);
        const { samples } = parseExposition(registry.render());
        const sample = samples.find((s) => s.name === 'g');
        expect(sample?.labels.topic).toBe(labelValue);
        // -0 renders as 0, which Prometheus treats as equal.
        expect(sample?.value === value || (Number.isNaN(value) && Number.isNaN(sample?.value))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('histogram', () => {
  it('renders cumulative buckets that agree with a simple model', () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { maxLength: 50 }), (values) => {
        const registry = new MetricsRegistry({ labelSetsMax: 10 });
        const h = registry.histogram<'api'>({ name: 'h_seconds', help: 'h', labelNames: ['api'], buckets });
        const child = h.bind({ api: 'Fetch' });
        for (const v of values) child.observe(v);
        const { samples } = parseExposition(registry.render());
        for (const le of buckets) {
          expect(find(samples, 'h_seconds_bucket', { api: 'Fetch', le: String(le) })).toBe(values.filter((v) => v <= le).length);
        }
        expect(find(samples, 'h_seconds_bucket', { le: '+Inf' })).toBe(values.length);
        expect(find(samples, 'h_seconds_count')).toBe(values.length);
        expect(find(samples, 'h_seconds_sum')).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects unordered buckets and reserved label names', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    expect(() => registry.histogram({ name: 'a', help: 'a', buckets: [1, 1] })).toThrow(/strictly increasing/);
    expect(() => registry.histogram<'le'>({ name: 'b', help: 'b', labelNames: ['le'], buckets: [1] })).toThrow(/not allowed/);
    expect(() => registry.counter({ name: 'bad-name', help: 'x' })).toThrow(/not a valid/);
  });
});

describe('registry bounds and invariants', () => {
  it('drops label sets beyond the bound and counts the drops', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 3 });
    const bytes = registry.counter<'topic'>({ name: 'bytes_total', help: 'b', labelNames: ['topic'] });
    for (let i = 0; i < 10; i++) bytes.inc({ topic: `t${i}` }, 5);
    const { samples } = parseExposition(registry.render());
    expect(samples.filter((s) => s.name === 'bytes_total')).toHaveLength(3);
    expect(find(samples, 'streambus_metric_label_sets_dropped_total', { metric: 'bytes_total' })).toBe(7);
  });

  it('keeps counting on an existing label set once the bound is reached', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 2 });
    const c = registry.counter<'topic'>({ name: 'c_total', help: 'c', labelNames: ['topic'] });
    c.inc({ topic: 'a' });
    c.inc({ topic: 'b' });
    c.inc({ topic: 'c' });
    c.inc({ topic: 'a' }, 2);
    expect(find(parseExposition(registry.render()).samples, 'c_total', { topic: 'a' })).toBe(3);
  });

  it('refuses negative counter increments, duplicate names and missing labels', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    const c = registry.counter({ name: 'x_total', help: 'x' });
    expect(() => c.inc(-1)).toThrow(/cannot be increased/);
    expect(() => registry.gauge({ name: 'x_total', help: 'again' })).toThrow(/already registered/);
    const labelled = registry.counter<'api'>({ name: 'y_total', help: 'y', labelNames: ['api'] });
    expect(() => labelled.inc({} as { api: string })).toThrow(/needs label api/);
  });

  it('runs collectors at every scrape', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    const g = registry.gauge({ name: 'scrapes', help: 's' });
    let n = 0;
    registry.addCollector(() => g.set(++n));
    registry.render();
    expect(find(parseExposition(registry.render()).samples, 'scrapes')).toBe(2);
  });

  it('bound handles skip the label lookup and stay consistent', () => {
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    const c = registry.counter<'topic'>({ name: 'z_total', help: 'z', labelNames: ['topic'] });
    const child = c.bind({ topic: 'hot' });
    for (let i = 0; i < 1000; i++) child.inc();
    c.inc({ topic: 'hot' });
    expect(find(parseExposition(registry.render()).samples, 'z_total', { topic: 'hot' })).toBe(1001);
  });
});

describe('docs', () => {
  it('docs/operations/observability.md documents every metric the broker registers', () => {
    const doc = readFileSync(new URL('../../../docs/operations/observability.md', import.meta.url), 'utf8');
    const registry = new MetricsRegistry({ labelSetsMax: 10 });
    createBrokerMetrics(registry, { brokerId: 0, clusterId: 'c', rack: null, version: 'v' });
    new RuntimeMetrics(registry);
    const names = [...registry.render().matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect(doc).toContain(`| \`${name}\` |`);
  });
});
