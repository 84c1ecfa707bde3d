import { promisify } from 'node:util';
import { gzip as gzipCb, gunzip as gunzipCb, constants as zlibConstants } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrame as lz4CompressFrame, decompressFrame as lz4DecompressFrame } from 'lz4-napi';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { RecordError } from './errors.js';
import { type CompressionName } from './layout.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

/** Default bound on the decompressed size of one batch's records. */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** xerial snappy-java's stream header: magic, then int32 version and int32 compatible version. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
/** Kafka's default SnappyOutputStream block size. */
export const SNAPPY_BLOCK_BYTES = 32 * 1024;

const LZ4_FRAME_MAGIC = 0x184d2204;
const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** Both LZ4 and zstd reserve 0x184D2A50..5F for skippable frames. */
const SKIPPABLE_MAGIC_MIN = 0x184d2a50;
const SKIPPABLE_MAGIC_MAX = 0x184d2a5f;
const ZSTD_BLOCK_BYTES_MAX = 128 * 1024;

export async function compressRecords(codec: CompressionName, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return gzip(data);
    case 'snappy':
      return snappyXerialCompress(data);
    case 'lz4':
      // Independent blocks, no block/content checksums: the frame Kafka's
      // Lz4BlockOutputStream writes and the only kind its reader accepts.
      return lz4CompressFrame(data, { blockChecksums: false, contentChecksum: false });
    case 'zstd':
      return zstdCompress(data, 3);
  }
}

/**
 * Decompresses one batch's record data, never producing more than `decompressedBytesMax`
 * bytes. Where the format declares sizes (snappy preambles, LZ4/zstd block headers and
 * content sizes) the bound is checked before any output is allocated; gzip is streamed
 * and stopped as soon as the bound is crossed.
 */
export async function decompressRecords(codec: CompressionName, data: Buffer, decompressedBytesMax: number): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return gunzipBounded(data, decompressedBytesMax);
    case 'snappy':
      return snappyDecompress(data, decompressedBytesMax);
    case 'lz4': {
      lz4OutputBound(data, decompressedBytesMax);
      const out = await wrapCodecError('lz4', () => lz4DecompressFrame(data));
      return checkOutput('lz4', out, decompressedBytesMax);
    }
    case 'zstd': {
      zstdOutputBound(data, decompressedBytesMax);
      const out = await wrapCodecError('zstd', () => zstdDecompress(data));
      return checkOutput('zstd', out, decompressedBytesMax);
    }
  }
}

async function wrapCodecError(codec: string, run: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RecordError) throw err;
    throw new RecordError('CORRUPT_COMPRESSED_DATA', `${codec} data could not be decompressed`, { cause: err });
  }
}

function checkOutput(codec: string, out: Buffer, decompressedBytesMax: number): Buffer {
  // Belt and braces: the pre-checks should make this unreachable.
  if (out.length > decompressedBytesMax) {
    throw new RecordError('DECOMPRESSED_TOO_LARGE', `${codec} produced ${out.length} bytes, bound is ${decompressedBytesMax}`);
  }
  return out;
}

function tooLarge(codec: string, bytes: number, decompressedBytesMax: number): RecordError {
  return new RecordError('DECOMPRESSED_TOO_LARGE', `${codec} data declares up to ${bytes} decompressed bytes, bound is ${decompressedBytesMax}`);
}

function corrupt(codec: string, why: string): RecordError {
  return new RecordError('CORRUPT_COMPRESSED_DATA', `${codec}: ${why}`);
}

// ---------------------------------------------------------------------------- gzip

