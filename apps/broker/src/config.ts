import { createRequire } from 'node:module';
import yargs from 'yargs';
import type * as Yaml from 'yaml';
import { ConfigError } from './errors.js';

/**
 * The broker's whole configuration: one typed object, built by `loadConfig` from
 * flags > `STREAMBUS_*` env vars > YAML file > defaults. Every option is declared once in
 * `OPTIONS` (flag, env var, YAML key, default, meaning); the CLI help and
 * docs/operations/configuration.md are generated from that table.
 */
export interface BrokerConfig {
  readonly brokerId: number;
  readonly clusterId: string;
  /** Rack (or zone) for rack-aware replica placement; null when not set. */
  readonly rack: string | null;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly listeners: {
    /** gRPC client service: produce, fetch, metadata, admin, groups. */
    readonly client: HostPort;
    /** gRPC internal services: Raft transport and ReplicaFetch. */
    readonly peer: HostPort;
    /** HTTP: /metrics, /healthz, /readyz. */
    readonly http: HostPort;
  };
  /** What other brokers and clients are told to dial. */
  readonly advertised: { readonly host: string; readonly clientPort: number; readonly peerPort: number };
  /** Raft voters of the metadata log; a broker not listed is a learner. Never empty. */
  readonly bootstrapVoters: readonly Voter[];
  readonly storage: {
    readonly flushMode: FlushMode;
    readonly flushIntervalMs: number;
    readonly memtableBudgetBytes: number;
    readonly walSegmentBytes: number;
    readonly walSpareSegments: number;
    readonly sstableTargetBytes: number;
  };
  readonly raft: {
    readonly tickMs: number;
    /** Election timeout is randomized in [electionTicks, 2 * electionTicks) ticks. */
    readonly electionTicks: number;
    readonly heartbeatTicks: number;
  };
  readonly membership: {
    readonly heartbeatIntervalMs: number;
    readonly sessionTimeoutMs: number;
  };
  readonly replication: {
    /** Kafka's replica.lag.time.max.ms. */
    readonly replicaLagMsMax: number;
    /** Kafka's replica.fetch.wait.max.ms. */
    readonly replicaFetchWaitMsMax: number;
    /** Kafka's replica.fetch.max.bytes. */
    readonly replicaFetchBytesMax: number;
    /** Kafka's replica.fetch.response.max.bytes. */
    readonly replicaFetchResponseBytesMax: number;
  };
  /** Defaults for topics created without an explicit value (Kafka's names). */
  readonly topicDefaults: {
    readonly numPartitions: number;
    readonly replicationFactor: number;
    readonly minInsyncReplicas: number;
    /** -1 keeps data forever. */
    readonly retentionMs: number;
    /** -1 means no size limit. */
    readonly retentionBytes: number;
    readonly cleanupPolicy: CleanupPolicy;
    readonly maxMessageBytes: number;
    readonly compressionType: CompressionType;
    readonly uncleanLeaderElectionEnable: boolean;
  };
  readonly limits: {
    /** Largest request frame accepted on any listener (Kafka's socket.request.max.bytes). */
    readonly requestBytesMax: number;
    /** Distinct label sets per metric; protects memory from topic-name explosions. */
    readonly metricLabelSetsMax: number;
  };
  /** Budget for the whole graceful stop after SIGTERM; past it the process exits 1. */
  readonly shutdownTimeoutMs: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}
export interface Voter {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const FLUSH_MODES = ['always', 'interval'] as const;
export type FlushMode = (typeof FLUSH_MODES)[number];
export const CLEANUP_POLICIES = ['delete', 'compact'] as const;
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number];
export const COMPRESSION_TYPES = ['producer', 'none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

export type OptionKind =
  | { readonly type: 'int'; readonly min: number; readonly max: number; readonly bytes?: boolean }
  | { readonly type: 'string'; readonly pattern?: RegExp; readonly patternHint?: string }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'bool' }
  | { readonly type: 'voters' };

export type OptionValue = number | string | boolean | null | readonly Voter[];

