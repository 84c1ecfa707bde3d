import { BatchView, decodeRecords, isRecordError, splitBatches, type Record as KafkaRecord } from '@streambus/record';
import { asBuffer } from './bytes.js';
import { StorageError } from './errors.js';

/**
 * The storage side of Kafka RecordBatch v2. Parsing, CRC checks, the in-place header rewrites
 * and record decoding (every codec) belong to @streambus/record; this file only adapts them to
 * storage (a cached header, RecordError → StorageError) and keeps the one thing the record
 * package cannot do: re-encode a subset of a batch's records with their original offset deltas
 * (compaction leaves gaps; BatchBuilder always numbers records 0..n-1).
 */
export const BATCH_HEADER_BYTES = 61;
/** Bytes at the start of a batch its own CRC-32C does not cover (baseOffset..crc). */
export const BATCH_UNCOVERED_BYTES = 21;
const CRC_POSITION = 17;
const ATTRIBUTES_POSITION = 21;
const PARTITION_LEADER_EPOCH_POSITION = 12;
const COMPRESSION_MASK = 0x07;
const CONTROL_MASK = 0x20;

/** Header fields storage reads on every batch, read once (getters on a view re-read bytes). */
export interface BatchInfo {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly sizeInBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly recordCount: number;
  /** Kafka codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  readonly compression: number;
  readonly isControl: boolean;
}

/** RecordError (or anything else thrown by the record package) as INVALID_RECORD with the cause. */
export function invalidRecord(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const reason = isRecordError(err) ? err.message : String(err);
  return new StorageError('INVALID_RECORD', `${what}: ${reason}`, { cause: err });
}

function infoOf(view: BatchView): BatchInfo {
  const attributes = view.attributes;
  const info: BatchInfo = {
    baseOffset: view.baseOffset,
    lastOffsetDelta: view.lastOffsetDelta,
    sizeInBytes: view.sizeInBytes,
    partitionLeaderEpoch: view.partitionLeaderEpoch,
    baseTimestamp: view.baseTimestamp,
    maxTimestamp: view.maxTimestamp,
    recordCount: view.recordCount,
    compression: attributes & COMPRESSION_MASK,
    isControl: (attributes & CONTROL_MASK) !== 0,
  };
  if (info.lastOffsetDelta < 0) throw new StorageError('INVALID_RECORD', `negative lastOffsetDelta ${info.lastOffsetDelta}`);
  if (info.recordCount < 0) throw new StorageError('INVALID_RECORD', `negative recordCount ${info.recordCount}`);
  return info;
}

/** Header of the batch at `pos` (framing, magic, int64 ranges; not the CRC). Throws INVALID_RECORD. */
/** The offset after a batch's last record. */
export function nextOffsetOf(info: BatchInfo): number {
  return info.baseOffset + info.lastOffsetDelta + 1;
}

export function parseBatchHeader(buf: Buffer, pos = 0): BatchInfo {
  try {
    const view = BatchView.parse(buf, pos);
    if (view.sizeInBytes < BATCH_HEADER_BYTES) throw new StorageError('INVALID_RECORD', `batch at ${pos} is shorter than its header`);
    return infoOf(view);
  } catch (err) {
    throw invalidRecord(err, `batch at ${pos}`);
  }
}

/** CRC-32C check of a batch already framed by parseBatchHeader. */
export function verifyBatchCrc(buf: Buffer, pos: number, sizeInBytes: number): boolean {
  return BatchView.parse(buf.subarray(pos, pos + sizeInBytes)).verifyCrc();
}

/**
 * Splits concatenated batches and fully validates each (header sanity and CRC). Returned
 * buffers share memory with the input (zero copy).
 */
export function splitAndValidate(input: Uint8Array): { bytes: Buffer; info: BatchInfo }[] {
  return split(asBuffer(input), true);
}

/**
 * Splits batches whose CRCs were checked already (WAL replay: the frame reader verified every
 * batch CRC), checking framing and header sanity only, so recovery reads each byte once.
 */
export function splitVerified(input: Buffer): { bytes: Buffer; info: BatchInfo }[] {
  return split(input, false);
}

function split(input: Buffer, checkCrc: boolean): { bytes: Buffer; info: BatchInfo }[] {
  const out: { bytes: Buffer; info: BatchInfo }[] = [];
  let pos = 0;
  try {
    for (const view of splitBatches(input)) {
      if (checkCrc) view.validate();
      out.push({ bytes: view.bytes, info: infoOf(view) });
      pos += view.sizeInBytes;
    }
  } catch (err) {
    throw invalidRecord(err, `batch at ${pos}`);
  }
  if (out.length === 0) throw new StorageError('INVALID_RECORD', 'no batch in input');
  return out;
}

export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  try {
    BatchView.parse(batch).setBaseOffset(baseOffset);
  } catch (err) {
    throw invalidRecord(err, 'baseOffset rewrite');
  }
}

