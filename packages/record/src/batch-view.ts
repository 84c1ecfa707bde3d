import { crc32c } from './crc32c.js';
import { RecordError } from './errors.js';
import { assertInt32, readInt64, writeInt64 } from './int64.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_MIN,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_BY_ID,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  DELETE_HORIZON_FLAG_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORD_BATCH_HEADER_BYTES,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  type CompressionName,
} from './layout.js';

/**
 * A zero-copy view over one RecordBatch v2 inside a larger buffer. Parsing checks only
 * what is needed to know where the batch ends (length and magic); records are never
 * decoded here, which is what lets the broker validate and store batches without
 * decompressing them.
 */
export class BatchView {
  /** Exactly this batch's bytes: a subarray sharing memory with the parsed buffer. */
  readonly bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** Throws RecordError: TRUNCATED, INVALID_LENGTH or INVALID_MAGIC. */
  static parse(buf: Buffer, position = 0): BatchView {
    if (!Number.isInteger(position) || position < 0 || position > buf.length) {
      throw new RecordError('INVALID_LENGTH', `position ${position} is outside a buffer of ${buf.length} bytes`);
    }
    const remaining = buf.length - position;
    if (remaining < LOG_OVERHEAD_BYTES) {
      throw new RecordError('TRUNCATED', `need ${LOG_OVERHEAD_BYTES} bytes for the batch length, have ${remaining}`);
    }
    const batchLength = buf.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (batchLength < BATCH_LENGTH_MIN) {
      throw new RecordError('INVALID_LENGTH', `batchLength ${batchLength} is below the minimum ${BATCH_LENGTH_MIN}`);
    }
    // Magic is checked before completeness so that a non-v2 stream is reported as such
    // even when its length field points past the end.
    if (remaining > MAGIC_OFFSET) {
      const magic = buf.readInt8(position + MAGIC_OFFSET);
      if (magic !== MAGIC_V2) {
        throw new RecordError('INVALID_MAGIC', `magic ${magic} is not ${MAGIC_V2}`);
      }
    }
    const sizeInBytes = batchLength + LOG_OVERHEAD_BYTES;
    if (sizeInBytes > remaining) {
      throw new RecordError('TRUNCATED', `batch needs ${sizeInBytes} bytes, only ${remaining} remain`);
    }
    return new BatchView(buf.subarray(position, position + sizeInBytes));
  }

