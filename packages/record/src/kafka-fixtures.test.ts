import { describe, expect, it } from 'vitest';
import { checkVector, loadVectors } from './testing/vectors.js';

// Batches written by kafka-clients 4.1.1 (MemoryRecordsBuilder) for this package, in the
// same format as test/vectors: one per codec, multi-block snappy/lz4, log-append time.
const fixtures = loadVectors(new URL('./fixtures/', import.meta.url));

describe('batches written by the Kafka Java client (local fixtures)', () => {
  it('every codec is covered', () => {
    const codecs = new Set(fixtures.map(({ vector }) => vector.batch.compression));
    expect([...codecs].sort()).toEqual(['gzip', 'lz4', 'none', 'snappy', 'zstd']);
  });

  for (const { file, vector } of fixtures) {
    it(file, async () => {
      await checkVector(vector);
    });
  }
});
