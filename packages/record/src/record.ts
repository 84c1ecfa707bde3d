import { RecordError } from './errors.js';
import { type VarintReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export interface Header {
  key: string;
  value: Buffer | null;
}

/** What a producer hands to the builder. */
export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Header[];
  /** Create time in ms; the builder's clock when absent. */
  timestamp?: number;
}

/** A decoded record. key, value and header values are views into the batch (or its decompressed data). */
export interface Record {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[];
  offsetDelta: number;
  timestampDelta: number;
  attributes: number;
}

/** A record's body size (without its own length prefix), computed once so the writer never reallocates. */
export function sizeOfRecordBody(offsetDelta: number, timestampDelta: number, key: Buffer | null, value: Buffer | null, headers: readonly Header[], headerKeyBytes: readonly number[]): number {
  let size = 1; // attributes
  size += sizeOfVarlong(timestampDelta);
  size += sizeOfVarint(offsetDelta);
  size += key === null ? 1 : sizeOfVarint(key.length) + key.length;
  size += value === null ? 1 : sizeOfVarint(value.length) + value.length;
  size += sizeOfVarint(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!;
    const keyBytes = headerKeyBytes[i]!;
    size += sizeOfVarint(keyBytes) + keyBytes;
    size += header.value === null ? 1 : sizeOfVarint(header.value.length) + header.value.length;
  }
  return size;
}

/** Writes length + body; returns the position after the record. */
export function writeRecord(
  buf: Buffer,
  position: number,
  bodyBytes: number,
  offsetDelta: number,
  timestampDelta: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: readonly Header[],
  headerKeyBytes: readonly number[],
): number {
  position = writeVarint(buf, position, bodyBytes);
  const bodyStart = position;
  buf[position++] = 0; // record attributes: unused by Kafka, always 0
  position = writeVarlong(buf, position, timestampDelta);
  position = writeVarint(buf, position, offsetDelta);
  position = writeBytes(buf, position, key);
  position = writeBytes(buf, position, value);
  position = writeVarint(buf, position, headers.length);
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!;
    const keyBytes = headerKeyBytes[i]!;
    position = writeVarint(buf, position, keyBytes);
    position += buf.write(header.key, position, keyBytes, 'utf8');
    position = writeBytes(buf, position, header.value);
  }
  if (position - bodyStart !== bodyBytes) {
    throw new Error(`record writer invariant: wrote ${position - bodyStart} body bytes, sized ${bodyBytes}`);
  }
  return position;
}

function writeBytes(buf: Buffer, position: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, position, -1);
  position = writeVarint(buf, position, bytes.length);
  position += bytes.copy(buf, position);
  return position;
}

/** The smallest possible record: length, attributes, deltas, null key/value, no headers. */
export const RECORD_BYTES_MIN = 7;

/**
 * Reads one record at reader.position. `logAppendTime` is set for log-append batches,
 * whose records all carry the batch's maxTimestamp. The reader must report overruns as
 * INVALID_RECORD: the batch framing is complete, so a field running past is a lie.
 */
export function readRecord(reader: VarintReader, baseOffset: number, baseTimestamp: number, logAppendTime: number | null): Record {
  const bodyBytes = reader.readVarint();
  if (bodyBytes < RECORD_BYTES_MIN - 1) {
    throw new RecordError('INVALID_RECORD', `record length ${bodyBytes} is below the minimum ${RECORD_BYTES_MIN - 1}`);
  }
  const bodyStart = reader.position;
  const bodyEnd = bodyStart + bodyBytes;
  const outerEnd = reader.end;
  if (bodyEnd > outerEnd) {
    throw new RecordError('INVALID_RECORD', `record of ${bodyBytes} bytes runs past the end of the batch (${outerEnd - bodyStart} left)`);
  }
  // Confine every read of this record to its declared length (restored below).
  reader.end = bodyEnd;
  const buf = reader.buf;
  const attributes = buf.readInt8(reader.position++);
  const timestampDelta = reader.readVarlong();
  const offsetDelta = reader.readVarint();
  const key = readBytes(reader, 'key');
  const value = readBytes(reader, 'value');
  const headerCount = reader.readVarint();
  if (headerCount < 0) throw new RecordError('INVALID_RECORD', `header count ${headerCount} is negative`);
  // Each header needs at least 2 bytes, so a huge count is rejected before allocating.
  if (headerCount * 2 > bodyEnd - reader.position) {
    throw new RecordError('INVALID_RECORD', `header count ${headerCount} cannot fit in ${bodyEnd - reader.position} bytes`);
  }
  const headers: Header[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyBytes = reader.readVarint();
    if (keyBytes < 0) throw new RecordError('INVALID_RECORD', `header key length ${keyBytes} is negative`);
    if (keyBytes > bodyEnd - reader.position) throw new RecordError('INVALID_RECORD', 'header key runs past the end of the record');
    const headerKey = buf.toString('utf8', reader.position, reader.position + keyBytes);
    reader.position += keyBytes;
    headers.push({ key: headerKey, value: readBytes(reader, 'header value') });
  }
  if (reader.position !== bodyEnd) {
    throw new RecordError('INVALID_RECORD', `record declared ${bodyBytes} bytes but its fields use ${reader.position - bodyStart}`);
  }
  reader.end = outerEnd;
  const offset = baseOffset + offsetDelta;
  const timestamp = logAppendTime ?? baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(timestamp)) {
    throw new RecordError('UNSAFE_INTEGER', `record offset ${offset} or timestamp ${timestamp} does not fit a safe integer`);
  }
  return { offset, timestamp, key, value, headers, offsetDelta, timestampDelta, attributes };
}

function readBytes(body: VarintReader, what: string): Buffer | null {
  const length = body.readVarint();
  if (length === -1) return null;
  if (length < -1) throw new RecordError('INVALID_RECORD', `${what} length ${length} is negative`);
  if (length > body.end - body.position) throw new RecordError('INVALID_RECORD', `${what} of ${length} bytes runs past the end of the record`);
  const bytes = body.buf.subarray(body.position, body.position + length);
  body.position += length;
  return bytes;
}