export interface OptionSpec {
  /** Dotted path in the YAML file and in BrokerConfig. */
  readonly key: string;
  /** Long flag without dashes; the env var is STREAMBUS_ + flag in SCREAMING_SNAKE. */
  readonly flag: string;
  readonly kind: OptionKind;
  /** null: derived from other options (documented in `description`). */
  readonly default: OptionValue;
  readonly description: string;
  readonly group: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const INT32_MAX = 2 ** 31 - 1;
const port: OptionKind = { type: 'int', min: 0, max: 65_535 };
const positiveMs = (max: number): OptionKind => ({ type: 'int', min: 1, max });
const bytes = (min: number, max: number): OptionKind => ({ type: 'int', min, max, bytes: true });
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const hostKind: OptionKind = { type: 'string', pattern: /^[A-Za-z0-9.:_-]+$/, patternHint: 'a host name or IP address' };

/** Every option, in the order they appear in the docs. */
export const OPTIONS: readonly OptionSpec[] = [
  // Identity
  { group: 'Identity', key: 'brokerId', flag: 'broker-id', kind: { type: 'int', min: 1, max: INT32_MAX }, default: 1, description: 'Unique id of this broker in the cluster (1 or more; Raft reserves 0 for "nobody"). Required when more than one bootstrap voter is listed.' },
  { group: 'Identity', key: 'clusterId', flag: 'cluster-id', kind: { type: 'string', pattern: /^[A-Za-z0-9._-]{1,64}$/, patternHint: '1-64 characters from [A-Za-z0-9._-]' }, default: 'streambus', description: 'Cluster this broker belongs to. Recorded in the data dir on first start; a mismatch later refuses to start.' },
  { group: 'Identity', key: 'rack', flag: 'rack', kind: { type: 'string', pattern: /^[A-Za-z0-9._-]{1,64}$/, patternHint: '1-64 characters from [A-Za-z0-9._-]' }, default: null, description: 'Rack or zone, used for rack-aware replica placement. Unset: no rack.' },
  { group: 'Identity', key: 'dataDir', flag: 'data-dir', kind: { type: 'string' }, default: './streambus-data', description: 'Directory for the WAL, SSTables, manifest and Raft log. Locked while the broker runs.' },
  { group: 'Identity', key: 'logLevel', flag: 'log-level', kind: { type: 'enum', values: LOG_LEVELS }, default: 'info', description: 'Minimum level of JSON log lines written to stdout.' },
  // Listeners
  { group: 'Listeners', key: 'listeners.client.host', flag: 'client-host', kind: hostKind, default: '0.0.0.0', description: 'Bind address of the gRPC client service (produce, fetch, metadata, admin).' },
  { group: 'Listeners', key: 'listeners.client.port', flag: 'client-port', kind: port, default: 9092, description: 'Port of the gRPC client service; 0 picks a free port (tests).' },
  { group: 'Listeners', key: 'listeners.peer.host', flag: 'peer-host', kind: hostKind, default: '0.0.0.0', description: 'Bind address of the internal gRPC services (Raft transport, ReplicaFetch).' },
  { group: 'Listeners', key: 'listeners.peer.port', flag: 'peer-port', kind: port, default: 9093, description: 'Port of the internal gRPC services; 0 picks a free port (tests).' },
  { group: 'Listeners', key: 'listeners.http.host', flag: 'http-host', kind: hostKind, default: '0.0.0.0', description: 'Bind address of the HTTP server for /metrics, /healthz and /readyz.' },
  { group: 'Listeners', key: 'listeners.http.port', flag: 'http-port', kind: port, default: 9094, description: 'Port of the HTTP server; 0 picks a free port (tests).' },
  { group: 'Listeners', key: 'advertised.host', flag: 'advertised-host', kind: hostKind, default: null, description: 'Host other brokers and clients dial. Unset: the client bind host, or the machine host name when binding a wildcard address.' },
  { group: 'Listeners', key: 'advertised.clientPort', flag: 'advertised-client-port', kind: { type: 'int', min: 1, max: 65_535 }, default: null, description: 'Client port advertised to clients (differs from the bind port behind NAT). Unset: the client port.' },
  { group: 'Listeners', key: 'advertised.peerPort', flag: 'advertised-peer-port', kind: { type: 'int', min: 1, max: 65_535 }, default: null, description: 'Peer port advertised to other brokers. Unset: the peer port.' },
  // Cluster
  { group: 'Cluster', key: 'bootstrapVoters', flag: 'bootstrap-voters', kind: { type: 'voters' }, default: null, description: 'Raft voters of the metadata log as `id@host:port,...` (peer ports). Brokers not listed join as learners. Unset: this broker alone (a single-node cluster).' },
  { group: 'Cluster', key: 'membership.heartbeatIntervalMs', flag: 'heartbeat-interval-ms', kind: positiveMs(60_000), default: 500, description: 'How often the broker heartbeats to the metadata log (Kafka: 2000).' },
  { group: 'Cluster', key: 'membership.sessionTimeoutMs', flag: 'session-timeout-ms', kind: positiveMs(600_000), default: 2_000, description: 'A broker silent for this long is fenced and loses its leaderships (Kafka: 9000). At least 2 heartbeat intervals.' },
  // Raft
  { group: 'Raft', key: 'raft.tickMs', flag: 'raft-tick-ms', kind: positiveMs(10_000), default: 100, description: 'Length of one Raft tick; all Raft timeouts are counted in ticks.' },
  { group: 'Raft', key: 'raft.electionTicks', flag: 'raft-election-ticks', kind: { type: 'int', min: 2, max: 10_000 }, default: 10, description: 'Election timeout in ticks, randomized in [n, 2n): 10 ticks of 100 ms = 1-2 s. Must exceed the heartbeat ticks.' },
  { group: 'Raft', key: 'raft.heartbeatTicks', flag: 'raft-heartbeat-ticks', kind: { type: 'int', min: 1, max: 10_000 }, default: 1, description: 'Leader heartbeat period in ticks.' },
  // Replication
  { group: 'Replication', key: 'replication.replicaLagMsMax', flag: 'replica-lag-ms-max', kind: positiveMs(DAY_MS), default: 10_000, description: 'Kafka `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR (Kafka: 30000).' },
  { group: 'Replication', key: 'replication.replicaFetchWaitMsMax', flag: 'replica-fetch-wait-ms-max', kind: positiveMs(60_000), default: 500, description: 'Kafka `replica.fetch.wait.max.ms`: long-poll time of a follower fetch with no new data. Must be below the replica lag bound.' },
  { group: 'Replication', key: 'replication.replicaFetchBytesMax', flag: 'replica-fetch-bytes-max', kind: bytes(KiB, GiB), default: MiB, description: 'Kafka `replica.fetch.max.bytes`: bytes per partition in one follower fetch (at least one batch is always returned).' },
  { group: 'Replication', key: 'replication.replicaFetchResponseBytesMax', flag: 'replica-fetch-response-bytes-max', kind: bytes(KiB, GiB), default: 10 * MiB, description: 'Kafka `replica.fetch.response.max.bytes`: bytes over all partitions of one follower fetch (at least one batch is always returned).' },
  // Storage
  { group: 'Storage', key: 'storage.flushMode', flag: 'flush-mode', kind: { type: 'enum', values: FLUSH_MODES }, default: 'always', description: '`always`: fsync every WAL group commit before acknowledging. `interval`: fsync every flush interval and rely on replication (as Kafka does).' },
  { group: 'Storage', key: 'storage.flushIntervalMs', flag: 'flush-interval-ms', kind: positiveMs(HOUR_MS), default: 1_000, description: 'fsync period when the flush mode is `interval`; ignored otherwise.' },
  { group: 'Storage', key: 'storage.memtableBudgetBytes', flag: 'memtable-budget-bytes', kind: bytes(MiB, 64 * GiB), default: 256 * MiB, description: 'Memory for all partitions\' memtables together; the largest is flushed to an SSTable when exceeded.' },
  { group: 'Storage', key: 'storage.walSegmentBytes', flag: 'wal-segment-bytes', kind: bytes(MiB, 16 * GiB), default: 128 * MiB, description: 'Size at which the shared WAL rolls to a new file.' },
  { group: 'Storage', key: 'storage.walSpareSegments', flag: 'wal-spare-segments', kind: { type: 'int', min: 0, max: 16 }, default: 1, description: 'WAL segments kept preallocated (zero-filled in the background, or recycled from retired ones) so appends overwrite a file instead of growing it: a cheaper fdatasync. 0 turns it off.' },
  { group: 'Storage', key: 'storage.sstableTargetBytes', flag: 'sstable-target-bytes', kind: bytes(MiB, 16 * GiB), default: 256 * MiB, description: 'Target size of compacted SSTables (the meaning of Kafka\'s `segment.bytes` here).' },
  // Topic defaults
  { group: 'Topic defaults', key: 'topicDefaults.numPartitions', flag: 'num-partitions', kind: { type: 'int', min: 1, max: 100_000 }, default: 1, description: 'Kafka `num.partitions`: partitions of a topic created without a count.' },
  { group: 'Topic defaults', key: 'topicDefaults.replicationFactor', flag: 'default-replication-factor', kind: { type: 'int', min: 1, max: 32 }, default: 1, description: 'Kafka `default.replication.factor`. Use 3 in production.' },
  { group: 'Topic defaults', key: 'topicDefaults.minInsyncReplicas', flag: 'min-insync-replicas', kind: { type: 'int', min: 1, max: 32 }, default: 1, description: 'Kafka `min.insync.replicas`: acks=all writes are refused when the ISR is smaller. Use 2 with RF=3. At most the replication factor.' },
  { group: 'Topic defaults', key: 'topicDefaults.retentionMs', flag: 'retention-ms', kind: { type: 'int', min: -1, max: Number.MAX_SAFE_INTEGER }, default: 7 * DAY_MS, description: 'Kafka `retention.ms`: age after which whole SSTables are dropped; -1 keeps data forever.' },
  { group: 'Topic defaults', key: 'topicDefaults.retentionBytes', flag: 'retention-bytes', kind: { type: 'int', min: -1, max: Number.MAX_SAFE_INTEGER, bytes: true }, default: -1, description: 'Kafka `retention.bytes` per partition; -1 means no size limit.' },
  { group: 'Topic defaults', key: 'topicDefaults.cleanupPolicy', flag: 'cleanup-policy', kind: { type: 'enum', values: CLEANUP_POLICIES }, default: 'delete', description: 'Kafka `cleanup.policy`: `delete` (retention) or `compact` (newest record per key).' },
  { group: 'Topic defaults', key: 'topicDefaults.maxMessageBytes', flag: 'max-message-bytes', kind: bytes(KiB, GiB), default: MiB + 12, description: 'Kafka `max.message.bytes`: largest record batch accepted. At most the request bytes limit.' },
  { group: 'Topic defaults', key: 'topicDefaults.compressionType', flag: 'compression-type', kind: { type: 'enum', values: COMPRESSION_TYPES }, default: 'producer', description: 'Kafka `compression.type`; `producer` keeps the producer\'s codec (the broker never recompresses).' },
  { group: 'Topic defaults', key: 'topicDefaults.uncleanLeaderElectionEnable', flag: 'unclean-leader-election-enable', kind: { type: 'bool' }, default: false, description: 'Kafka `unclean.leader.election.enable`: allow an out-of-sync replica to lead (loses acknowledged data). Keep off.' },
  // Limits and lifecycle
  { group: 'Limits and lifecycle', key: 'limits.requestBytesMax', flag: 'request-bytes-max', kind: bytes(64 * KiB, 2 * GiB - 1), default: 100 * MiB, description: 'Kafka `socket.request.max.bytes`: largest request accepted on any listener.' },
  { group: 'Limits and lifecycle', key: 'limits.metricLabelSetsMax', flag: 'metric-label-sets-max', kind: { type: 'int', min: 1, max: 1_000_000 }, default: 10_000, description: 'Distinct label sets kept per metric (e.g. per-topic byte counters); further ones are dropped and counted in `streambus_metric_label_sets_dropped_total`.' },
  { group: 'Limits and lifecycle', key: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', kind: positiveMs(HOUR_MS), default: 25_000, description: 'Budget for the graceful stop after SIGTERM/SIGINT (stop accepting, finish in-flight, flush). Past it the process exits 1. Keep below Kubernetes\' terminationGracePeriodSeconds (30 s).' },
];

/** Options that are not part of BrokerConfig but steer loading. */
export const CONFIG_FILE_FLAG = 'config';
export const ENV_PREFIX = 'STREAMBUS_';

export function envNameOf(flag: string): string {
  return ENV_PREFIX + flag.replaceAll('-', '_').toUpperCase();
}

/** Where a value came from, to name it in errors. */
type Source =
  | { readonly kind: 'flag'; readonly raw: unknown }
  | { readonly kind: 'env'; readonly raw: unknown }
  | { readonly kind: 'yaml'; readonly raw: unknown; readonly file: string }
  | { readonly kind: 'default' };

/** Effects loadConfig needs; injected so the function stays pure and testable. */
export interface ConfigIo {
  readFile(path: string): string;
  hostname(): string;
}

export type LoadResult =
  | { readonly action: 'run'; readonly config: BrokerConfig; readonly warnings: readonly string[] }
  | { readonly action: 'help'; readonly text: string }
  | { readonly action: 'version' };

/**
 * Builds the configuration from command-line arguments (without node and script),
 * environment and, when `--config`/`STREAMBUS_CONFIG` names one, a YAML file.
 * Precedence per option: flag > env > YAML > default. Throws ConfigError listing every
 * problem, each naming its flag, env var or YAML key.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: ConfigIo): LoadResult {
  const flags = parseFlags(argv);
  if (flags.help !== undefined) return { action: 'help', text: renderHelp() };
  if (flags.version !== undefined) return { action: 'version' };

  const problems: string[] = [];
  const warnings: string[] = [];
  const yaml = loadYamlFile(flags[CONFIG_FILE_FLAG] ?? env[envNameOf(CONFIG_FILE_FLAG)], io, problems);

  const values = new Map<string, OptionValue>();
  const sources = new Map<string, Source>();
  for (const spec of OPTIONS) {
    const source = pickSource(spec, flags, env, yaml);
    sources.set(spec.key, source);
    if (source.kind === 'default') {
      values.set(spec.key, spec.default);
      continue;
    }
    const parsed = parseValue(spec.kind, source.raw);
    if (parsed.ok) values.set(spec.key, parsed.value);
    else problems.push(describeProblem(spec, source, parsed.expected));
  }
  if (yaml !== undefined) problems.push(...unknownYamlKeys(yaml.doc, yaml.file));
  warnings.push(...unknownEnvVars(env));
  if (problems.length > 0) throw new ConfigError('CONFIG_INVALID', problems);

  const config = assemble(values, io);
  problems.push(...crossCheck(config, sources));
  if (problems.length > 0) throw new ConfigError('CONFIG_INVALID', problems);
  return { action: 'run', config, warnings };
}

/** The configuration with every default, as a starting point for tests and embedding. */
export function defaultConfig(overrides: readonly string[] = []): BrokerConfig {
  const result = loadConfig(overrides, {}, { readFile: () => '', hostname: () => 'localhost' });
  if (result.action !== 'run') throw new Error('defaultConfig: --help/--version are not overrides');
  return result.config;
}

type FlagValues = Record<string, string | undefined>;

function parseFlags(argv: readonly string[]): FlagValues {
  const parser = yargs()
    .exitProcess(false)
    .strict()
    .help(false)
    .version(false)
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': false,
      'boolean-negation': false,
    })
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new ConfigError('CONFIG_UNKNOWN_OPTION', [flagParseMessage(message ?? error?.message ?? 'invalid arguments')], { cause: error });
    });
  // Every option is read as a string: parsing and range checks happen here, once, with
  // messages that name the source; yargs would silently turn `--flag=maybe` into false.
  for (const spec of OPTIONS) parser.option(spec.flag, { type: 'string' });
  parser.option(CONFIG_FILE_FLAG, { type: 'string' });
  parser.option('help', { type: 'string', alias: 'h' });
  parser.option('version', { type: 'string' });
  const parsed = parser.parseSync([...argv]) as Record<string, unknown>;
  const positional = parsed._;
  // Arguments after `--` escape yargs' strict mode; the broker takes none.
  if (Array.isArray(positional) && positional.length > 0) {
    throw new ConfigError('CONFIG_UNKNOWN_OPTION', [`unexpected argument(s) ${positional.map((p) => JSON.stringify(String(p))).join(', ')}; the broker takes only options`]);
  }
  const out: FlagValues = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '_' || name === '$0') continue;
    out[name] = typeof value === 'string' ? value : String(value);
  }
  return out;
}

