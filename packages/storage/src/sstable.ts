import { posix } from 'node:path';
import { BATCH_UNCOVERED_BYTES, decodeBatch, nextOffsetOf, parseBatchHeader, verifyBatchCrc, type BatchInfo, type DecodeLimits } from './batch.js';
import { BloomFilter } from './bloom.js';
import { crc32c, readI64LE, readU64LE, writeI64LE, writeU64LE } from './bytes.js';
import { StorageError, corruption } from './errors.js';
import { type FileSystem, type ReadableFile, type WritableFile } from './fs.js';
import { type TableMeta } from './manifest.js';

/**
 * Immutable per-partition SSTable. Byte layout (docs/formats/sstable.md):
 *   data blocks   : whole batches as received, then crc32c u32 LE of those bytes
 *   offset index  : one 44-byte entry per block (sparse: per block, not per batch)
 *   time index    : one 16-byte entry per block, running max timestamp
 *   bloom filter  : keys of compacted topics (may be empty)
 *   footer        : 128 bytes, fixed, at the end of the file
 */
export const SST_MAGIC = Buffer.from('SBSSTBL1', 'ascii');
export const SST_VERSION = 1;
export const FOOTER_BYTES = 128;
const OFFSET_ENTRY_BYTES = 44;
const TIME_ENTRY_BYTES = 16;
const FLAG_BLOOM_COMPLETE = 1;

const DEFAULT_LIMITS: DecodeLimits = { decompressedBytesMax: 64 * 1024 * 1024 };

export function tableFileName(fileNumber: number): string {
  return `${String(fileNumber).padStart(12, '0')}.sst`;
}

export interface BlockEntry {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly position: number;
  /** Bytes of the block including its 4-byte CRC trailer. */
  readonly length: number;
  readonly batchCount: number;
  readonly maxTimestamp: number;
}

export interface SstWriterOptions {
  readonly blockBytes: number;
  /** 0 disables the bloom filter. */
  readonly bloomBitsPerKey: number;
  /** Collect keys for the bloom filter (compressed batches are decoded). */
  readonly collectKeys: boolean;
  readonly decompressedBytesMax: number;
  /** Bytes buffered before one write call. */
  readonly writeBufferBytes: number;
  /** fdatasync after this many bytes while writing (the final sync covers the rest). */
  readonly syncBytes: number;
}

