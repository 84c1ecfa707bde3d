import { describe, expect, it } from 'vitest';
import { BatchView, decodeRecords, encodeBatch, iterateRecords, type RecordInput } from './index.js';
import { errorCode, resealCrc } from './testing/util.js';

const records: RecordInput[] = [
  { key: Buffer.from('k0'), value: Buffer.from('v0'), timestamp: 10, headers: [{ key: 'a', value: Buffer.from('1') }] },
  { key: null, value: Buffer.from('v1'), timestamp: 11 },
  { key: Buffer.from('k2'), value: null, timestamp: 12 },
];

async function collect(view: BatchView): Promise<number> {
  let n = 0;
  for await (const _ of iterateRecords(view)) n++;
  return n;
}

describe('decodeRecords on malformed record data', () => {
  it('checks the CRC first unless told the bytes are already validated', async () => {
    const bytes = await encodeBatch(records);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    expect(await errorCode(() => decodeRecords(BatchView.parse(bytes)))).toBe('CORRUPT_CRC');
    expect(await errorCode(() => collect(BatchView.parse(bytes)))).toBe('CORRUPT_CRC');
    // Last byte is the headers count of the last record: 0 ^ 0xff is an unfinished varint.
    expect(await errorCode(() => decodeRecords(BatchView.parse(bytes), { verifyCrc: false }))).toBe('INVALID_RECORD');
  });

  it('RECORD_COUNT_MISMATCH when the count is larger or smaller than the records present', async () => {
    const more = await encodeBatch(records);
    more.writeInt32BE(4, 57);
    more.writeInt32BE(3, 23);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(more))))).toBe('RECORD_COUNT_MISMATCH');
    const fewer = await encodeBatch(records);
    fewer.writeInt32BE(2, 57);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(fewer))))).toBe('RECORD_COUNT_MISMATCH');
    expect(await errorCode(() => collect(BatchView.parse(fewer)))).toBe('RECORD_COUNT_MISMATCH');
    const huge = await encodeBatch(records);
    huge.writeInt32BE(0x7fff_ffff, 57);
    huge.writeInt32BE(0x7fff_fffe, 23);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(huge))))).toBe('RECORD_COUNT_MISMATCH');
  });

  it('INVALID_RECORD when a record runs past its batch or its fields disagree with its length', async () => {
    const longer = await encodeBatch(records);
    // First record's length varint sits right after the header; make it claim 63 bytes,
    // more than the whole record data of this batch.
    expect(longer.length - 61).toBeLessThan(63);
    longer[61] = 0x7e;
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(longer))))).toBe('INVALID_RECORD');
    const keyTooLong = await encodeBatch([{ key: Buffer.from('k'), value: null, timestamp: 0 }]);
    // length, attributes, tsDelta, offsetDelta, then key length at 65: claim 3 bytes.
    keyTooLong.writeUInt8(6, 65);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(keyTooLong))))).toBe('INVALID_RECORD');
    keyTooLong.writeUInt8(20, 65);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(keyTooLong))))).toBe('INVALID_RECORD');
    const negativeKey = await encodeBatch([{ key: Buffer.from('k'), value: null, timestamp: 0 }]);
    negativeKey.writeUInt8(3, 65); // zig-zag 3 = -2
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(negativeKey))))).toBe('INVALID_RECORD');
  });

  it('UNSUPPORTED_COMPRESSION for codec ids 5-7', async () => {
    const bytes = await encodeBatch(records);
    bytes.writeInt16BE(6, 21);
    expect(await errorCode(() => decodeRecords(BatchView.parse(resealCrc(bytes))))).toBe('UNSUPPORTED_COMPRESSION');
  });

  it('DECOMPRESSED_TOO_LARGE when the records inflate past decompressedBytesMax', async () => {
    const big = Array.from({ length: 100 }, (_, i) => ({ value: Buffer.alloc(1000, i), timestamp: i }));
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const view = BatchView.parse(await encodeBatch(big, { compression }));
      expect(await errorCode(() => decodeRecords(view, { decompressedBytesMax: 10_000 }))).toBe('DECOMPRESSED_TOO_LARGE');
      expect((await decodeRecords(view, { decompressedBytesMax: 1024 * 1024 })).length).toBe(100);
    }
  });

  it('iterateRecords yields the same records as decodeRecords', async () => {
    const view = BatchView.parse(await encodeBatch(records, { compression: 'zstd', baseOffset: 7 }));
    const all = await decodeRecords(view);
    const iterated = [];
    for await (const record of iterateRecords(view)) iterated.push(record);
    expect(iterated).toEqual(all);
    expect(all.map((r) => r.offset)).toEqual([7, 8, 9]);
  });
});