function flagParseMessage(message: string): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (unknown?.[1] !== undefined) {
    const names = unknown[1].split(', ').map((n) => (n.length > 1 && !/^\d/.test(n) ? `--${n}` : n));
    return `unknown option ${names.join(', ')}`;
  }
  return message;
}

interface YamlDoc {
  readonly doc: Record<string, unknown>;
  readonly file: string;
}

function loadYamlFile(file: string | undefined, io: ConfigIo, problems: string[]): YamlDoc | undefined {
  if (file === undefined) return undefined;
  if (file === '') {
    problems.push(`--${CONFIG_FILE_FLAG} needs a file path`);
    return undefined;
  }
  let text: string;
  try {
    text = io.readFile(file);
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', [`cannot read config file ${file} (--${CONFIG_FILE_FLAG}): ${errorMessage(error)}`], { cause: error });
  }
  let doc: unknown;
  try {
    doc = loadYamlModule().parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', [`config file ${file} is not valid YAML: ${errorMessage(error)}`], { cause: error });
  }
  if (doc === null || doc === undefined) return { doc: {}, file };
  if (!isPlainObject(doc)) throw new ConfigError('CONFIG_INVALID', [`config file ${file} must hold a YAML mapping at the top level`]);
  return { doc, file };
}

// The YAML parser is loaded only when a config file is given: it costs ~90 ms of start-up
// on a loaded 2-core machine, and env-configured brokers (Kubernetes) never need it.
const requireModule = createRequire(import.meta.url);
function loadYamlModule(): typeof Yaml {
  return requireModule('yaml') as typeof Yaml;
}