  get baseOffset(): number {
    return readInt64(this.bytes, BASE_OFFSET_OFFSET, 'baseOffset');
  }
  get batchLength(): number {
    return this.bytes.readInt32BE(BATCH_LENGTH_OFFSET);
  }
  get sizeInBytes(): number {
    return this.bytes.length;
  }
  get partitionLeaderEpoch(): number {
    return this.bytes.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET);
  }
  get magic(): number {
    return this.bytes.readInt8(MAGIC_OFFSET);
  }
  get crc(): number {
    return this.bytes.readUInt32BE(CRC_OFFSET);
  }
  get attributes(): number {
    return this.bytes.readInt16BE(ATTRIBUTES_OFFSET);
  }
  get compression(): CompressionName {
    const id = this.attributes & COMPRESSION_CODEC_MASK;
    const name = COMPRESSION_BY_ID[id];
    if (name === undefined) {
      throw new RecordError('UNSUPPORTED_COMPRESSION', `compression codec id ${id} is not known`);
    }
    return name;
  }
  get timestampType(): 'create' | 'log-append' {
    return (this.attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 'log-append' : 'create';
  }
  get isTransactional(): boolean {
    return (this.attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & CONTROL_FLAG_MASK) !== 0;
  }
  /** KIP-534: when set, baseTimestamp holds the delete horizon of a compacted batch. */
  get hasDeleteHorizonMs(): boolean {
    return (this.attributes & DELETE_HORIZON_FLAG_MASK) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.bytes.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  }
  get lastOffset(): number {
    const lastOffset = this.baseOffset + this.lastOffsetDelta;
    if (!Number.isSafeInteger(lastOffset)) {
      throw new RecordError('UNSAFE_INTEGER', `lastOffset ${lastOffset} does not fit a safe integer`);
    }
    return lastOffset;
  }
  get nextOffset(): number {
    const nextOffset = this.lastOffset + 1;
    if (!Number.isSafeInteger(nextOffset)) {
      throw new RecordError('UNSAFE_INTEGER', `nextOffset ${nextOffset} does not fit a safe integer`);
    }
    return nextOffset;
  }
  get baseTimestamp(): number {
    return readInt64(this.bytes, BASE_TIMESTAMP_OFFSET, 'baseTimestamp');
  }
  get maxTimestamp(): number {
    return readInt64(this.bytes, MAX_TIMESTAMP_OFFSET, 'maxTimestamp');
  }
  get producerId(): number {
    return readInt64(this.bytes, PRODUCER_ID_OFFSET, 'producerId');
  }
  get producerEpoch(): number {
    return this.bytes.readInt16BE(PRODUCER_EPOCH_OFFSET);
  }
  get baseSequence(): number {
    return this.bytes.readInt32BE(BASE_SEQUENCE_OFFSET);
  }
  get recordCount(): number {
    return this.bytes.readInt32BE(RECORDS_COUNT_OFFSET);
  }

  /** CRC-32C over attributes..end, i.e. everything the broker never rewrites. */
  computeCrc(): number {
    return crc32c(this.bytes.subarray(ATTRIBUTES_OFFSET));
  }

  verifyCrc(): boolean {
    return this.computeCrc() === this.crc;
  }

  /**
   * Header sanity and CRC, without touching the records. Throws RecordError:
   * INVALID_MAGIC, INVALID_LENGTH, UNSUPPORTED_COMPRESSION, UNSAFE_INTEGER, CORRUPT_CRC.
   */
  validate(): void {
    if (this.magic !== MAGIC_V2) {
      throw new RecordError('INVALID_MAGIC', `magic ${this.magic} is not ${MAGIC_V2}`);
    }
    if (this.batchLength + LOG_OVERHEAD_BYTES !== this.bytes.length || this.bytes.length < RECORD_BATCH_HEADER_BYTES) {
      throw new RecordError('INVALID_LENGTH', `batchLength ${this.batchLength} disagrees with the view of ${this.bytes.length} bytes`);
    }
    // The CRC goes first: a flipped bit anywhere is reported as corruption, not as
    // whichever header field it happened to land in.
    const computed = this.computeCrc();
    const stored = this.crc;
    if (computed !== stored) {
      throw new RecordError('CORRUPT_CRC', `stored crc ${stored} != computed ${computed}`);
    }
    void this.compression;
    const baseOffset = this.baseOffset;
    if (baseOffset < 0) {
      throw new RecordError('INVALID_LENGTH', `baseOffset ${baseOffset} is negative`);
    }
    const lastOffsetDelta = this.lastOffsetDelta;
    if (lastOffsetDelta < 0) {
      throw new RecordError('INVALID_LENGTH', `lastOffsetDelta ${lastOffsetDelta} is negative`);
    }
    const recordCount = this.recordCount;
    if (recordCount < 0) {
      throw new RecordError('INVALID_LENGTH', `recordCount ${recordCount} is negative`);
    }
    // Compaction may remove records but never adds offsets, so the count is bounded
    // by the offset span of the batch.
    if (recordCount > lastOffsetDelta + 1) {
      throw new RecordError('RECORD_COUNT_MISMATCH', `recordCount ${recordCount} exceeds the offset span ${lastOffsetDelta + 1}`);
    }
    void this.nextOffset;
    void this.baseTimestamp;
    void this.maxTimestamp;
    void this.producerId;
  }

  /** Rewrites baseOffset in place. The CRC does not cover it, so it stays valid. */
  setBaseOffset(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RecordError('UNSAFE_INTEGER', `baseOffset must be a non-negative safe integer, got ${String(offset)}`);
    }
    if (!Number.isSafeInteger(offset + this.lastOffsetDelta + 1)) {
      throw new RecordError('UNSAFE_INTEGER', `baseOffset ${offset} would push nextOffset past the safe-integer range`);
    }
    writeInt64(this.bytes, BASE_OFFSET_OFFSET, offset, 'baseOffset');
  }

  /**
   * Kafka's LogAppendTime rewrite (message.timestamp.type=LogAppendTime): sets the
   * timestamp-type bit and maxTimestamp, then recomputes the CRC because both are
   * covered by it. Header-only: records are neither decoded nor decompressed.
   */
  setMaxTimestamp(timestampType: 'create' | 'log-append', maxTimestamp: number): void {
    if (!Number.isSafeInteger(maxTimestamp)) {
      throw new RecordError('UNSAFE_INTEGER', `maxTimestamp must be a safe integer, got ${String(maxTimestamp)}`);
    }
    const attributes = this.attributes;
    const next = timestampType === 'log-append' ? attributes | TIMESTAMP_TYPE_MASK : attributes & ~TIMESTAMP_TYPE_MASK;
    if (next === attributes && this.maxTimestamp === maxTimestamp) return;
    this.bytes.writeInt16BE(next, ATTRIBUTES_OFFSET);
    writeInt64(this.bytes, MAX_TIMESTAMP_OFFSET, maxTimestamp, 'maxTimestamp');
    this.bytes.writeUInt32BE(this.computeCrc(), CRC_OFFSET);
  }

  /** Rewrites partitionLeaderEpoch in place. The CRC does not cover it, so it stays valid. */
  setPartitionLeaderEpoch(epoch: number): void {
    assertInt32(epoch, 'partitionLeaderEpoch');
    this.bytes.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
  }
}

/**
 * Walks a concatenation of batches (a produce request, a fetch response, a stored block).
 * Yields each batch as a view; throws RecordError at the first partial or malformed one.
 */
export function* splitBatches(buf: Buffer): Generator<BatchView> {
  let position = 0;
  while (position < buf.length) {
    const batch = BatchView.parse(buf, position);
    position += batch.sizeInBytes;
    yield batch;
  }
}