/** Streams batches into a temp file; finish() makes it durable under its final name. */
export class SstWriter {
  private readonly blocks: BlockEntry[] = [];
  private block: Buffer[] = [];
  private blockBytes = 0;
  private blockBase = -1;
  private blockNext = -1;
  private blockMaxTs = -1;
  private blockBatches = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private position = 0;
  private syncedPosition = 0;
  private keys: Buffer[] = [];
  private minTs = Number.MAX_SAFE_INTEGER;
  private maxTs = -1;
  private batchCount = 0;
  private lastNext = -1;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    readonly fileNumber: number,
    private readonly file: WritableFile,
    private readonly options: SstWriterOptions,
  ) {}

  static async create(fs: FileSystem, dir: string, fileNumber: number, options: SstWriterOptions): Promise<SstWriter> {
    const file = await fs.openAppend(posix.join(dir, `${tableFileName(fileNumber)}.tmp`), { truncate: true });
    return new SstWriter(fs, dir, fileNumber, file, options);
  }

  get batches(): number {
    return this.batchCount;
  }

  /** Adds one batch; offsets must increase. */
  async add(batch: Buffer, info: BatchInfo): Promise<void> {
    const next = nextOffsetOf(info);
    if (info.baseOffset < this.lastNext) throw new StorageError('INVALID_ARGUMENT', `SSTable batches out of order: ${info.baseOffset} < ${this.lastNext}`);
    this.lastNext = next;
    if (this.blockBytes > 0 && this.blockBytes + batch.length > this.options.blockBytes) await this.endBlock();
    if (this.blockBase < 0) this.blockBase = info.baseOffset;
    this.blockNext = next;
    this.blockMaxTs = Math.max(this.blockMaxTs, info.maxTimestamp);
    this.blockBatches++;
    this.block.push(batch);
    this.blockBytes += batch.length;
    this.batchCount++;
    this.minTs = Math.min(this.minTs, info.baseTimestamp, info.maxTimestamp);
    this.maxTs = Math.max(this.maxTs, info.maxTimestamp);
    if (this.options.collectKeys && this.options.bloomBitsPerKey > 0) {
      for (const r of await decodeBatch(batch, this.options)) if (r.key !== null) this.keys.push(r.key);
    }
  }

  /** Writes indexes and footer, fsyncs, renames into place and fsyncs the directory. */
  async finish(): Promise<TableMeta> {
    if (this.batchCount === 0) throw new StorageError('INVALID_ARGUMENT', 'an SSTable needs at least one batch');
    await this.endBlock();
    const dataBytes = this.position + this.pendingBytes;
    const offsetIndex = Buffer.alloc(this.blocks.length * OFFSET_ENTRY_BYTES);
    const timeIndex = Buffer.alloc(this.blocks.length * TIME_ENTRY_BYTES);
    let runningMax = -1;
    this.blocks.forEach((b, i) => {
      const o = i * OFFSET_ENTRY_BYTES;
      writeU64LE(offsetIndex, b.baseOffset, o);
      writeU64LE(offsetIndex, b.nextOffset, o + 8);
      writeU64LE(offsetIndex, b.position, o + 16);
      offsetIndex.writeUInt32LE(b.length, o + 24);
      offsetIndex.writeUInt32LE(b.batchCount, o + 28);
      writeI64LE(offsetIndex, b.maxTimestamp, o + 32);
      runningMax = Math.max(runningMax, b.maxTimestamp);
      writeI64LE(timeIndex, runningMax, i * TIME_ENTRY_BYTES);
      writeU64LE(timeIndex, b.baseOffset, i * TIME_ENTRY_BYTES + 8);
    });
    const bloom = this.options.bloomBitsPerKey > 0 && this.options.collectKeys ? BloomFilter.forKeys(this.keys, this.options.bloomBitsPerKey).encode() : Buffer.alloc(0);
    const first = this.blocks[0];
    const last = this.blocks.at(-1);
    if (first === undefined || last === undefined) throw new StorageError('INVALID_ARGUMENT', 'no blocks');
    const footer = Buffer.alloc(FOOTER_BYTES);
    SST_MAGIC.copy(footer, 0);
    footer.writeUInt16LE(SST_VERSION, 8);
    footer.writeUInt16LE(bloom.length > 0 ? FLAG_BLOOM_COMPLETE : 0, 10);
    footer.writeUInt32LE(this.blocks.length, 12);
    writeU64LE(footer, first.baseOffset, 16);
    writeU64LE(footer, last.nextOffset, 24);
    writeI64LE(footer, this.minTs, 32);
    writeI64LE(footer, this.maxTs, 40);
    footer.writeUInt32LE(this.batchCount, 48);
    writeU64LE(footer, dataBytes, 56);
    writeU64LE(footer, dataBytes, 64);
    footer.writeUInt32LE(offsetIndex.length, 72);
    footer.writeUInt32LE(crc32c(offsetIndex), 76);
    writeU64LE(footer, dataBytes + offsetIndex.length, 80);
    footer.writeUInt32LE(timeIndex.length, 88);
    footer.writeUInt32LE(crc32c(timeIndex), 92);
    writeU64LE(footer, dataBytes + offsetIndex.length + timeIndex.length, 96);
    footer.writeUInt32LE(bloom.length, 104);
    footer.writeUInt32LE(crc32c(bloom), 108);
    footer.writeUInt32LE(crc32c(footer.subarray(0, FOOTER_BYTES - 4)), FOOTER_BYTES - 4);
    this.pending.push(offsetIndex, timeIndex, bloom, footer);
    this.pendingBytes += offsetIndex.length + timeIndex.length + bloom.length + footer.length;
    await this.drain();
    await this.file.datasync();
    await this.file.close();
    const tmp = posix.join(this.dir, `${tableFileName(this.fileNumber)}.tmp`);
    await this.fs.rename(tmp, posix.join(this.dir, tableFileName(this.fileNumber)));
    await this.fs.syncDir(this.dir);
    return {
      fileNumber: this.fileNumber,
      baseOffset: first.baseOffset,
      nextOffset: last.nextOffset,
      minTimestamp: this.minTs,
      maxTimestamp: this.maxTs,
      bytes: this.position,
      batchCount: this.batchCount,
    };
  }

  /** Closes and deletes the temp file after a failure. */
  async abandon(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await this.fs.unlink(posix.join(this.dir, `${tableFileName(this.fileNumber)}.tmp`)).catch(() => undefined);
  }

  private async endBlock(): Promise<void> {
    if (this.blockBytes === 0) return;
    // Batch bodies carry their own CRC-32C (checked at append); the block checksum covers the
    // header bytes that CRC leaves out, so each byte is checksummed once.
    let crc = 0;
    for (const b of this.block) crc = crc32c(b.subarray(0, BATCH_UNCOVERED_BYTES), crc);
    const trailer = Buffer.allocUnsafe(4);
    trailer.writeUInt32LE(crc, 0);
    this.blocks.push({
      baseOffset: this.blockBase,
      nextOffset: this.blockNext,
      position: this.position + this.pendingBytes,
      length: this.blockBytes + 4,
      batchCount: this.blockBatches,
      maxTimestamp: this.blockMaxTs,
    });
    this.pending.push(...this.block, trailer);
    this.pendingBytes += this.blockBytes + 4;
    this.block = [];
    this.blockBytes = 0;
    this.blockBase = -1;
    this.blockMaxTs = -1;
    this.blockBatches = 0;
    if (this.pendingBytes >= this.options.writeBufferBytes) await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunks = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await this.file.append(chunks);
    this.position += bytes;
    // Sync as we go: one big fdatasync at the end would hold the disk (and the WAL's group
    // commit fsyncs queued behind it) for the whole table.
    if (this.position - this.syncedPosition >= this.options.syncBytes) {
      await this.file.datasync();
      this.syncedPosition = this.position;
    }
  }
}