async function gunzipBounded(data: Buffer, decompressedBytesMax: number): Promise<Buffer> {
  try {
    // maxOutputLength makes zlib stop inflating once the bound is crossed.
    const out = await gunzip(data, { maxOutputLength: Math.max(1, decompressedBytesMax), finishFlush: zlibConstants.Z_FINISH });
    return checkOutput('gzip', out, decompressedBytesMax);
  } catch (err) {
    if (err instanceof RecordError) throw err;
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new RecordError('DECOMPRESSED_TOO_LARGE', `gzip data inflates past ${decompressedBytesMax} bytes`, { cause: err });
    }
    throw new RecordError('CORRUPT_COMPRESSED_DATA', 'gzip data could not be decompressed', { cause: err });
  }
}

// ---------------------------------------------------------------------------- snappy

/**
 * Kafka's Java client writes snappy through xerial's SnappyOutputStream: a 16-byte
 * header, then chunks of int32 length + raw snappy block.
 */
async function snappyXerialCompress(data: Buffer): Promise<Buffer> {
  const chunkCount = Math.ceil(data.length / SNAPPY_BLOCK_BYTES);
  const blocks: Promise<Buffer>[] = [];
  for (let i = 0; i < chunkCount; i++) {
    blocks.push(snappyCompress(data.subarray(i * SNAPPY_BLOCK_BYTES, (i + 1) * SNAPPY_BLOCK_BYTES)));
  }
  const compressed = await Promise.all(blocks);
  let total = XERIAL_HEADER_BYTES;
  for (const block of compressed) total += 4 + block.length;
  const out = Buffer.allocUnsafe(total);
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(XERIAL_VERSION, 8);
  out.writeInt32BE(XERIAL_VERSION, 12);
  let position = XERIAL_HEADER_BYTES;
  for (const block of compressed) {
    out.writeInt32BE(block.length, position);
    block.copy(out, position + 4);
    position += 4 + block.length;
  }
  return out;
}

function hasXerialMagic(data: Buffer, position: number): boolean {
  return data.length - position >= XERIAL_MAGIC.length && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, position, position + XERIAL_MAGIC.length) === 0;
}

/** Raw snappy starts with the uncompressed length as an unsigned little-endian varint. */
export function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 5; i++) {
    const b = block[i];
    if (b === undefined) throw corrupt('snappy', 'block ends inside its length preamble');
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) {
      if (value > 0xffff_ffff) throw corrupt('snappy', 'length preamble exceeds 32 bits');
      return value;
    }
    multiplier *= 128;
  }
  throw corrupt('snappy', 'length preamble longer than 5 bytes');
}

/**
 * Accepts what Kafka's reader (xerial SnappyInputStream) accepts: the xerial stream
 * (possibly several concatenated), or, when the magic is absent, one raw snappy block.
 */
async function snappyDecompress(data: Buffer, decompressedBytesMax: number): Promise<Buffer> {
  const blocks: Buffer[] = [];
  if (!hasXerialMagic(data, 0)) {
    blocks.push(data);
  } else {
    let position = 0;
    while (position < data.length) {
      if (hasXerialMagic(data, position)) {
        if (data.length - position < XERIAL_HEADER_BYTES) throw corrupt('snappy', 'xerial header truncated');
        position += XERIAL_HEADER_BYTES;
        continue;
      }
      if (data.length - position < 4) throw corrupt('snappy', 'xerial chunk length truncated');
      const chunkBytes = data.readInt32BE(position);
      position += 4;
      if (chunkBytes < 0 || chunkBytes > data.length - position) {
        throw corrupt('snappy', `xerial chunk of ${chunkBytes} bytes does not fit the remaining ${data.length - position}`);
      }
      blocks.push(data.subarray(position, position + chunkBytes));
      position += chunkBytes;
    }
  }
  let declared = 0;
  for (const block of blocks) declared += snappyDeclaredLength(block);
  if (declared > decompressedBytesMax) throw tooLarge('snappy', declared, decompressedBytesMax);
  const parts = await Promise.all(
    blocks.map(async (block) => {
      try {
        return (await snappyUncompress(block, { asBuffer: true })) as Buffer;
      } catch (err) {
        throw new RecordError('CORRUPT_COMPRESSED_DATA', 'snappy block could not be decompressed', { cause: err });
      }
    }),
  );
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return checkOutput('snappy', out, decompressedBytesMax);
}

