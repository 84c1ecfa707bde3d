import { asBuffer, crc32c, readI64BESafe, writeI64BE } from './bytes.js';
import { StorageError } from './errors.js';

/**
 * The minimum of Kafka RecordBatch v2 that storage needs: header fields, CRC check, the
 * baseOffset / partitionLeaderEpoch rewrite, and (for uncompressed batches) record walking for
 * compaction and timestamp lookups. Batches are stored exactly as received.
 */
export const BATCH_HEADER_BYTES = 61;
const LENGTH_PREFIX_BYTES = 12; // baseOffset + batchLength
const CRC_START = 21; // CRC-32C covers attributes .. end
const MAGIC_V2 = 2;
const ATTR_COMPRESSION_MASK = 0x07;
const ATTR_CONTROL = 0x20;

export interface BatchInfo {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly sizeInBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly recordCount: number;
  readonly compression: number;
  readonly isControl: boolean;
}

function invalid(message: string): StorageError {
  return new StorageError('INVALID_RECORD', message);
}

/** Size of the batch starting at `pos`, or -1 when fewer than 12 bytes remain. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  if (buf.length - pos < LENGTH_PREFIX_BYTES) return -1;
  return LENGTH_PREFIX_BYTES + buf.readInt32BE(pos + 8);
}

/** Parses and checks one batch header; throws INVALID_RECORD with the reason. */
export function parseBatchHeader(buf: Buffer, pos = 0): BatchInfo {
  if (buf.length - pos < BATCH_HEADER_BYTES) throw invalid(`batch header truncated at ${pos}`);
  const batchLength = buf.readInt32BE(pos + 8);
  const sizeInBytes = LENGTH_PREFIX_BYTES + batchLength;
  if (sizeInBytes < BATCH_HEADER_BYTES) throw invalid(`batchLength ${batchLength} below the header size`);
  if (pos + sizeInBytes > buf.length) throw invalid(`batch at ${pos} claims ${sizeInBytes} bytes, ${buf.length - pos} present`);
  const magic = buf.readInt8(pos + 16);
  if (magic !== MAGIC_V2) throw invalid(`unsupported magic ${magic}`);
  const baseOffset = readI64BESafe(buf, pos);
  const baseTimestamp = readI64BESafe(buf, pos + 27);
  const maxTimestamp = readI64BESafe(buf, pos + 35);
  if (baseOffset === null || baseTimestamp === null || maxTimestamp === null) {
    throw invalid('int64 field outside the safe-integer range');
  }
  const lastOffsetDelta = buf.readInt32BE(pos + 23);
  const recordCount = buf.readInt32BE(pos + 57);
  if (lastOffsetDelta < 0) throw invalid(`negative lastOffsetDelta ${lastOffsetDelta}`);
  if (recordCount < 0) throw invalid(`negative recordCount ${recordCount}`);
  const attributes = buf.readInt16BE(pos + 21);
  return {
    baseOffset,
    lastOffsetDelta,
    sizeInBytes,
    partitionLeaderEpoch: buf.readInt32BE(pos + 12),
    baseTimestamp,
    maxTimestamp,
    recordCount,
    compression: attributes & ATTR_COMPRESSION_MASK,
    isControl: (attributes & ATTR_CONTROL) !== 0,
  };
}

export function verifyBatchCrc(buf: Buffer, pos: number, sizeInBytes: number): boolean {
  const stored = buf.readUInt32BE(pos + 17);
  return crc32c(buf.subarray(pos + CRC_START, pos + sizeInBytes)) === stored;
}

export function setBaseOffset(buf: Buffer, pos: number, baseOffset: number): void {
  writeI64BE(buf, baseOffset, pos);
}

/**
 * Splits a buffer of concatenated batches, validating each header and CRC.
 * Returned buffers share memory with the input (zero copy).
 */
export function splitAndValidate(input: Uint8Array): { bytes: Buffer; info: BatchInfo }[] {
  const buf = asBuffer(input);
  const out: { bytes: Buffer; info: BatchInfo }[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const info = parseBatchHeader(buf, pos);
    if (!verifyBatchCrc(buf, pos, info.sizeInBytes)) throw invalid(`batch CRC mismatch at ${pos}`);
    out.push({ bytes: buf.subarray(pos, pos + info.sizeInBytes), info });
    pos += info.sizeInBytes;
  }
  if (out.length === 0) throw invalid('no batch in input');
  return out;
}

// ---- records of uncompressed batches ---------------------------------------------------------