function pickSource(spec: OptionSpec, flags: FlagValues, env: Readonly<Record<string, string | undefined>>, yaml: YamlDoc | undefined): Source {
  const flagValue = flags[spec.flag];
  if (flagValue !== undefined) return { kind: 'flag', raw: flagValue };
  const envValue = env[envNameOf(spec.flag)];
  if (envValue !== undefined) return { kind: 'env', raw: envValue };
  if (yaml !== undefined) {
    const found = lookupPath(yaml.doc, spec.key);
    if (found.present && found.value !== null) return { kind: 'yaml', raw: found.value, file: yaml.file };
  }
  return { kind: 'default' };
}

function lookupPath(doc: Record<string, unknown>, key: string): { present: boolean; value: unknown } {
  let node: unknown = doc;
  for (const part of key.split('.')) {
    if (!isPlainObject(node) || !Object.hasOwn(node, part)) return { present: false, value: undefined };
    node = node[part];
  }
  return { present: true, value: node };
}

type Parsed = { ok: true; value: OptionValue } | { ok: false; expected: string };

function parseValue(kind: OptionKind, raw: unknown): Parsed {
  switch (kind.type) {
    case 'int':
      return parseInteger(kind, raw);
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') return { ok: false, expected: 'a string' };
      const text = String(raw);
      if (text === '') return { ok: false, expected: 'a non-empty value' };
      if (kind.pattern !== undefined && !kind.pattern.test(text)) return { ok: false, expected: kind.patternHint ?? `a value matching ${kind.pattern.source}` };
      return { ok: true, value: text };
    }
    case 'enum': {
      if (typeof raw === 'string' && kind.values.includes(raw)) return { ok: true, value: raw };
      return { ok: false, expected: `one of ${kind.values.join(', ')}` };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      // A bare `--flag` arrives as the empty string.
      if (raw === '' || raw === 'true' || raw === '1') return { ok: true, value: true };
      if (raw === 'false' || raw === '0') return { ok: true, value: false };
      return { ok: false, expected: 'true or false' };
    }
    case 'voters':
      return parseVoters(raw);
  }
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, KiB, MiB, GiB };

