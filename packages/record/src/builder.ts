import { compressRecords } from './codecs.js';
import { crc32c } from './crc32c.js';
import { RecordError } from './errors.js';
import { assertInt16, assertInt32, writeInt64 } from './int64.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD_BYTES,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  RECORD_BATCH_HEADER_BYTES,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  compressionId,
  type CompressionName,
} from './layout.js';
import { type Header, type RecordInput, sizeOfRecordBody, writeRecord } from './record.js';
import { sizeOfVarint } from './varint.js';

export interface BatchBuilderOptions {
  baseOffset?: number;
  compression?: CompressionName;
  /** Budget for the uncompressed batch (header + records); the first record is always taken. */
  batchBytesMax?: number;
  timestampType?: 'create' | 'log-append';
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  partitionLeaderEpoch?: number;
  /** Clock for records without a timestamp and for log-append time. Defaults to Date.now. */
  now?: () => number;
}

/** Kafka's default max.message.bytes is ~1 MiB; a batch bigger than that would be refused anyway. */
export const BATCH_BYTES_MAX_DEFAULT = 1024 * 1024;
const INITIAL_CAPACITY_BYTES = 4096;
/** A batch cannot address more records than an int32 offset delta allows. */
const RECORDS_PER_BATCH_MAX = 0x7fff_ffff;

const COMPRESSIONS: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/**
 * Accumulates records into one RecordBatch v2. Records are serialised as they are
 * appended (so estimatedBytes is exact before compression); seal() compresses, writes
 * the header and sets the CRC.
 */
export class BatchBuilder {
  private readonly baseOffset: number;
  private readonly compression: CompressionName;
  private readonly batchBytesMax: number;
  private readonly timestampType: 'create' | 'log-append';
  private readonly producerId: number;
  private readonly producerEpoch: number;
  private readonly baseSequence: number;
  private readonly isTransactional: boolean;
  private readonly isControl: boolean;
  private readonly partitionLeaderEpoch: number;
  private readonly now: () => number;

