import { type BatchView } from './batch-view.js';
import { DECOMPRESSED_BYTES_MAX_DEFAULT, decompressRecords } from './codecs.js';
import { RecordError } from './errors.js';
import { RECORDS_OFFSET } from './layout.js';
import { RECORD_BYTES_MIN, type Record, readRecord } from './record.js';
import { VarintReader } from './varint.js';

export interface DecodeOptions {
  /** Bound on a batch's decompressed record data, in bytes. Default 64 MiB. */
  decompressedBytesMax?: number;
  /** Check header and CRC before decoding. Default true; turn off only for bytes already validated. */
  verifyCrc?: boolean;
}

interface RecordCursor {
  reader: VarintReader;
  count: number;
  baseOffset: number;
  baseTimestamp: number;
  logAppendTime: number | null;
}

async function openRecords(batch: BatchView, opts: DecodeOptions): Promise<RecordCursor> {
  if (opts.verifyCrc ?? true) batch.validate();
  const decompressedBytesMax = opts.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT;
  if (!Number.isSafeInteger(decompressedBytesMax) || decompressedBytesMax < 0) {
    throw new RecordError('INVALID_LENGTH', `decompressedBytesMax must be a non-negative integer, got ${String(opts.decompressedBytesMax)}`);
  }
  const count = batch.recordCount;
  if (count < 0) throw new RecordError('INVALID_LENGTH', `recordCount ${count} is negative`);
  const compression = batch.compression;
  const raw = batch.bytes.subarray(RECORDS_OFFSET);
  let data: Buffer;
  if (compression === 'none') {
    data = raw;
  } else if (raw.length === 0 && count === 0) {
    // An empty batch (left behind by compaction) carries no compressed stream at all.
    data = raw;
  } else {
    data = await decompressRecords(compression, raw, decompressedBytesMax);
  }
  // Every record takes at least RECORD_BYTES_MIN bytes: refuse impossible counts up front.
  if (count * RECORD_BYTES_MIN > data.length) {
    throw new RecordError('RECORD_COUNT_MISMATCH', `recordCount ${count} cannot fit in ${data.length} bytes of records`);
  }
  return {
    reader: new VarintReader(data, 0, data.length, 'INVALID_RECORD'),
    count,
    baseOffset: batch.baseOffset,
    baseTimestamp: batch.baseTimestamp,
    logAppendTime: batch.timestampType === 'log-append' ? batch.maxTimestamp : null,
  };
}

function checkNoneRemaining(cursor: RecordCursor): void {
  const left = cursor.reader.end - cursor.reader.position;
  if (left !== 0) {
    throw new RecordError('RECORD_COUNT_MISMATCH', `${left} bytes remain after the declared ${cursor.count} records`);
  }
}

function nextRecord(cursor: RecordCursor, index: number): Record {
  if (cursor.reader.position >= cursor.reader.end) {
    throw new RecordError('RECORD_COUNT_MISMATCH', `batch declares ${cursor.count} records but holds ${index}`);
  }
  return readRecord(cursor.reader, cursor.baseOffset, cursor.baseTimestamp, cursor.logAppendTime);
}

/**
 * Decodes every record of a batch (validating header and CRC first unless told not to).
 * Throws RecordError on any malformed input.
 */
export async function decodeRecords(batch: BatchView, opts: DecodeOptions = {}): Promise<Record[]> {
  const cursor = await openRecords(batch, opts);
  const records: Record[] = new Array<Record>(cursor.count);
  for (let i = 0; i < cursor.count; i++) records[i] = nextRecord(cursor, i);
  checkNoneRemaining(cursor);
  return records;
}

/** Like decodeRecords, one record at a time; the batch is decompressed once, up front. */
export async function* iterateRecords(batch: BatchView, opts: DecodeOptions = {}): AsyncGenerator<Record> {
  const cursor = await openRecords(batch, opts);
  for (let i = 0; i < cursor.count; i++) yield nextRecord(cursor, i);
  checkNoneRemaining(cursor);
}
