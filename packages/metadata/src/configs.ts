/**
 * Topic configs: Kafka's names, defaults and rules.
 *
 * Values travel and rest as strings (as in Kafka's ConfigRecord) in a normalized spelling,
 * so two proposers writing "Compact, delete" and "compact,delete" store the same bytes.
 * Only explicitly set keys are stored; `effectiveTopicConfig` fills in the defaults.
 */
import { MetadataError } from './errors.js';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export type CompressionType = 'producer' | 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface TopicConfig {
  /** -1 keeps data forever. */
  readonly retentionMs: number;
  /** -1 means no size limit. */
  readonly retentionBytes: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly deleteRetentionMs: number;
  readonly minInsyncReplicas: number;
  readonly maxMessageBytes: number;
  /** Target size of one SSTable of the partition's log. */
  readonly segmentBytes: number;
  readonly compressionType: CompressionType;
  readonly uncleanLeaderElectionEnable: boolean;
}

const int32Max = 2_147_483_647;

interface ConfigDef {
  readonly defaultValue: string;
  readonly allowed: string;
  /** Returns the normalized value or undefined when the value is not allowed. */
  readonly normalize: (value: string) => string | undefined;
}

function intInRange(min: number, max: number): (value: string) => string | undefined {
  return (value) => {
    if (!/^-?(0|[1-9][0-9]*)$/.test(value)) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) return undefined;
    return String(n);
  };
}

function oneOf(values: readonly string[]): (value: string) => string | undefined {
  return (value) => {
    const v = value.trim().toLowerCase();
    return values.includes(v) ? v : undefined;
  };
}

function cleanupPolicy(value: string): string | undefined {
  const parts = value.split(',').map((p) => p.trim().toLowerCase());
  if (parts.length === 0 || parts.length > 2) return undefined;
  if (parts.some((p) => p !== 'delete' && p !== 'compact')) return undefined;
  if (new Set(parts).size !== parts.length) return undefined;
  return parts.length === 2 ? 'compact,delete' : parts[0];
}

/** Kafka's defaults, except segment.bytes, which sizes SSTables here rather than segment files. */
export const topicConfigDefs: Readonly<Record<string, ConfigDef>> = {
  'retention.ms': { defaultValue: '604800000', allowed: 'an integer >= -1 (-1 = forever)', normalize: intInRange(-1, Number.MAX_SAFE_INTEGER) },
  'retention.bytes': { defaultValue: '-1', allowed: 'an integer >= -1 (-1 = no limit)', normalize: intInRange(-1, Number.MAX_SAFE_INTEGER) },
  'cleanup.policy': { defaultValue: 'delete', allowed: 'delete, compact or compact,delete', normalize: cleanupPolicy },
  'delete.retention.ms': { defaultValue: '86400000', allowed: 'an integer >= 0', normalize: intInRange(0, Number.MAX_SAFE_INTEGER) },
  'min.insync.replicas': { defaultValue: '1', allowed: 'an integer from 1 to the replication factor', normalize: intInRange(1, int32Max) },
  'max.message.bytes': { defaultValue: '1048588', allowed: `an integer from 0 to ${int32Max}`, normalize: intInRange(0, int32Max) },
  'segment.bytes': { defaultValue: '67108864', allowed: `an integer from 1024 to ${int32Max}`, normalize: intInRange(1024, int32Max) },
  'compression.type': {
    defaultValue: 'producer',
    allowed: 'producer, none, gzip, snappy, lz4 or zstd',
    normalize: oneOf(['producer', 'none', 'gzip', 'snappy', 'lz4', 'zstd']),
  },
  'unclean.leader.election.enable': { defaultValue: 'false', allowed: 'true or false', normalize: oneOf(['true', 'false']) },
};

export const topicConfigKeys: readonly string[] = Object.keys(topicConfigDefs).sort();

function defOf(key: string): ConfigDef {
  const def = Object.hasOwn(topicConfigDefs, key) ? topicConfigDefs[key] : undefined;
  if (def === undefined) {
    throw new MetadataError('INVALID_CONFIG', `unknown topic config "${key}"; known keys: ${topicConfigKeys.join(', ')}`);
  }
  return def;
}

/** Validates and normalizes one value; throws INVALID_CONFIG naming the key and what is allowed. */
export function normalizeConfigValue(key: string, value: string): string {
  const def = defOf(key);
  const normalized = def.normalize(value);
  if (normalized === undefined) {
    throw new MetadataError('INVALID_CONFIG', `invalid value ${JSON.stringify(value)} for "${key}": expected ${def.allowed}`);
  }
  return normalized;
}

/**
 * Applies `set` and `deletes` to `current` and checks the cross-field rules against the
 * replication factor. Returns a new object with sorted keys (a canonical form).
 */
export function mergeTopicConfigs(
  current: Readonly<Record<string, string>>,
  set: Readonly<Record<string, string>>,
  deletes: readonly string[],
  replicationFactor: number,
): Record<string, string> {
  const next = new Map(Object.entries(current));
  for (const key of deletes) {
    defOf(key);
    if (Object.hasOwn(set, key)) throw new MetadataError('INVALID_CONFIG', `config "${key}" is both set and deleted`);
    next.delete(key);
  }
  for (const [key, value] of Object.entries(set)) next.set(key, normalizeConfigValue(key, value));
  // Checked only when set: a reassignment that lowered the replication factor must not block
  // unrelated config changes.
  const minIsr = next.get('min.insync.replicas');
  if (Object.hasOwn(set, 'min.insync.replicas') && minIsr !== undefined && Number(minIsr) > replicationFactor) {
    throw new MetadataError(
      'INVALID_CONFIG',
      `invalid value ${minIsr} for "min.insync.replicas": expected an integer from 1 to the replication factor (${replicationFactor})`,
    );
  }
  const sorted: Record<string, string> = {};
  for (const key of [...next.keys()].sort()) sorted[key] = next.get(key) ?? '';
  return sorted;
}

/** The config a topic runs with: stored values over Kafka's defaults, typed. */
export function effectiveTopicConfig(configs: Readonly<Record<string, string>>): TopicConfig {
  const get = (key: string): string => (Object.hasOwn(configs, key) ? configs[key] : undefined) ?? defOf(key).defaultValue;
  return {
    retentionMs: Number(get('retention.ms')),
    retentionBytes: Number(get('retention.bytes')),
    cleanupPolicy: get('cleanup.policy') as CleanupPolicy,
    deleteRetentionMs: Number(get('delete.retention.ms')),
    minInsyncReplicas: Number(get('min.insync.replicas')),
    maxMessageBytes: Number(get('max.message.bytes')),
    segmentBytes: Number(get('segment.bytes')),
    compressionType: get('compression.type') as CompressionType,
    uncleanLeaderElectionEnable: get('unclean.leader.election.enable') === 'true',
  };
}

/** Every key with its effective value and whether it is a default (DescribeConfigs). */
export function describeTopicConfigs(
  configs: Readonly<Record<string, string>>,
): { readonly key: string; readonly value: string; readonly isDefault: boolean }[] {
  return topicConfigKeys.map((key) => {
    const stored = Object.hasOwn(configs, key) ? configs[key] : undefined;
    return { key, value: stored ?? defOf(key).defaultValue, isDefault: stored === undefined };
  });
}
