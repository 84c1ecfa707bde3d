// Test-only fast-check arbitraries; not exported from the package entry.
import fc from 'fast-check';
import { type CompressionName, type Header, type RecordInput } from '../index.js';

export const COMPRESSIONS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const nullableBytes = (maxLength: number): fc.Arbitrary<Buffer | null> => fc.option(bytes(maxLength), { nil: null, freq: 4 });

export const headerArb: fc.Arbitrary<Header> = fc.record({
  key: fc.string({ unit: 'grapheme', maxLength: 12 }),
  value: nullableBytes(40),
});

/** Timestamps stay within ±2^50 so every delta between two of them is a safe integer. */
export const timestampArb = fc.integer({ min: -(2 ** 50), max: 2 ** 50 });

export const recordInputArb: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: nullableBytes(60),
    value: nullableBytes(300),
    headers: fc.array(headerArb, { maxLength: 4 }),
    timestamp: timestampArb,
  },
  { requiredKeys: ['value'] },
);
