import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataError, describeTopicConfigs, effectiveTopicConfig, mergeTopicConfigs, normalizeConfigValue, topicConfigKeys } from './index.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MetadataError && err.code === 'INVALID_CONFIG') return err.message;
    throw err;
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('topic configs', () => {
  it("has Kafka's defaults (segment.bytes sized for SSTables)", () => {
    expect(effectiveTopicConfig({})).toEqual({
      retentionMs: 604_800_000,
      retentionBytes: -1,
      cleanupPolicy: 'delete',
      deleteRetentionMs: 86_400_000,
      minInsyncReplicas: 1,
      maxMessageBytes: 1_048_588,
      segmentBytes: 67_108_864,
      compressionType: 'producer',
      uncleanLeaderElectionEnable: false,
    });
  });

  it.each<[string, string, string]>([
    ['retention.ms', '-1', '-1'],
    ['retention.ms', '0', '0'],
    ['retention.bytes', '1073741824', '1073741824'],
    ['cleanup.policy', 'compact', 'compact'],
    ['cleanup.policy', 'delete,compact', 'compact,delete'],
    ['cleanup.policy', ' Compact , DELETE ', 'compact,delete'],
    ['delete.retention.ms', '0', '0'],
    ['min.insync.replicas', '2', '2'],
    ['max.message.bytes', '0', '0'],
    ['segment.bytes', '1024', '1024'],
    ['compression.type', 'ZSTD', 'zstd'],
    ['compression.type', 'none', 'none'],
    ['unclean.leader.election.enable', 'TRUE', 'true'],
  ])('normalizes %s=%j to %j', (key, value, normalized) => {
    expect(normalizeConfigValue(key, value)).toBe(normalized);
  });

  it.each<[string, string]>([
    ['retention.ms', '-2'],
    ['retention.ms', '1.5'],
    ['retention.ms', '1e3'],
    ['retention.ms', '+5'],
    ['retention.ms', '007'],
    ['retention.ms', ''],
    ['retention.ms', '9007199254740992'],
    ['retention.bytes', '-5'],
    ['cleanup.policy', 'compact,compact'],
    ['cleanup.policy', 'archive'],
    ['cleanup.policy', ''],
    ['delete.retention.ms', '-1'],
    ['min.insync.replicas', '0'],
    ['max.message.bytes', '2147483648'],
    ['segment.bytes', '1023'],
    ['compression.type', 'brotli'],
    ['unclean.leader.election.enable', 'yes'],
  ])('rejects %s=%j naming the key and what is allowed', (key, value) => {
    const message = configError(() => normalizeConfigValue(key, value));
    expect(message).toContain(`"${key}"`);
    expect(message).toContain('expected');
  });

  it('rejects unknown keys listing the known ones', () => {
    const message = configError(() => normalizeConfigValue('retention.hours', '1'));
    expect(message).toContain('retention.hours');
    expect(message).toContain('retention.ms');
  });

  it('rejects a key inherited from Object.prototype as unknown', () => {
    configError(() => normalizeConfigValue('toString', '1'));
    configError(() => normalizeConfigValue('__proto__', '1'));
  });

  it('checks min.insync.replicas against the replication factor only when it is set', () => {
    configError(() => mergeTopicConfigs({}, { 'min.insync.replicas': '3' }, [], 2));
    expect(mergeTopicConfigs({ 'min.insync.replicas': '3' }, { 'retention.ms': '5' }, [], 2)).toEqual({ 'min.insync.replicas': '3', 'retention.ms': '5' });
  });

  it('describes every key with its value and whether it is a default', () => {
    const described = describeTopicConfigs({ 'retention.ms': '5' });
    expect(described.map((c) => c.key)).toEqual(topicConfigKeys);
    expect(described.find((c) => c.key === 'retention.ms')).toEqual({ key: 'retention.ms', value: '5', isDefault: false });
    expect(described.find((c) => c.key === 'cleanup.policy')).toEqual({ key: 'cleanup.policy', value: 'delete', isDefault: true });
  });

  it('normalizing is idempotent and never throws anything but INVALID_CONFIG', () => {
    fc.assert(
      fc.property(fc.constantFrom(...topicConfigKeys), fc.string({ maxLength: 24 }), (key, value) => {
        let normalized: string;
        try {
          normalized = normalizeConfigValue(key, value);
        } catch (err) {
          return err instanceof MetadataError && err.code === 'INVALID_CONFIG';
        }
        return normalizeConfigValue(key, normalized) === normalized;
      }),
      { numRuns: 2_000 },
    );
  });
});