interface Span {
  /** One past the span's last block. */
  readonly last: number;
  readonly bytes: number;
  readonly data: Promise<Buffer>;
}

export interface TableBatch {
  readonly bytes: Buffer;
  readonly info: BatchInfo;
}

/** An open SSTable: footer, indexes and bloom filter in memory, blocks read on demand. */
export class SstReader {
  private refs = 1;
  /** Spans read or being read ahead, by first block (at most two, see read()). */
  private readonly spans = new Map<number, Span>();

  private constructor(
    readonly path: string,
    private readonly file: ReadableFile,
    readonly blocks: readonly BlockEntry[],
    private readonly timeIndex: readonly number[],
    readonly bloom: BloomFilter | null,
    readonly baseOffset: number,
    readonly nextOffset: number,
    /** Check every batch's CRC-32C on read (a full pass over the data), not only headers. */
    private readonly verifyBatches: boolean,
    private readonly limits: DecodeLimits,
    private readonly readAheadBytes: number,
  ) {}

  /** Opens and checks magic, version and every checksum outside the data blocks. */
  static async open(fs: FileSystem, path: string, verifyBatches = true, limits: DecodeLimits = DEFAULT_LIMITS, readAheadBytes = 0): Promise<SstReader> {
    const file = await fs.openRead(path);
    try {
      return await SstReader.load(path, file, verifyBatches, limits, readAheadBytes);
    } catch (err) {
      await file.close().catch(() => undefined);
      if (err instanceof StorageError) throw err;
      throw corruption(path, 0, 'unreadable SSTable', err);
    }
  }

