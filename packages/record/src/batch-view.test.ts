import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchView, RECORD_BATCH_HEADER_BYTES, crc32c, decodeRecords, encodeBatch, splitBatches } from './index.js';
import { errorCodeSync, resealCrc } from './testing/util.js';

const sample = (baseOffset = 100): Promise<Buffer> =>
  encodeBatch(
    [
      { key: Buffer.from('a'), value: Buffer.from('one'), timestamp: 1_700_000_000_005 },
      { key: null, value: Buffer.from('two'), timestamp: 1_700_000_000_001 },
      { value: null, timestamp: 1_700_000_000_009 },
    ],
    { baseOffset, producerId: 4_000_000_000_123, producerEpoch: 7, baseSequence: 12, partitionLeaderEpoch: 5, isTransactional: true },
  );

describe('crc32c', () => {
  it('matches the CRC-32C check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });
});

describe('BatchView header fields', () => {
  it('reads every field at its Kafka offset', async () => {
    const bytes = await sample();
    const view = BatchView.parse(bytes);
    expect(bytes.readBigInt64BE(0)).toBe(100n);
    expect(view.baseOffset).toBe(100);
    expect(view.batchLength).toBe(bytes.length - 12);
    expect(view.sizeInBytes).toBe(bytes.length);
    expect(view.partitionLeaderEpoch).toBe(5);
    expect(bytes.readInt32BE(12)).toBe(5);
    expect(view.magic).toBe(2);
    expect(bytes[16]).toBe(2);
    expect(view.crc).toBe(bytes.readUInt32BE(17));
    expect(view.crc).toBe(crc32c(bytes.subarray(21)));
    expect(view.attributes).toBe(0x10);
    expect(view.compression).toBe('none');
    expect(view.timestampType).toBe('create');
    expect(view.isTransactional).toBe(true);
    expect(view.isControl).toBe(false);
    expect(view.hasDeleteHorizonMs).toBe(false);
    expect(view.lastOffsetDelta).toBe(2);
    expect(view.lastOffset).toBe(102);
    expect(view.nextOffset).toBe(103);
    expect(view.baseTimestamp).toBe(1_700_000_000_005);
    expect(bytes.readBigInt64BE(27)).toBe(1_700_000_000_005n);
    expect(view.maxTimestamp).toBe(1_700_000_000_009);
    expect(bytes.readBigInt64BE(35)).toBe(1_700_000_000_009n);
    expect(view.producerId).toBe(4_000_000_000_123);
    expect(bytes.readBigInt64BE(43)).toBe(4_000_000_000_123n);
    expect(view.producerEpoch).toBe(7);
    expect(view.baseSequence).toBe(12);
    expect(view.recordCount).toBe(3);
    expect(bytes.readInt32BE(57)).toBe(3);
    expect(RECORD_BATCH_HEADER_BYTES).toBe(61);
    expect(view.verifyCrc()).toBe(true);
    view.validate();
  });

  it('decodes every attribute bit', async () => {
    const bytes = await sample();
    const cases: [number, Partial<Record<'compression' | 'timestampType' | 'isTransactional' | 'isControl' | 'hasDeleteHorizonMs', unknown>>][] = [
      [0x00, { compression: 'none', timestampType: 'create', isTransactional: false, isControl: false, hasDeleteHorizonMs: false }],
      [0x01, { compression: 'gzip' }],
      [0x02, { compression: 'snappy' }],
      [0x03, { compression: 'lz4' }],
      [0x04, { compression: 'zstd' }],
      [0x08, { timestampType: 'log-append' }],
      [0x10, { isTransactional: true }],
      [0x20, { isControl: true }],
      [0x40, { hasDeleteHorizonMs: true }],
    ];
    for (const [attributes, expected] of cases) {
      bytes.writeInt16BE(attributes, 21);
      const view = BatchView.parse(bytes);
      expect(view).toMatchObject(expected);
    }
    for (const unknown of [5, 6, 7]) {
      bytes.writeInt16BE(unknown, 21);
      expect(errorCodeSync(() => BatchView.parse(bytes).compression)).toBe('UNSUPPORTED_COMPRESSION');
      expect(errorCodeSync(() => BatchView.parse(resealCrc(bytes)).validate())).toBe('UNSUPPORTED_COMPRESSION');
    }
  });

  it('is a zero-copy view at any position of a larger buffer', async () => {
    const batch = await sample();
    const outer = Buffer.concat([Buffer.alloc(7, 0xee), batch, Buffer.alloc(3, 0xee)]);
    const view = BatchView.parse(outer, 7);
    expect(view.bytes.equals(batch)).toBe(true);
    expect(view.bytes.buffer).toBe(outer.buffer);
    view.validate();
  });
});

describe('BatchView.parse rejects bad framing with a typed error', () => {
  it('TRUNCATED when the batch length or the batch does not fit', async () => {
    const bytes = await sample();
    expect(errorCodeSync(() => BatchView.parse(Buffer.alloc(0)))).toBe('TRUNCATED');
    expect(errorCodeSync(() => BatchView.parse(bytes.subarray(0, 11)))).toBe('TRUNCATED');
    expect(errorCodeSync(() => BatchView.parse(bytes.subarray(0, 17)))).toBe('TRUNCATED');
    expect(errorCodeSync(() => BatchView.parse(bytes.subarray(0, bytes.length - 1)))).toBe('TRUNCATED');
  });

  it('INVALID_LENGTH for a length below the header size or negative', async () => {
    const bytes = await sample();
    for (const length of [-1, -2147483648, 0, 48]) {
      const copy = Buffer.from(bytes);
      copy.writeInt32BE(length, 8);
      expect(errorCodeSync(() => BatchView.parse(copy))).toBe('INVALID_LENGTH');
    }
    expect(errorCodeSync(() => BatchView.parse(bytes, -1))).toBe('INVALID_LENGTH');
    expect(errorCodeSync(() => BatchView.parse(bytes, bytes.length + 1))).toBe('INVALID_LENGTH');
  });

  it('INVALID_MAGIC for magic 0, 1 and 3', async () => {
    const bytes = await sample();
    for (const magic of [0, 1, 3, -1]) {
      const copy = Buffer.from(bytes);
      copy.writeInt8(magic, 16);
      expect(errorCodeSync(() => BatchView.parse(copy))).toBe('INVALID_MAGIC');
    }
  });
});

describe('BatchView.validate', () => {
  it('detects any single bit flip in the CRC-covered bytes or the CRC itself', async () => {
    const bytes = await sample();
    fc.assert(
      fc.property(fc.integer({ min: 17, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 }), (index, bit) => {
        const copy = Buffer.from(bytes);
        copy[index] = copy[index]! ^ (1 << bit);
        expect(BatchView.parse(copy).verifyCrc()).toBe(false);
        expect(errorCodeSync(() => BatchView.parse(copy).validate())).toBe('CORRUPT_CRC');
      }),
    );
  });

  it('rejects int64 fields outside the safe-integer range with UNSAFE_INTEGER', async () => {
    const bytes = await sample();
    const tooBig = Buffer.from(bytes);
    tooBig.writeBigInt64BE(2n ** 53n, 0);
    expect(errorCodeSync(() => BatchView.parse(tooBig).baseOffset)).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => BatchView.parse(tooBig).validate())).toBe('UNSAFE_INTEGER');
    for (const field of [27, 35, 43]) {
      const copy = Buffer.from(bytes);
      copy.writeBigInt64BE(-(2n ** 63n), field);
      expect(errorCodeSync(() => BatchView.parse(resealCrc(copy)).validate())).toBe('UNSAFE_INTEGER');
    }
    const edge = Buffer.from(bytes);
    edge.writeBigInt64BE(2n ** 53n - 3n, 0);
    expect(BatchView.parse(edge).baseOffset).toBe(Number.MAX_SAFE_INTEGER - 2);
    expect(errorCodeSync(() => BatchView.parse(edge).nextOffset)).toBe('UNSAFE_INTEGER');
  });

  it('rejects negative counts and counts beyond the offset span', async () => {
    const negative = Buffer.from(await sample());
    negative.writeInt32BE(-1, 57);
    expect(errorCodeSync(() => BatchView.parse(resealCrc(negative)).validate())).toBe('INVALID_LENGTH');
    const tooMany = Buffer.from(await sample());
    tooMany.writeInt32BE(4, 57);
    expect(errorCodeSync(() => BatchView.parse(resealCrc(tooMany)).validate())).toBe('RECORD_COUNT_MISMATCH');
    const negativeDelta = Buffer.from(await sample());
    negativeDelta.writeInt32BE(-1, 23);
    expect(errorCodeSync(() => BatchView.parse(resealCrc(negativeDelta)).validate())).toBe('INVALID_LENGTH');
  });
});

