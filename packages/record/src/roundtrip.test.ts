import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchView, decodeRecords, encodeBatch, iterateRecords, type Record } from './index.js';
import { COMPRESSIONS, recordInputArb } from './testing/arbitraries.js';

const NOW = 1_700_000_000_000;

describe('encode → decode identity for arbitrary records', () => {
  for (const compression of COMPRESSIONS) {
    it(`${compression}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(recordInputArb, { maxLength: 30 }),
          fc.record({
            baseOffset: fc.integer({ min: 0, max: 2 ** 52 }),
            producerId: fc.integer({ min: -1, max: 2 ** 52 }),
            producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
            baseSequence: fc.integer({ min: -1, max: 0x7fff_ffff }),
            partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fff_ffff }),
            isTransactional: fc.boolean(),
            isControl: fc.boolean(),
          }),
          async (records, opts) => {
            const bytes = await encodeBatch(records, { ...opts, compression, now: () => NOW });
            const view = BatchView.parse(bytes);
            view.validate();
            expect(view.sizeInBytes).toBe(bytes.length);
            expect(view.compression).toBe(compression);
            expect(view.baseOffset).toBe(opts.baseOffset);
            expect(view.producerId).toBe(opts.producerId);
            expect(view.producerEpoch).toBe(opts.producerEpoch);
            expect(view.baseSequence).toBe(opts.baseSequence);
            expect(view.partitionLeaderEpoch).toBe(opts.partitionLeaderEpoch);
            expect(view.isTransactional).toBe(opts.isTransactional);
            expect(view.isControl).toBe(opts.isControl);
            expect(view.recordCount).toBe(records.length);
            expect(view.lastOffsetDelta).toBe(Math.max(0, records.length - 1));
            const timestamps = records.map((r) => r.timestamp ?? NOW);
            expect(view.baseTimestamp).toBe(records.length === 0 ? -1 : timestamps[0]);
            expect(view.maxTimestamp).toBe(records.length === 0 ? -1 : Math.max(...timestamps));

            const decoded = await decodeRecords(view);
            const expected: Record[] = records.map((r, i) => ({
              offset: opts.baseOffset + i,
              timestamp: timestamps[i]!,
              key: r.key ?? null,
              value: r.value,
              headers: r.headers ?? [],
              offsetDelta: i,
              timestampDelta: timestamps[i]! - timestamps[0]!,
              attributes: 0,
            }));
            expect(decoded).toEqual(expected);
            const iterated: Record[] = [];
            for await (const record of iterateRecords(view)) iterated.push(record);
            expect(iterated).toEqual(expected);
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});

describe('log-append time', () => {
  it('stores the append time as maxTimestamp and readers see it on every record', async () => {
    for (const compression of COMPRESSIONS) {
      const bytes = await encodeBatch(
        [
          { value: Buffer.from('a'), timestamp: 1000 },
          { value: Buffer.from('b'), timestamp: 1500 },
        ],
        { compression, timestampType: 'log-append', now: () => 9999 },
      );
      const view = BatchView.parse(bytes);
      expect(view.timestampType).toBe('log-append');
      expect(view.baseTimestamp).toBe(1000);
      expect(view.maxTimestamp).toBe(9999);
      const records = await decodeRecords(view);
      expect(records.map((r) => [r.timestamp, r.timestampDelta])).toEqual([
        [9999, 0],
        [9999, 500],
      ]);
    }
  });
});
