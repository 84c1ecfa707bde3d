import { BATCH_HEADER_BYTES, encodeWithGaps, invalidRecord, parseBatchHeader } from './batch.js';
import { StorageError } from './errors.js';

/**
 * Deprecated helpers kept only because apps/broker (tests, the replication simulator and the
 * follower) still import them from '@streambus/storage'. Storage itself no longer uses them:
 * new code should use @streambus/record (BatchView, encodeBatch, decodeRecords). Remove once
 * the broker has moved.
 */
export { parseBatchHeader };

export interface SimpleRecord {
  readonly key?: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp?: number;
}

function asBuf(b: Uint8Array | null | undefined): Buffer | null {
  if (b === null || b === undefined) return null;
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** @deprecated use encodeBatch from @streambus/record. An uncompressed batch, baseOffset 0 (synchronous). */
export function encodeSimpleBatch(records: readonly SimpleRecord[], options: { partitionLeaderEpoch?: number; timestamp?: number } = {}): Buffer {
  if (records.length === 0) throw new StorageError('INVALID_RECORD', 'a batch needs at least one record');
  const fallback = options.timestamp ?? 0;
  const stamps = records.map((r) => r.timestamp ?? fallback);
  const baseTimestamp = stamps[0] ?? fallback;
  const maxTimestamp = Math.max(...stamps);
  const header = Buffer.alloc(BATCH_HEADER_BYTES);
  header.writeInt32BE(options.partitionLeaderEpoch ?? -1, 12);
  header.writeInt8(2, 16);
  header.writeInt32BE(records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(maxTimestamp), 35);
  header.writeBigInt64BE(-1n, 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  return encodeWithGaps(
    header,
    records.map((r, i) => ({ offsetDelta: i, timestampDelta: (stamps[i] ?? fallback) - baseTimestamp, key: asBuf(r.key), value: asBuf(r.value) })),
  );
}

export interface RecordSlice {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Buffer | null;
  readonly valueIsNull: boolean;
  readonly start: number;
  readonly end: number;
}

/**
 * @deprecated use decodeRecords from @streambus/record (asynchronous, every codec). Synchronous
 * walk of an uncompressed batch's records.
 */
export function readRecords(batch: Buffer): RecordSlice[] {
  const info = parseBatchHeader(batch, 0);
  if (info.compression !== 0) throw new StorageError('INVALID_RECORD', 'readRecords needs an uncompressed batch');
  const end = info.sizeInBytes;
  let pos = BATCH_HEADER_BYTES;
  const varint = (): number => {
    let raw = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= end || shift > 63) throw invalidRecord(new Error('varint runs past the batch'), 'readRecords');
      const b = batch[pos++] ?? 0;
      raw += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  };
  const skip = (n: number): Buffer => {
    if (n < 0 || pos + n > end) throw new StorageError('INVALID_RECORD', 'field runs past the batch');
    pos += n;
    return batch.subarray(pos - n, pos);
  };
  const out: RecordSlice[] = [];
  for (let i = 0; i < info.recordCount; i++) {
    const start = pos;
    const length = varint();
    const bodyEnd = pos + length;
    if (length < 0 || bodyEnd > end) throw new StorageError('INVALID_RECORD', 'record length runs past the batch');
    skip(1);
    const timestampDelta = varint();
    const offsetDelta = varint();
    const keyLength = varint();
    const key = keyLength < 0 ? null : skip(keyLength);
    const valueLength = varint();
    if (valueLength >= 0) skip(valueLength);
    pos = bodyEnd;
    out.push({ offsetDelta, timestampDelta, key, valueIsNull: valueLength < 0, start, end: bodyEnd });
  }
  return out;
}