export interface RecordSlice {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  /** null for a null key. */
  readonly key: Buffer | null;
  readonly valueIsNull: boolean;
  /** The record's bytes including its length prefix, copied verbatim when rewriting. */
  readonly start: number;
  readonly end: number;
}

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let shift = 0;
    let raw = 0;
    for (;;) {
      if (this.pos >= this.end) throw invalid('varint runs past the batch');
      const b = this.buf[this.pos++] ?? 0;
      raw += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) throw invalid('varint too long');
    }
    // zig-zag decode without 32-bit truncation
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) throw invalid('field runs past the batch');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Walks the records of an uncompressed batch (compression 0); throws INVALID_RECORD when malformed. */
export function readRecords(batch: Buffer): RecordSlice[] {
  const info = parseBatchHeader(batch, 0);
  if (info.compression !== 0) throw invalid('readRecords needs an uncompressed batch');
  const c = new Cursor(batch, BATCH_HEADER_BYTES, info.sizeInBytes);
  const out: RecordSlice[] = [];
  for (let i = 0; i < info.recordCount; i++) {
    const start = c.pos;
    const length = c.varint();
    const bodyEnd = c.pos + length;
    if (length < 0 || bodyEnd > info.sizeInBytes) throw invalid('record length runs past the batch');
    c.bytes(1); // attributes
    const timestampDelta = c.varint();
    const offsetDelta = c.varint();
    const keyLength = c.varint();
    const key = keyLength < 0 ? null : c.bytes(keyLength);
    const valueLength = c.varint();
    if (valueLength >= 0) c.bytes(valueLength);
    c.pos = bodyEnd;
    out.push({ offsetDelta, timestampDelta, key, valueIsNull: valueLength < 0, start, end: bodyEnd });
  }
  return out;
}

// ---- encoding (tests, benchmarks and compaction rewrites) ----------------------------------

export interface SimpleRecord {
  readonly key?: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp?: number;
}

function zigzagVarint(n: number): number[] {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function encodeRecord(offsetDelta: number, timestampDelta: number, r: SimpleRecord): Buffer {
  const parts: number[] = [0, ...zigzagVarint(timestampDelta), ...zigzagVarint(offsetDelta)];
  const key = r.key ?? null;
  const head = Buffer.from([...parts, ...zigzagVarint(key === null ? -1 : key.length)]);
  const valueLen = Buffer.from(zigzagVarint(r.value === null ? -1 : r.value.length));
  const body = Buffer.concat([head, key ?? Buffer.alloc(0), valueLen, r.value ?? Buffer.alloc(0), Buffer.from([0])]);
  return Buffer.concat([Buffer.from(zigzagVarint(body.length)), body]);
}

export interface BatchHeaderFields {
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly lastOffsetDelta: number;
  readonly attributes?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
}

/** Assembles a batch from a header and already-encoded record bytes; computes length and CRC. */
export function assembleBatch(h: BatchHeaderFields, recordCount: number, records: readonly Uint8Array[]): Buffer {
  const recordBytes = records.reduce((n, r) => n + r.byteLength, 0);
  const buf = Buffer.alloc(BATCH_HEADER_BYTES + recordBytes);
  writeI64BE(buf, h.baseOffset ?? 0, 0);
  buf.writeInt32BE(buf.length - LENGTH_PREFIX_BYTES, 8);
  buf.writeInt32BE(h.partitionLeaderEpoch ?? -1, 12);
  buf.writeInt8(MAGIC_V2, 16);
  buf.writeInt16BE(h.attributes ?? 0, 21);
  buf.writeInt32BE(h.lastOffsetDelta, 23);
  writeI64BE(buf, h.baseTimestamp, 27);
  writeI64BE(buf, h.maxTimestamp, 35);
  writeI64BE(buf, h.producerId ?? -1, 43);
  buf.writeInt16BE(h.producerEpoch ?? -1, 51);
  buf.writeInt32BE(h.baseSequence ?? -1, 53);
  buf.writeInt32BE(recordCount, 57);
  let pos = BATCH_HEADER_BYTES;
  for (const r of records) {
    buf.set(r, pos);
    pos += r.byteLength;
  }
  buf.writeUInt32BE(crc32c(buf.subarray(CRC_START)), 17);
  return buf;
}

/** Encodes an uncompressed RecordBatch v2 (baseOffset 0; the engine assigns offsets). */
export function encodeSimpleBatch(records: readonly SimpleRecord[], options: { partitionLeaderEpoch?: number; timestamp?: number } = {}): Buffer {
  if (records.length === 0) throw invalid('a batch needs at least one record');
  const fallback = options.timestamp ?? 0;
  const stamps = records.map((r) => r.timestamp ?? fallback);
  const baseTimestamp = stamps[0] ?? fallback;
  const maxTimestamp = Math.max(...stamps);
  const encoded = records.map((r, i) => encodeRecord(i, (stamps[i] ?? fallback) - baseTimestamp, r));
  const header: BatchHeaderFields = { baseTimestamp, maxTimestamp, lastOffsetDelta: records.length - 1 };
  return assembleBatch(options.partitionLeaderEpoch === undefined ? header : { ...header, partitionLeaderEpoch: options.partitionLeaderEpoch }, records.length, encoded);
}

/** Header fields of an existing batch, for rewriting it with fewer records. */
export function headerFieldsOf(batch: Buffer): BatchHeaderFields {
  return {
    baseOffset: readI64BESafe(batch, 0) ?? 0,
    partitionLeaderEpoch: batch.readInt32BE(12),
    attributes: batch.readInt16BE(21),
    lastOffsetDelta: batch.readInt32BE(23),
    baseTimestamp: readI64BESafe(batch, 27) ?? 0,
    maxTimestamp: readI64BESafe(batch, 35) ?? 0,
    producerId: readI64BESafe(batch, 43) ?? -1,
    producerEpoch: batch.readInt16BE(51),
    baseSequence: batch.readInt32BE(53),
  };
}