function parseInteger(kind: Extract<OptionKind, { type: 'int' }>, raw: unknown): Parsed {
  const range = `an integer from ${kind.min} to ${kind.max}${kind.bytes === true ? ' (bytes; KiB, MiB, GiB suffixes allowed)' : ''}`;
  let value: number;
  if (typeof raw === 'number') {
    value = raw;
  } else if (typeof raw === 'string') {
    const match = (kind.bytes === true ? /^(-?\d+)\s*(KiB|MiB|GiB)?$/ : /^(-?\d+)()$/).exec(raw.trim());
    if (match?.[1] === undefined) return { ok: false, expected: range };
    value = Number(match[1]) * (BYTE_UNITS[match[2] ?? ''] ?? 1);
  } else {
    return { ok: false, expected: range };
  }
  // Values beyond 2^53 cannot be represented exactly; rejecting beats silently rounding.
  if (!Number.isSafeInteger(value)) return { ok: false, expected: `${range}; the value is not a safe integer` };
  if (value < kind.min || value > kind.max) return { ok: false, expected: range };
  return { ok: true, value };
}

const VOTERS_MAX = 9;

function parseVoters(raw: unknown): Parsed {
  const expected = `a list id@host:port,... of 1 to ${VOTERS_MAX} voters with distinct ids`;
  let items: unknown[];
  if (typeof raw === 'string') items = raw.split(',').map((s) => s.trim());
  else if (Array.isArray(raw)) items = raw;
  else return { ok: false, expected };
  if (items.length === 0 || items.length > VOTERS_MAX) return { ok: false, expected };
  const voters: Voter[] = [];
  for (const item of items) {
    if (typeof item !== 'string') return { ok: false, expected };
    const match = /^(\d+)@([A-Za-z0-9._-]+|\[[0-9a-fA-F:]+\]):(\d+)$/.exec(item);
    if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) return { ok: false, expected: `${expected}; "${item}" is not id@host:port` };
    const id = Number(match[1]);
    const votePort = Number(match[3]);
    if (!Number.isSafeInteger(id) || id > INT32_MAX) return { ok: false, expected: `${expected}; voter id ${match[1]} is out of range` };
    if (votePort < 1 || votePort > 65_535) return { ok: false, expected: `${expected}; port ${match[3]} is out of range` };
    if (voters.some((v) => v.id === id)) return { ok: false, expected: `${expected}; voter id ${id} appears twice` };
    voters.push({ id, host: match[2].replace(/^\[(.*)\]$/, '$1'), port: votePort });
  }
  return { ok: true, value: voters };
}