  private static async load(path: string, file: ReadableFile, verifyBatches: boolean, limits: DecodeLimits, readAheadBytes: number): Promise<SstReader> {
    const size = file.size;
    if (size < FOOTER_BYTES) throw corruption(path, 0, 'file shorter than an SSTable footer');
    const footer = await file.read(size - FOOTER_BYTES, FOOTER_BYTES);
    const footerPos = size - FOOTER_BYTES;
    if (!footer.subarray(0, 8).equals(SST_MAGIC)) throw corruption(path, footerPos, 'bad SSTable magic');
    if (crc32c(footer.subarray(0, FOOTER_BYTES - 4)) !== footer.readUInt32LE(FOOTER_BYTES - 4)) throw corruption(path, footerPos, 'SSTable footer checksum mismatch');
    const version = footer.readUInt16LE(8);
    if (version !== SST_VERSION) throw corruption(path, footerPos + 8, `unsupported SSTable version ${version}`);
    const flags = footer.readUInt16LE(10);
    const blockCount = footer.readUInt32LE(12);
    const section = async (at: number, what: string): Promise<Buffer> => {
      const pos = readU64LE(footer, at);
      const len = footer.readUInt32LE(at + 8);
      if (pos + len > footerPos) throw corruption(path, footerPos + at, `${what} beyond the footer`);
      const buf = await file.read(pos, len);
      if (buf.length !== len || crc32c(buf) !== footer.readUInt32LE(at + 12)) throw corruption(path, pos, `${what} checksum mismatch`);
      return buf;
    };
    const oi = await section(64, 'offset index');
    const ti = await section(80, 'time index');
    const bl = await section(96, 'bloom filter');
    if (oi.length !== blockCount * OFFSET_ENTRY_BYTES || ti.length !== blockCount * TIME_ENTRY_BYTES || blockCount === 0) {
      throw corruption(path, footerPos, 'index sizes do not match the block count');
    }
    const blocks: BlockEntry[] = [];
    const timeIndex: number[] = [];
    for (let i = 0; i < blockCount; i++) {
      const o = i * OFFSET_ENTRY_BYTES;
      blocks.push({
        baseOffset: readU64LE(oi, o),
        nextOffset: readU64LE(oi, o + 8),
        position: readU64LE(oi, o + 16),
        length: oi.readUInt32LE(o + 24),
        batchCount: oi.readUInt32LE(o + 28),
        maxTimestamp: readI64LE(oi, o + 32),
      });
      timeIndex.push(readI64LE(ti, i * TIME_ENTRY_BYTES));
    }
    const bloom = (flags & FLAG_BLOOM_COMPLETE) !== 0 && bl.length > 0 ? BloomFilter.decode(bl) : null;
    return new SstReader(path, file, blocks, timeIndex, bloom, readU64LE(footer, 16), readU64LE(footer, 24), verifyBatches, limits, readAheadBytes);
  }

  retain(): void {
    this.refs++;
  }

  /** Drops a reference; the file closes when the last reader is done. */
  async release(): Promise<void> {
    if (--this.refs === 0) {
      this.spans.clear();
      await this.file.close();
    }
  }

