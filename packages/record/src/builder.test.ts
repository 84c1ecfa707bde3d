import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchBuilder, BatchView, RECORD_BATCH_HEADER_BYTES, decodeRecords, encodeBatch } from './index.js';
import { COMPRESSIONS, recordInputArb } from './testing/arbitraries.js';
import { errorCode, errorCodeSync } from './testing/util.js';

describe('BatchBuilder byte budget', () => {
  it('takes records until the next one would cross batchBytesMax; estimatedBytes is the sealed size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordInputArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4000 }), async (records, batchBytesMax) => {
        const builder = new BatchBuilder({ batchBytesMax });
        let taken = 0;
        for (const record of records) {
          const before = builder.estimatedBytes;
          if (!builder.tryAppend(record)) {
            expect(builder.estimatedBytes).toBe(before);
            break;
          }
          taken++;
        }
        expect(taken).toBeGreaterThanOrEqual(1); // the first record is always taken
        expect(builder.recordCount).toBe(taken);
        if (taken > 1) expect(builder.estimatedBytes).toBeLessThanOrEqual(batchBytesMax);
        const estimated = builder.estimatedBytes;
        const sealed = await builder.seal();
        expect(sealed.length).toBe(estimated);
        expect((await decodeRecords(BatchView.parse(sealed))).length).toBe(taken);
      }),
      { numRuns: 80 },
    );
  });

  it('a record that does not fit leaves the batch unchanged and the builder usable', async () => {
    const builder = new BatchBuilder({ batchBytesMax: 200 });
    expect(builder.tryAppend({ value: Buffer.alloc(100) })).toBe(true);
    expect(builder.tryAppend({ value: Buffer.alloc(100) })).toBe(false);
    expect(builder.tryAppend({ value: Buffer.alloc(10) })).toBe(true);
    const records = await decodeRecords(BatchView.parse(await builder.seal()));
    expect(records.map((r) => [r.offset, r.value?.length])).toEqual([
      [0, 100],
      [1, 10],
    ]);
  });

  it('an empty builder starts at the header size and seals an empty batch', async () => {
    for (const compression of COMPRESSIONS) {
      const builder = new BatchBuilder({ compression });
      expect(builder.estimatedBytes).toBe(RECORD_BATCH_HEADER_BYTES);
      expect(builder.recordCount).toBe(0);
      const view = BatchView.parse(await builder.seal());
      view.validate();
      expect(view.recordCount).toBe(0);
      expect(await decodeRecords(view)).toEqual([]);
    }
  });
});

describe('BatchBuilder timestamps and defaults', () => {
  it('uses the clock for records without a timestamp; base is the first, max the largest', async () => {
    let clock = 500;
    const builder = new BatchBuilder({ now: () => clock });
    builder.tryAppend({ value: null });
    clock = 400;
    builder.tryAppend({ value: null });
    builder.tryAppend({ value: null, timestamp: 800 });
    const view = BatchView.parse(await builder.seal());
    expect(view.baseTimestamp).toBe(500);
    expect(view.maxTimestamp).toBe(800);
    expect((await decodeRecords(view)).map((r) => [r.timestamp, r.timestampDelta])).toEqual([
      [500, 0],
      [400, -100],
      [800, 300],
    ]);
  });

  it('accepts plain Uint8Arrays (wrapped, not copied) for keys, values and header values', async () => {
    // The declared type is Buffer; plain Uint8Arrays from loosely typed callers still work.
    const u8 = new Uint8Array([9, 8, 7, 6]).subarray(1, 3) as Buffer;
    const view = BatchView.parse(await encodeBatch([{ key: u8, value: u8, headers: [{ key: 'h', value: u8 }], timestamp: 1 }]));
    const [record] = await decodeRecords(view);
    expect([record!.key, record!.value, record!.headers[0]!.value].map((b) => b?.toString('hex'))).toEqual(['0807', '0807', '0807']);
  });

  it('defaults to Kafka sentinels: no producer id, epoch, sequence, leader epoch', async () => {
    const view = BatchView.parse(await encodeBatch([{ value: Buffer.from('x'), timestamp: 1 }]));
    expect([view.baseOffset, view.producerId, view.producerEpoch, view.baseSequence, view.partitionLeaderEpoch]).toEqual([0, -1, -1, -1, -1]);
    expect([view.compression, view.timestampType, view.isTransactional, view.isControl]).toEqual(['none', 'create', false, false]);
  });
});

describe('BatchBuilder rejects bad input with RecordError', () => {
  it('bad options', () => {
    expect(errorCodeSync(() => new BatchBuilder({ baseOffset: -1 }))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => new BatchBuilder({ baseOffset: 2 ** 53 }))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => new BatchBuilder({ producerId: 2 ** 60 }))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => new BatchBuilder({ producerEpoch: 40000 }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => new BatchBuilder({ baseSequence: 2 ** 31 }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => new BatchBuilder({ partitionLeaderEpoch: 0.5 }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => new BatchBuilder({ batchBytesMax: 0 }))).toBe('INVALID_LENGTH');
    expect(errorCodeSync(() => new BatchBuilder({ compression: 'brotli' as never }))).toBe('UNSUPPORTED_COMPRESSION');
  });

  it('bad records leave the builder unchanged', async () => {
    const builder = new BatchBuilder();
    builder.tryAppend({ value: Buffer.from('ok'), timestamp: 10 });
    const before = builder.estimatedBytes;
    expect(errorCodeSync(() => builder.tryAppend({ value: 'text' as never }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, key: 7 as never }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, headers: [{ key: 'h', value: 'v' as never }] }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, headers: [null as never] }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, headers: 'h' as never }))).toBe('INVALID_RECORD');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, timestamp: 1.5 }))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => builder.tryAppend({ value: null, timestamp: Number.MIN_SAFE_INTEGER }))).toBe('UNSAFE_INTEGER');
    expect(builder.estimatedBytes).toBe(before);
    expect(builder.recordCount).toBe(1);
    await builder.seal();
    expect(errorCodeSync(() => builder.tryAppend({ value: null }))).toBe('INVALID_RECORD');
    expect(await errorCode(() => builder.seal())).toBe('INVALID_RECORD');
  });
});