// ---------------------------------------------------------------------------- lz4

const LZ4_BLOCK_BYTES_BY_BD = new Map<number, number>([
  [4, 64 * 1024],
  [5, 256 * 1024],
  [6, 1024 * 1024],
  [7, 4 * 1024 * 1024],
]);

/**
 * Walks the LZ4 frame(s) without decompressing and returns an upper bound of the output:
 * the exact size of stored blocks plus the frame's maximum block size for each compressed
 * block. A declared content size is checked too, but never trusted on its own: a frame
 * that lies about it must not make the decompressor allocate past the bound. Rejects
 * malformed framing and anything whose bound exceeds decompressedBytesMax.
 */
export function lz4OutputBound(data: Buffer, decompressedBytesMax: number): number {
  let position = 0;
  let bound = 0;
  if (data.length === 0) throw corrupt('lz4', 'empty input');
  while (position < data.length) {
    if (data.length - position < 4) throw corrupt('lz4', 'trailing bytes after the last frame');
    const magic = data.readUInt32LE(position);
    position += 4;
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      position = skipFrame('lz4', data, position);
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) throw corrupt('lz4', `bad frame magic 0x${magic.toString(16)}`);
    if (data.length - position < 3) throw corrupt('lz4', 'frame descriptor truncated');
    const flg = data[position]!;
    const bd = data[position + 1]!;
    position += 2;
    if (flg >> 6 !== 1) throw corrupt('lz4', `unsupported frame version ${flg >> 6}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSizeSet = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictIdSet = (flg & 0x01) !== 0;
    const blockBytesMax = LZ4_BLOCK_BYTES_BY_BD.get((bd >> 4) & 0x07);
    if (blockBytesMax === undefined || (bd & 0x8f) !== 0) throw corrupt('lz4', `bad block descriptor 0x${bd.toString(16)}`);
    let declaredContent = -1;
    if (contentSizeSet) {
      if (data.length - position < 8) throw corrupt('lz4', 'content size truncated');
      const hi = data.readUInt32LE(position + 4);
      declaredContent = hi * 0x1_0000_0000 + data.readUInt32LE(position);
      position += 8;
      if (declaredContent > decompressedBytesMax) throw tooLarge('lz4', declaredContent, decompressedBytesMax);
    }
    if (dictIdSet) position += 4;
    position += 1; // header checksum, verified by the decompressor
    let frameBound = 0;
    for (;;) {
      if (data.length - position < 4) throw corrupt('lz4', 'block header truncated');
      const word = data.readUInt32LE(position);
      position += 4;
      if (word === 0) break;
      const stored = (word & 0x8000_0000) !== 0;
      const blockBytes = word & 0x7fff_ffff;
      if (blockBytes > blockBytesMax) throw corrupt('lz4', `block of ${blockBytes} bytes exceeds the frame maximum ${blockBytesMax}`);
      if (blockBytes > data.length - position) throw corrupt('lz4', 'block data truncated');
      position += blockBytes + (blockChecksum ? 4 : 0);
      frameBound += stored ? blockBytes : blockBytesMax;
      if (bound + frameBound > decompressedBytesMax) throw tooLarge('lz4', bound + frameBound, decompressedBytesMax);
    }
    if (contentChecksum) position += 4;
    if (position > data.length) throw corrupt('lz4', 'frame checksum truncated');
    bound += frameBound;
  }
  return bound;
}

function skipFrame(codec: string, data: Buffer, position: number): number {
  if (data.length - position < 4) throw corrupt(codec, 'skippable frame size truncated');
  const size = data.readUInt32LE(position);
  position += 4;
  if (size > data.length - position) throw corrupt(codec, 'skippable frame truncated');
  return position + size;
}

// ---------------------------------------------------------------------------- zstd

/**
 * Walks the zstd frame(s) without decompressing and bounds the output from the block
 * headers: raw and RLE blocks declare their output exactly, a compressed block yields at
 * most min(window size, 128 KiB). Streaming writers (zstd-jni as Kafka uses it,
 * @mongodb-js/zstd) omit the frame content size, so this structural bound is what makes
 * the check possible before anything is allocated; a declared content size is checked
 * as well. Rejects malformed framing and anything whose bound exceeds
 * decompressedBytesMax.
 */
export function zstdOutputBound(data: Buffer, decompressedBytesMax: number): number {
  let position = 0;
  let bound = 0;
  if (data.length === 0) throw corrupt('zstd', 'empty input');
  while (position < data.length) {
    if (data.length - position < 4) throw corrupt('zstd', 'trailing bytes after the last frame');
    const magic = data.readUInt32LE(position);
    position += 4;
    if (magic >= SKIPPABLE_MAGIC_MIN && magic <= SKIPPABLE_MAGIC_MAX) {
      position = skipFrame('zstd', data, position);
      continue;
    }
    if (magic !== ZSTD_FRAME_MAGIC) throw corrupt('zstd', `bad frame magic 0x${magic.toString(16)}`);
    if (data.length - position < 1) throw corrupt('zstd', 'frame header truncated');
    const fhd = data[position++]!;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const contentChecksum = (fhd & 0x04) !== 0;
    const dictIdBytes = [0, 1, 2, 4][fhd & 0x03]!;
    if ((fhd & 0x08) !== 0) throw corrupt('zstd', 'reserved frame header bit set');
    let windowBytes = Number.POSITIVE_INFINITY;
    if (!singleSegment) {
      if (data.length - position < 1) throw corrupt('zstd', 'window descriptor truncated');
      const wd = data[position++]!;
      const exponent = wd >> 3;
      const base = 2 ** (10 + exponent);
      windowBytes = base + (base / 8) * (wd & 0x07);
    }
    position += dictIdBytes;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    if (data.length - position < fcsBytes) throw corrupt('zstd', 'frame content size truncated');
    let declaredContent = -1;
    if (fcsBytes === 1) declaredContent = data[position]!;
    else if (fcsBytes === 2) declaredContent = data.readUInt16LE(position) + 256;
    else if (fcsBytes === 4) declaredContent = data.readUInt32LE(position);
    else if (fcsBytes === 8) declaredContent = data.readUInt32LE(position + 4) * 0x1_0000_0000 + data.readUInt32LE(position);
    position += fcsBytes;
    if (declaredContent > decompressedBytesMax) throw tooLarge('zstd', declaredContent, decompressedBytesMax);
    if (singleSegment) windowBytes = declaredContent;
    const blockBytesMax = Math.min(windowBytes, ZSTD_BLOCK_BYTES_MAX);
    let frameBound = 0;
    for (;;) {
      if (data.length - position < 3) throw corrupt('zstd', 'block header truncated');
      const header = data.readUIntLE(position, 3);
      position += 3;
      const last = (header & 1) === 1;
      const type = (header >> 1) & 0x03;
      const blockBytes = header >>> 3;
      if (type === 3) throw corrupt('zstd', 'reserved block type');
      if (blockBytes > ZSTD_BLOCK_BYTES_MAX) throw corrupt('zstd', `block of ${blockBytes} bytes exceeds 128 KiB`);
      const payloadBytes = type === 1 ? 1 : blockBytes;
      if (payloadBytes > data.length - position) throw corrupt('zstd', 'block data truncated');
      position += payloadBytes;
      frameBound += type === 2 ? blockBytesMax : blockBytes;
      if (bound + frameBound > decompressedBytesMax) throw tooLarge('zstd', bound + frameBound, decompressedBytesMax);
      if (last) break;
    }
    if (contentChecksum) position += 4;
    if (position > data.length) throw corrupt('zstd', 'frame checksum truncated');
    bound += frameBound;
  }
  return bound;
}