function describeProblem(spec: OptionSpec, source: Source, expected: string): string {
  const shown = (raw: unknown): string => JSON.stringify(raw) ?? String(raw);
  const hint = (raw: unknown): string =>
    typeof raw === 'string' && raw.startsWith('tcp://')
      ? ' (this looks like a Kubernetes service link variable: set enableServiceLinks: false on the pod)'
      : '';
  switch (source.kind) {
    case 'flag':
      return `--${spec.flag}=${shown(source.raw)} is invalid: expected ${expected}`;
    case 'env':
      return `${envNameOf(spec.flag)}=${shown(source.raw)} (env, for --${spec.flag}) is invalid: expected ${expected}${hint(source.raw)}`;
    case 'yaml':
      return `${spec.key}: ${shown(source.raw)} in ${source.file} (for --${spec.flag}) is invalid: expected ${expected}`;
    case 'default':
      return `default of --${spec.flag} is invalid: expected ${expected}`;
  }
}

function sourceName(spec: OptionSpec, source: Source | undefined): string {
  switch (source?.kind) {
    case 'flag':
      return `--${spec.flag}`;
    case 'env':
      return `${envNameOf(spec.flag)} (--${spec.flag})`;
    case 'yaml':
      return `${spec.key} in ${source.file} (--${spec.flag})`;
    case 'default':
    case undefined:
      return `--${spec.flag} (default)`;
  }
}

const KNOWN_YAML_KEYS = new Set(OPTIONS.map((o) => o.key));

function unknownYamlKeys(doc: Record<string, unknown>, file: string): string[] {
  const problems: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      if (KNOWN_YAML_KEYS.has(key)) continue;
      const isSection = [...KNOWN_YAML_KEYS].some((k) => k.startsWith(`${key}.`));
      if (isSection && isPlainObject(value)) walk(value, key);
      else problems.push(`unknown key ${key} in ${file}`);
    }
  };
  walk(doc, '');
  return problems;
}