  /** Index of the block holding `offset` (or the first block after it). */
  blockFor(offset: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    let found = this.blocks.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.blocks[mid];
      if (b !== undefined && b.nextOffset > offset) {
        found = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return found;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (always at least one batch,
   * as Kafka does, so an oversized batch never wedges a consumer). Each block's CRC is checked.
   */
  async read(offset: number, maxBytes: number): Promise<TableBatch[]> {
    const first = this.blockFor(offset);
    if (first >= this.blocks.length) return [];
    const span = this.spanAt(first, maxBytes);
    // Sequential consumers come back for the next span: start reading it now, so the disk
    // works while this one is checked and handed out. At most two spans are kept per table:
    // this one (a caller may come back for the rest of it) and the next.
    if (this.readAheadBytes > 0 && span.last < this.blocks.length) this.spanAt(span.last, Math.min(maxBytes, this.readAheadBytes));
    for (const key of this.spans.keys()) if (key !== first && key !== span.last) this.spans.delete(key);
    const buf = await span.data;
    const start = this.blockPosition(first);
    const out: TableBatch[] = [];
    let taken = 0;
    for (let i = first; i < span.last; i++) {
      const b = this.blocks[i];
      if (b === undefined) break;
      for (const tb of this.splitBlock(buf.subarray(b.position - start, b.position - start + b.length), b)) {
        if (tb.info.baseOffset + tb.info.lastOffsetDelta < offset) continue;
        if (out.length > 0 && taken + tb.bytes.length > maxBytes) return out;
        out.push(tb);
        taken += tb.bytes.length;
      }
    }
    return out;
  }

  /** The span read (or being read) from block `first`; started here when there is none. */
  private spanAt(first: number, maxBytes: number): Span {
    const known = this.spans.get(first);
    if (known !== undefined) return known;
    const plan = this.spanFrom(first, maxBytes);
    const data = this.file.read(this.blockPosition(first), plan.bytes);
    const span = { ...plan, data };
    // A failed read is surfaced to whoever awaits it, and not kept: the next read retries.
    data.catch(() => {
      if (this.spans.get(first) === span) this.spans.delete(first);
    });
    if (this.readAheadBytes > 0) this.spans.set(first, span);
    return span;
  }

  private blockPosition(index: number): number {
    return this.blocks[index]?.position ?? 0;
  }

  /** Blocks from `first` whose bytes fit maxBytes (always at least one). */
  private spanFrom(first: number, maxBytes: number): { last: number; bytes: number } {
    let last = first;
    let bytes = 0;
    while (last < this.blocks.length) {
      const b = this.blocks[last];
      if (b === undefined || (bytes > 0 && bytes + b.length > maxBytes + 4)) break;
      bytes += b.length;
      last++;
    }
    return { last, bytes };
  }

  /** Every batch in the table, block by block (compaction, rewriting). */
  async *scan(): AsyncGenerator<TableBatch> {
    for (const b of this.blocks) {
      const buf = await this.file.read(b.position, b.length);
      yield* this.splitBlock(buf, b);
    }
  }

  /** Offset of the first record with timestamp >= ts, or null when none is here. */
  async offsetForTimestamp(ts: number): Promise<number | null> {
    const i = this.timeIndex.findIndex((t) => t >= ts);
    if (i < 0) return null;
    for (let bi = i; bi < this.blocks.length; bi++) {
      const b = this.blocks[bi];
      if (b === undefined) break;
      const buf = await this.file.read(b.position, b.length);
      for (const tb of this.splitBlock(buf, b)) {
        const hit = await offsetForTimestampInBatch(tb.bytes, tb.info, ts, this.limits);
        if (hit !== null) return hit;
      }
    }
    return null;
  }

  private splitBlock(block: Buffer, entry: BlockEntry): TableBatch[] {
    if (block.length !== entry.length) throw corruption(this.path, entry.position, 'short read of a data block');
    const body = block.subarray(0, block.length - 4);
    const out: TableBatch[] = [];
    let crc = 0;
    let pos = 0;
    while (pos < body.length) {
      let info: BatchInfo;
      try {
        info = parseBatchHeader(body, pos);
      } catch (err) {
        throw corruption(this.path, entry.position + pos, 'malformed batch in data block', err);
      }
      crc = crc32c(body.subarray(pos, pos + BATCH_UNCOVERED_BYTES), crc);
      if (this.verifyBatches && !verifyBatchCrc(body, pos, info.sizeInBytes)) throw corruption(this.path, entry.position + pos, 'batch checksum mismatch');
      out.push({ bytes: body.subarray(pos, pos + info.sizeInBytes), info });
      pos += info.sizeInBytes;
    }
    if (crc !== block.readUInt32LE(block.length - 4)) throw corruption(this.path, entry.position, 'data block checksum mismatch');
    if (out.length !== entry.batchCount) throw corruption(this.path, entry.position, 'block batch count mismatch');
    return out;
  }
}

/**
 * Offset of the first record with timestamp >= ts (records decoded, compressed or not), or null
 * when the batch's maxTimestamp is below ts. Kafka answers the same way (record timestamps,
 * which for log-append batches are all maxTimestamp).
 */
export async function offsetForTimestampInBatch(bytes: Buffer, info: BatchInfo, ts: number, limits: DecodeLimits): Promise<number | null> {
  if (info.maxTimestamp < ts) return null;
  for (const r of await decodeBatch(bytes, limits)) if (r.timestamp >= ts) return r.offset;
  return info.baseOffset;
}