describe('broker-side header rewrites', () => {
  it('setBaseOffset and setPartitionLeaderEpoch keep the CRC valid', async () => {
    const bytes = await sample(0);
    const crc = BatchView.parse(bytes).crc;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 10 }), fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }), (offset, epoch) => {
        const view = BatchView.parse(bytes);
        view.setBaseOffset(offset);
        view.setPartitionLeaderEpoch(epoch);
        expect(view.baseOffset).toBe(offset);
        expect(view.lastOffset).toBe(offset + 2);
        expect(view.partitionLeaderEpoch).toBe(epoch);
        expect(view.crc).toBe(crc);
        view.validate();
      }),
    );
  });

  it('setMaxTimestamp switches to log-append time and recomputes the CRC', async () => {
    const bytes = await sample(0);
    const view = BatchView.parse(bytes);
    view.setMaxTimestamp('log-append', 1_800_000_000_000);
    expect(view.timestampType).toBe('log-append');
    expect(view.maxTimestamp).toBe(1_800_000_000_000);
    expect(view.isTransactional).toBe(true);
    view.validate();
    const records = await decodeRecords(view);
    expect(records.map((r) => r.timestamp)).toEqual([1_800_000_000_000, 1_800_000_000_000, 1_800_000_000_000]);
    view.setMaxTimestamp('create', 1_700_000_000_009);
    expect((await decodeRecords(view)).map((r) => r.timestamp)).toEqual([1_700_000_000_005, 1_700_000_000_001, 1_700_000_000_009]);
    expect(bytes.equals(await sample(0))).toBe(true);
    expect(errorCodeSync(() => view.setMaxTimestamp('log-append', 2 ** 53))).toBe('UNSAFE_INTEGER');
  });

  it('refuses offsets and epochs that do not fit', async () => {
    const view = BatchView.parse(await sample(0));
    expect(errorCodeSync(() => view.setBaseOffset(-1))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => view.setBaseOffset(1.5))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => view.setBaseOffset(Number.MAX_SAFE_INTEGER))).toBe('UNSAFE_INTEGER');
    expect(errorCodeSync(() => view.setPartitionLeaderEpoch(2 ** 31))).toBe('INVALID_RECORD');
    expect(view.baseOffset).toBe(0);
  });
});

describe('splitBatches', () => {
  it('walks a concatenation of batches in order', async () => {
    const batches = await Promise.all([sample(0), sample(3), sample(6)]);
    const views = [...splitBatches(Buffer.concat(batches))];
    expect(views.map((v) => v.baseOffset)).toEqual([0, 3, 6]);
    expect(views.map((v) => v.sizeInBytes)).toEqual(batches.map((b) => b.length));
    expect([...splitBatches(Buffer.alloc(0))]).toEqual([]);
  });

  it('throws on a partial trailing batch after yielding the complete ones', async () => {
    const whole = Buffer.concat([await sample(0), await sample(3)]);
    const seen: number[] = [];
    const walk = (): void => {
      for (const view of splitBatches(whole.subarray(0, whole.length - 5))) seen.push(view.baseOffset);
    };
    expect(errorCodeSync(walk)).toBe('TRUNCATED');
    expect(seen).toEqual([0]);
  });
});
