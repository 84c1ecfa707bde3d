import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from './murmur2.js';

// Kafka's own vectors: org.apache.kafka.common.utils.UtilsTest#testMurmur2.
const KAFKA_VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

describe('murmur2', () => {
  it.each(KAFKA_VECTORS)('hashes %j as Kafka does', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });

  it('covers every tail length (0-3 trailing bytes) with Kafka-published values', () => {
    // Values published for Kafka's Utils.murmur2 (Akka's Murmur2Spec copies them from Kafka).
    expect(murmur2(Buffer.from('1'))).toBe(-1993445489);
    expect(murmur2(Buffer.from('12'))).toBe(126087238);
    expect(murmur2(Buffer.from('123'))).toBe(-267702483);
    expect(murmur2(Buffer.from('1234'))).toBe(-1614185708);
    expect(murmur2(Buffer.from('12345'))).toBe(-1188365604);
  });

  it('places keys as Kafka: toPositive(murmur2) % partitions', () => {
    // -973932308 & 0x7fffffff = 1173551340; 1173551340 % 16 = 12.
    expect(partitionForKey(Buffer.from('21'), 16)).toBe(12);
    // 479470107 % 7 = 3.
    expect(partitionForKey(Buffer.from('abc'), 7)).toBe(479470107 % 7);
  });

  it('returns a signed 32-bit value and an in-range partition for any key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 10_000 }), (bytes, partitions) => {
        const hash = murmur2(bytes);
        expect(hash).toBe(hash | 0);
        const partition = partitionForKey(bytes, partitions);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(partitions);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a non-positive partition count', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(RangeError);
  });
});
