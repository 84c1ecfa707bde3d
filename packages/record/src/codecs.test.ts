import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from '@mongodb-js/zstd';
import { compressFrame } from 'lz4-napi';
import { compress as snappyRawCompress } from 'snappy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SNAPPY_BLOCK_BYTES, compressRecords, decompressRecords, lz4OutputBound, snappyDeclaredLength, zstdOutputBound } from './codecs.js';
import { type CompressionName } from './layout.js';
import { errorCode, errorCodeSync } from './testing/util.js';

const CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const MiB = 1024 * 1024;

/** Compressible but not trivial: repeated text with a counter. */
function textLike(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let position = 0;
  for (let i = 0; position < bytes; i++) position += out.write(`record-${i % 977} payload ${(i * 7919) % 104729};`, position);
  return out;
}

describe('codecs round-trip', () => {
  for (const codec of CODECS) {
    it(`${codec}: decompress(compress(x)) == x for arbitrary bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
          const data = Buffer.from(bytes);
          const compressed = await compressRecords(codec, data);
          const out = await decompressRecords(codec, compressed, 64 * MiB);
          expect(out.equals(data)).toBe(true);
        }),
        { numRuns: 40 },
      );
    });

    it(`${codec}: multi-block payloads (300 KiB) round-trip`, async () => {
      const data = textLike(300 * 1024);
      const out = await decompressRecords(codec, await compressRecords(codec, data), 64 * MiB);
      expect(out.equals(data)).toBe(true);
    });
  }
});

describe('snappy is the xerial snappy-java stream Kafka writes', () => {
  it('starts with the xerial header, version 1, compatible version 1, then 32 KiB chunks', async () => {
    const data = textLike(SNAPPY_BLOCK_BYTES * 2 + 10);
    const out = await compressRecords('snappy', data);
    expect(out.subarray(0, 8).toString('hex')).toBe('82534e4150505900');
    expect(out.readInt32BE(8)).toBe(1);
    expect(out.readInt32BE(12)).toBe(1);
    let position = 16;
    const declared: number[] = [];
    while (position < out.length) {
      const chunk = out.readInt32BE(position);
      declared.push(snappyDeclaredLength(out.subarray(position + 4, position + 4 + chunk)));
      position += 4 + chunk;
    }
    expect(position).toBe(out.length);
    expect(declared).toEqual([SNAPPY_BLOCK_BYTES, SNAPPY_BLOCK_BYTES, 10]);
  });

  it('also reads a raw snappy block and concatenated xerial streams, as SnappyInputStream does', async () => {
    const data = textLike(5000);
    const raw = await snappyRawCompress(data);
    expect((await decompressRecords('snappy', raw, MiB)).equals(data)).toBe(true);
    const a = await compressRecords('snappy', data.subarray(0, 1000));
    const b = await compressRecords('snappy', data.subarray(1000));
    expect((await decompressRecords('snappy', Buffer.concat([a, b]), MiB)).equals(data)).toBe(true);
  });
});

describe('lz4 is the LZ4 frame format with independent blocks', () => {
  it('writes magic, FLG version 1 + block independence, no checksums', async () => {
    const out = await compressRecords('lz4', textLike(1000));
    expect(out.readUInt32LE(0)).toBe(0x184d2204);
    expect(out[4]).toBe(0x60);
  });
});

describe('decompression bombs are refused', () => {
  const zeros = Buffer.alloc(8 * MiB);

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`${codec}: 8 MiB of zeros with a 1 MiB bound → DECOMPRESSED_TOO_LARGE`, async () => {
      const compressed = await compressRecords(codec, zeros);
      expect(compressed.length).toBeLessThan(MiB);
      expect(await errorCode(() => decompressRecords(codec, compressed, MiB))).toBe('DECOMPRESSED_TOO_LARGE');
    });
  }

  it('gzip: output exactly at the bound is accepted, one byte more is not', async () => {
    const data = textLike(100_000);
    const compressed = gzipSync(data);
    expect((await decompressRecords('gzip', compressed, data.length)).equals(data)).toBe(true);
    expect(await errorCode(() => decompressRecords('gzip', compressed, data.length - 1))).toBe('DECOMPRESSED_TOO_LARGE');
  });

  it('snappy: the length preamble is checked before decompressing', async () => {
    // Preamble says 4 GiB - 1; the body is garbage that is never decoded.
    const lie = Buffer.from('ffffffff0f0000', 'hex');
    expect(await errorCode(() => decompressRecords('snappy', lie, 64 * MiB))).toBe('DECOMPRESSED_TOO_LARGE');
    const data = textLike(100_000);
    const compressed = await compressRecords('snappy', data);
    expect((await decompressRecords('snappy', compressed, data.length)).equals(data)).toBe(true);
    expect(await errorCode(() => decompressRecords('snappy', compressed, data.length - 1))).toBe('DECOMPRESSED_TOO_LARGE');
  });

  it('lz4: a declared content size past the bound is refused from the header alone', () => {
    // FLG 0x68: version 1, independent blocks, content size present; BD 64 KiB.
    const frame = Buffer.from('04224d186840' + '0000000001000000' + '00' + '00000000', 'hex');
    expect(errorCodeSync(() => lz4OutputBound(frame, 64 * MiB))).toBe('DECOMPRESSED_TOO_LARGE');
  });

  it('lz4: the block bound covers the real output', async () => {
    const data = textLike(500_000);
    const frame = await compressFrame(data);
    expect(lz4OutputBound(frame, 64 * MiB)).toBeGreaterThanOrEqual(data.length);
  });

  it('zstd: a declared frame content size past the bound is refused from the header alone', () => {
    // FHD 0xa0: 4-byte content size, single segment; content size 0x7fffffff.
    const frame = Buffer.from('28b52ffda0ffffff7f010000', 'hex');
    expect(errorCodeSync(() => zstdOutputBound(frame, 64 * MiB))).toBe('DECOMPRESSED_TOO_LARGE');
  });

  it('zstd: without a content size the block headers bound the output', async () => {
    const data = textLike(500_000);
    const frame = await zstdCompress(data, 3);
    const bound = zstdOutputBound(frame, 64 * MiB);
    expect(bound).toBeGreaterThanOrEqual(data.length);
    expect(bound).toBeLessThan(data.length + 128 * 1024 * 2);
    expect((await decompressRecords('zstd', frame, bound)).equals(data)).toBe(true);
  });
});

describe('corrupt compressed data', () => {
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`${codec}: truncated or garbled input → CORRUPT_COMPRESSED_DATA`, async () => {
      const data = textLike(20_000);
      const compressed = await compressRecords(codec, data);
      const truncated = compressed.subarray(0, Math.floor(compressed.length / 2));
      expect(await errorCode(() => decompressRecords(codec, truncated, MiB))).toBe('CORRUPT_COMPRESSED_DATA');
      expect(await errorCode(() => decompressRecords(codec, Buffer.from('not compressed at all'), MiB))).toMatch(/CORRUPT_COMPRESSED_DATA|DECOMPRESSED_TOO_LARGE/);
      expect(await errorCode(() => decompressRecords(codec, Buffer.alloc(0), MiB))).toBe('CORRUPT_COMPRESSED_DATA');
    });
  }

  it('zstd and lz4 refuse trailing garbage after the last frame', async () => {
    const data = textLike(1000);
    for (const codec of ['lz4', 'zstd'] as const) {
      const compressed = Buffer.concat([await compressRecords(codec, data), Buffer.from([1, 2, 3, 4, 5])]);
      expect(await errorCode(() => decompressRecords(codec, compressed, MiB))).toBe('CORRUPT_COMPRESSED_DATA');
    }
  });
});