const KNOWN_ENV = new Set([...OPTIONS.map((o) => envNameOf(o.flag)), envNameOf(CONFIG_FILE_FLAG)]);
/** STREAMBUS_* variables that belong to other tools (tests, chaos harness), not to config. */
const FOREIGN_ENV = new Set(['STREAMBUS_LONG', 'STREAMBUS_FAILPOINTS']);

// Unknown STREAMBUS_* variables only warn: Kubernetes injects service link variables
// (STREAMBUS_PORT, STREAMBUS_SERVICE_HOST, ...) that must not stop the broker.
function unknownEnvVars(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && !KNOWN_ENV.has(name) && !FOREIGN_ENV.has(name))
    .sort()
    .map((name) => `ignoring unknown environment variable ${name}`);
}

function assemble(values: ReadonlyMap<string, OptionValue>, io: ConfigIo): BrokerConfig {
  const int = (key: string): number => take(values, key, (v): v is number => typeof v === 'number');
  const str = (key: string): string => take(values, key, (v): v is string => typeof v === 'string');
  const optStr = (key: string): string | null => take(values, key, (v): v is string | null => v === null || typeof v === 'string');
  const optInt = (key: string): number | null => take(values, key, (v): v is number | null => v === null || typeof v === 'number');
  const bool = (key: string): boolean => take(values, key, (v): v is boolean => typeof v === 'boolean');
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T => take(values, key, (v): v is T => typeof v === 'string' && (allowed as readonly string[]).includes(v));

  const brokerId = int('brokerId');
  const client = { host: str('listeners.client.host'), port: int('listeners.client.port') };
  const peer = { host: str('listeners.peer.host'), port: int('listeners.peer.port') };
  const advertisedHost = optStr('advertised.host') ?? (isWildcard(client.host) ? io.hostname() : client.host);
  const advertised = {
    host: advertisedHost,
    clientPort: optInt('advertised.clientPort') ?? client.port,
    peerPort: optInt('advertised.peerPort') ?? peer.port,
  };
  const voters = take(values, 'bootstrapVoters', (v): v is readonly Voter[] | null => v === null || Array.isArray(v));
  return {
    brokerId,
    clusterId: str('clusterId'),
    rack: optStr('rack'),
    dataDir: str('dataDir'),
    logLevel: oneOf('logLevel', LOG_LEVELS),
    listeners: { client, peer, http: { host: str('listeners.http.host'), port: int('listeners.http.port') } },
    advertised,
    bootstrapVoters: voters ?? [{ id: brokerId, host: advertised.host, port: advertised.peerPort }],
    storage: {
      flushMode: oneOf('storage.flushMode', FLUSH_MODES),
      flushIntervalMs: int('storage.flushIntervalMs'),
      memtableBudgetBytes: int('storage.memtableBudgetBytes'),
      walSegmentBytes: int('storage.walSegmentBytes'),
      walSpareSegments: int('storage.walSpareSegments'),
      sstableTargetBytes: int('storage.sstableTargetBytes'),
    },
    raft: { tickMs: int('raft.tickMs'), electionTicks: int('raft.electionTicks'), heartbeatTicks: int('raft.heartbeatTicks') },
    membership: { heartbeatIntervalMs: int('membership.heartbeatIntervalMs'), sessionTimeoutMs: int('membership.sessionTimeoutMs') },
    replication: {
      replicaLagMsMax: int('replication.replicaLagMsMax'),
      replicaFetchWaitMsMax: int('replication.replicaFetchWaitMsMax'),
      replicaFetchBytesMax: int('replication.replicaFetchBytesMax'),
      replicaFetchResponseBytesMax: int('replication.replicaFetchResponseBytesMax'),
    },
    topicDefaults: {
      numPartitions: int('topicDefaults.numPartitions'),
      replicationFactor: int('topicDefaults.replicationFactor'),
      minInsyncReplicas: int('topicDefaults.minInsyncReplicas'),
      retentionMs: int('topicDefaults.retentionMs'),
      retentionBytes: int('topicDefaults.retentionBytes'),
      cleanupPolicy: oneOf('topicDefaults.cleanupPolicy', CLEANUP_POLICIES),
      maxMessageBytes: int('topicDefaults.maxMessageBytes'),
      compressionType: oneOf('topicDefaults.compressionType', COMPRESSION_TYPES),
      uncleanLeaderElectionEnable: bool('topicDefaults.uncleanLeaderElectionEnable'),
    },
    limits: { requestBytesMax: int('limits.requestBytesMax'), metricLabelSetsMax: int('limits.metricLabelSetsMax') },
    shutdownTimeoutMs: int('shutdownTimeoutMs'),
  };
}

