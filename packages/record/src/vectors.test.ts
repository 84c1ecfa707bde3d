import { describe, expect, it } from 'vitest';
import { checkVector, loadVectors } from './testing/vectors.js';

// Vectors generated from Apache Kafka's own Java client by the interop helper.
const VECTORS_DIR = new URL('../../../test/vectors/', import.meta.url);
const vectors = loadVectors(VECTORS_DIR);

describe('Kafka test vectors (test/vectors)', () => {
  it('the vectors folder holds at least one vector', () => {
    expect(vectors.length).toBeGreaterThan(0);
  });

  for (const { file, vector } of vectors) {
    it(`${file}: ${vector.name}`, async () => {
      await checkVector(vector);
    });
  }
});