export function setPartitionLeaderEpoch(batch: Buffer, epoch: number): void {
  batch.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_POSITION);
}

export interface DecodeLimits {
  /** Bound on one batch's decompressed records (record package's decompressedBytesMax). */
  readonly decompressedBytesMax: number;
}

/**
 * Records of a stored batch, decompressed when needed. The CRC is not re-checked: storage
 * checked it at append and its own block checksums guard it at rest.
 */
export async function decodeBatch(batch: Buffer, limits: DecodeLimits): Promise<KafkaRecord[]> {
  try {
    return await decodeRecords(BatchView.parse(batch), { verifyCrc: false, decompressedBytesMax: limits.decompressedBytesMax });
  } catch (err) {
    throw invalidRecord(err, 'decoding a stored batch');
  }
}

// ---- re-encoding with gaps (compaction) -------------------------------------------------------

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintBytes(n: number): number {
  let v = zigzag(n);
  let size = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  let v = zigzag(n);
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

function bytesField(b: Buffer | null): number {
  return b === null ? 1 : varintBytes(b.length) + b.length;
}

function writeBytesField(buf: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  return pos + b.copy(buf, pos);
}

/** Kafka's record layout, with the given deltas (not renumbered). */
export interface RecordToEncode {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly attributes?: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly { readonly key: string; readonly value: Buffer | null }[];
}

function bodyBytes(r: RecordToEncode): number {
  let n = 1 + varintBytes(r.timestampDelta) + varintBytes(r.offsetDelta) + bytesField(r.key) + bytesField(r.value);
  const headers = r.headers ?? [];
  n += varintBytes(headers.length);
  for (const h of headers) {
    const keyBytes = Buffer.byteLength(h.key, 'utf8');
    n += varintBytes(keyBytes) + keyBytes + bytesField(h.value);
  }
  return n;
}

/**
 * An uncompressed batch holding `records` under `header` (a stored batch whose baseOffset,
 * lastOffsetDelta, timestamps and producer fields are kept as they are; compression cleared).
 * recordCount and the CRC are recomputed.
 */
export function encodeWithGaps(header: Buffer, records: readonly RecordToEncode[]): Buffer {
  const sizes = records.map(bodyBytes);
  let total = BATCH_HEADER_BYTES;
  for (const s of sizes) total += varintBytes(s) + s;
  const out = Buffer.allocUnsafe(total);
  header.copy(out, 0, 0, BATCH_HEADER_BYTES);
  out.writeInt32BE(total - 12, 8);
  out.writeInt16BE(header.readInt16BE(ATTRIBUTES_POSITION) & ~COMPRESSION_MASK, ATTRIBUTES_POSITION);
  out.writeInt32BE(records.length, 57);
  let pos = BATCH_HEADER_BYTES;
  records.forEach((r, i) => {
    pos = writeVarint(out, pos, sizes[i] ?? 0);
    out[pos++] = r.attributes ?? 0;
    pos = writeVarint(out, pos, r.timestampDelta);
    pos = writeVarint(out, pos, r.offsetDelta);
    pos = writeBytesField(out, pos, r.key);
    pos = writeBytesField(out, pos, r.value);
    const headers = r.headers ?? [];
    pos = writeVarint(out, pos, headers.length);
    for (const h of headers) {
      const keyBytes = Buffer.byteLength(h.key, 'utf8');
      pos = writeVarint(out, pos, keyBytes);
      pos += out.write(h.key, pos, keyBytes, 'utf8');
      pos = writeBytesField(out, pos, h.value);
    }
  });
  if (pos !== total) throw new Error(`encodeWithGaps invariant: wrote ${pos} of ${total} bytes`);
  out.writeUInt32BE(BatchView.parse(out).computeCrc(), CRC_POSITION);
  return out;
}