function take<T>(values: ReadonlyMap<string, OptionValue>, key: string, guard: (v: unknown) => v is T): T {
  const value = values.get(key);
  // Parsing already checked every value; a mismatch here is a bug in OPTIONS, not bad input.
  if (!guard(value)) throw new Error(`config invariant: option ${key} has unexpected value ${JSON.stringify(value)}`);
  return value;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Rules that relate options to each other. */
function crossCheck(config: BrokerConfig, sources: ReadonlyMap<string, Source>): string[] {
  const problems: string[] = [];
  const name = (key: string): string => {
    const spec = OPTIONS.find((o) => o.key === key);
    if (spec === undefined) throw new Error(`config invariant: no option ${key}`);
    return sourceName(spec, sources.get(key));
  };
  const given = (key: string): boolean => sources.get(key)?.kind !== 'default';

  if (config.bootstrapVoters.length > 1 && !given('brokerId')) {
    problems.push(`${name('brokerId')} must be set explicitly when ${name('bootstrapVoters')} lists ${config.bootstrapVoters.length} voters`);
  }
  if (config.raft.electionTicks <= config.raft.heartbeatTicks) {
    problems.push(`${name('raft.electionTicks')} (${config.raft.electionTicks}) must be greater than ${name('raft.heartbeatTicks')} (${config.raft.heartbeatTicks})`);
  }
  if (config.membership.sessionTimeoutMs < 2 * config.membership.heartbeatIntervalMs) {
    problems.push(`${name('membership.sessionTimeoutMs')} (${config.membership.sessionTimeoutMs}) must be at least twice ${name('membership.heartbeatIntervalMs')} (${config.membership.heartbeatIntervalMs}) so one lost heartbeat does not fence a broker`);
  }
  if (config.replication.replicaFetchWaitMsMax >= config.replication.replicaLagMsMax) {
    problems.push(`${name('replication.replicaFetchWaitMsMax')} (${config.replication.replicaFetchWaitMsMax}) must be below ${name('replication.replicaLagMsMax')} (${config.replication.replicaLagMsMax}) or idle followers would leave the ISR`);
  }
  if (config.topicDefaults.minInsyncReplicas > config.topicDefaults.replicationFactor) {
    problems.push(`${name('topicDefaults.minInsyncReplicas')} (${config.topicDefaults.minInsyncReplicas}) must not exceed ${name('topicDefaults.replicationFactor')} (${config.topicDefaults.replicationFactor}) or acks=all writes could never succeed`);
  }
  if (config.topicDefaults.maxMessageBytes > config.limits.requestBytesMax) {
    problems.push(`${name('topicDefaults.maxMessageBytes')} (${config.topicDefaults.maxMessageBytes}) must not exceed ${name('limits.requestBytesMax')} (${config.limits.requestBytesMax})`);
  }
  const ports: [string, number][] = [
    ['listeners.client.port', config.listeners.client.port],
    ['listeners.peer.port', config.listeners.peer.port],
    ['listeners.http.port', config.listeners.http.port],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const [ka, pa] = ports[i] ?? ['', 0];
      const [kb, pb] = ports[j] ?? ['', 0];
      if (pa !== 0 && pa === pb) problems.push(`${name(ka)} and ${name(kb)} are both ${pa}; each listener needs its own port`);
    }
  }
  return problems;
}

/** `--help` text, generated from OPTIONS. */
export function renderHelp(): string {
  const lines = [
    'Usage: streambus-broker [options]',
    '',
    'Every option can also be set as an environment variable (STREAMBUS_<FLAG>) or a key',
    'in the YAML file given by --config. Precedence: flag > env > file > default.',
    '',
    `  --${CONFIG_FILE_FLAG} <file.yaml>   YAML config file (env ${envNameOf(CONFIG_FILE_FLAG)})`,
    '  --help, -h            Show this help',
    '  --version             Show the version',
  ];
  let group = '';
  for (const spec of OPTIONS) {
    if (spec.group !== group) {
      group = spec.group;
      lines.push('', `${group}:`);
    }
    const def = spec.default === null ? 'unset' : formatDefault(spec.default);
    lines.push(`  --${spec.flag} <${kindHint(spec.kind)}>  [default: ${def}]`, `      ${spec.description}`);
  }
  return lines.join('\n') + '\n';
}

export function kindHint(kind: OptionKind): string {
  switch (kind.type) {
    case 'int':
      return kind.bytes === true ? 'bytes' : 'int';
    case 'string':
      return 'string';
    case 'enum':
      return kind.values.join('|');
    case 'bool':
      return 'true|false';
    case 'voters':
      return 'id@host:port,...';
  }
}

export function formatDefault(value: OptionValue): string {
  if (value === null) return 'unset';
  if (typeof value === 'object') return value.map((v) => `${v.id}@${v.host}:${v.port}`).join(',');
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