  /** Header space reserved at the front so an uncompressed batch is sealed without a copy. */
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY_BYTES);
  private position = RECORD_BATCH_HEADER_BYTES;
  private count = 0;
  private baseTimestamp = NO_TIMESTAMP;
  private maxTimestamp = NO_TIMESTAMP;
  private sealed = false;

  constructor(opts: BatchBuilderOptions = {}) {
    this.baseOffset = opts.baseOffset ?? 0;
    if (!Number.isSafeInteger(this.baseOffset) || this.baseOffset < 0) {
      throw new RecordError('UNSAFE_INTEGER', `baseOffset must be a non-negative safe integer, got ${String(opts.baseOffset)}`);
    }
    this.compression = opts.compression ?? 'none';
    if (!COMPRESSIONS.includes(this.compression)) {
      throw new RecordError('UNSUPPORTED_COMPRESSION', `compression ${String(opts.compression)} is not one of ${COMPRESSIONS.join(', ')}`);
    }
    this.batchBytesMax = opts.batchBytesMax ?? BATCH_BYTES_MAX_DEFAULT;
    if (!Number.isSafeInteger(this.batchBytesMax) || this.batchBytesMax <= 0) {
      throw new RecordError('INVALID_LENGTH', `batchBytesMax must be a positive integer, got ${String(opts.batchBytesMax)}`);
    }
    this.timestampType = opts.timestampType ?? 'create';
    this.producerId = opts.producerId ?? NO_PRODUCER_ID;
    if (!Number.isSafeInteger(this.producerId)) throw new RecordError('UNSAFE_INTEGER', `producerId ${String(opts.producerId)} is not a safe integer`);
    this.producerEpoch = opts.producerEpoch ?? NO_PRODUCER_EPOCH;
    assertInt16(this.producerEpoch, 'producerEpoch');
    this.baseSequence = opts.baseSequence ?? NO_SEQUENCE;
    assertInt32(this.baseSequence, 'baseSequence');
    this.partitionLeaderEpoch = opts.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH;
    assertInt32(this.partitionLeaderEpoch, 'partitionLeaderEpoch');
    this.isTransactional = opts.isTransactional ?? false;
    this.isControl = opts.isControl ?? false;
    this.now = opts.now ?? Date.now;
  }

  get recordCount(): number {
    return this.count;
  }

  /** Exact uncompressed size of the batch sealed now. */
  get estimatedBytes(): number {
    return this.position;
  }

  /**
   * Appends a record unless it would push the batch past batchBytesMax (then returns
   * false and the batch is unchanged). The first record is always taken so that an
   * oversized record still makes a batch, which the broker may then refuse.
   */
  tryAppend(record: RecordInput): boolean {
    if (this.sealed) throw new RecordError('INVALID_RECORD', 'tryAppend after seal()');
    if (this.count >= RECORDS_PER_BATCH_MAX) return false;
    const key = asBuffer(record.key ?? null, 'key');
    const value = asBuffer(record.value, 'value');
    const headersIn: unknown = record.headers ?? [];
    if (!Array.isArray(headersIn)) throw new RecordError('INVALID_RECORD', 'headers must be an array');
    let headers: readonly Header[] = headersIn as Header[];
    const timestamp = record.timestamp ?? this.now();
    if (!Number.isSafeInteger(timestamp)) throw new RecordError('UNSAFE_INTEGER', `timestamp ${String(timestamp)} is not a safe integer`);
    const baseTimestamp = this.count === 0 ? timestamp : this.baseTimestamp;
    const timestampDelta = timestamp - baseTimestamp;
    if (!Number.isSafeInteger(timestampDelta)) {
      throw new RecordError('UNSAFE_INTEGER', `timestamp delta ${timestampDelta} is not a safe integer`);
    }
    const headerKeyBytes: number[] = [];
    if (headers.length > 0) {
      headers = headers.map((header: Header | null | undefined) => {
        if (typeof header?.key !== 'string') throw new RecordError('INVALID_RECORD', 'header key must be a string');
        headerKeyBytes.push(Buffer.byteLength(header.key, 'utf8'));
        return { key: header.key, value: asBuffer(header.value, 'header value') };
      });
    }
    const offsetDelta = this.count;
    const bodyBytes = sizeOfRecordBody(offsetDelta, timestampDelta, key, value, headers, headerKeyBytes);
    if (bodyBytes > 0x7fff_ffff) throw new RecordError('INVALID_LENGTH', `record of ${bodyBytes} bytes exceeds the int32 length`);
    const recordBytes = sizeOfVarint(bodyBytes) + bodyBytes;
    if (this.count > 0 && this.position + recordBytes > this.batchBytesMax) return false;
    this.ensureCapacity(this.position + recordBytes);
    this.position = writeRecord(this.buf, this.position, bodyBytes, offsetDelta, timestampDelta, key, value, headers, headerKeyBytes);
    if (this.count === 0) {
      this.baseTimestamp = timestamp;
      this.maxTimestamp = timestamp;
    } else if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp;
    }
    this.count++;
    return true;
  }

  /** The finished batch, compressed if asked, with its CRC set. A builder seals once. */
  async seal(): Promise<Buffer> {
    if (this.sealed) throw new RecordError('INVALID_RECORD', 'seal() called twice');
    this.sealed = true;
    const records = this.buf.subarray(RECORD_BATCH_HEADER_BYTES, this.position);
    let batch: Buffer;
    if (this.compression === 'none') {
      batch = this.position * 2 < this.buf.length ? Buffer.from(this.buf.subarray(0, this.position)) : this.buf.subarray(0, this.position);
    } else {
      const compressed = await compressRecords(this.compression, records);
      batch = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + compressed.length);
      compressed.copy(batch, RECORD_BATCH_HEADER_BYTES);
    }
    this.writeHeader(batch);
    return batch;
  }

  private writeHeader(batch: Buffer): void {
    const batchLength = batch.length - LOG_OVERHEAD_BYTES;
    if (batchLength > 0x7fff_ffff) throw new RecordError('INVALID_LENGTH', `batch of ${batch.length} bytes exceeds the int32 length`);
    writeInt64(batch, BASE_OFFSET_OFFSET, this.baseOffset, 'baseOffset');
    batch.writeInt32BE(batchLength, BATCH_LENGTH_OFFSET);
    batch.writeInt32BE(this.partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
    batch.writeInt8(MAGIC_V2, MAGIC_OFFSET);
    let attributes = compressionId(this.compression);
    if (this.timestampType === 'log-append') attributes |= TIMESTAMP_TYPE_MASK;
    if (this.isTransactional) attributes |= TRANSACTIONAL_FLAG_MASK;
    if (this.isControl) attributes |= CONTROL_FLAG_MASK;
    batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
    batch.writeInt32BE(this.count === 0 ? 0 : this.count - 1, LAST_OFFSET_DELTA_OFFSET);
    // Log-append batches carry the append time as maxTimestamp; records keep their deltas.
    const maxTimestamp = this.timestampType === 'log-append' ? this.now() : this.maxTimestamp;
    writeInt64(batch, BASE_TIMESTAMP_OFFSET, this.baseTimestamp, 'baseTimestamp');
    writeInt64(batch, MAX_TIMESTAMP_OFFSET, maxTimestamp, 'maxTimestamp');
    writeInt64(batch, PRODUCER_ID_OFFSET, this.producerId, 'producerId');
    batch.writeInt16BE(this.producerEpoch, PRODUCER_EPOCH_OFFSET);
    batch.writeInt32BE(this.baseSequence, BASE_SEQUENCE_OFFSET);
    batch.writeInt32BE(this.count, RECORDS_COUNT_OFFSET);
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  }

  private ensureCapacity(bytes: number): void {
    if (bytes <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < bytes) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, 0, this.position);
    this.buf = grown;
  }
}

/** Buffers pass through; other Uint8Arrays are wrapped without a copy. */
function asBuffer(bytes: unknown, what: string): Buffer | null {
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new RecordError('INVALID_RECORD', `${what} must be a Buffer, a Uint8Array or null`);
}

/** Builds one batch from all the records given, ignoring any byte budget. */
export async function encodeBatch(records: RecordInput[], opts: BatchBuilderOptions = {}): Promise<Buffer> {
  const builder = new BatchBuilder({ ...opts, batchBytesMax: Number.MAX_SAFE_INTEGER });
  for (const record of records) {
    if (!builder.tryAppend(record)) {
      throw new RecordError('INVALID_LENGTH', `more than ${RECORDS_PER_BATCH_MAX} records for one batch`);
    }
  }
  return builder.seal();
}
