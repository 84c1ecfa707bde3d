import { crc32c } from './bytes.js';

/**
 * A key bloom filter (double hashing over two CRC-32C seeds). Layout: hashes u8 | bitCount u32 LE | bits.
 * A false "maybe" costs a block read; a false "no" would lose data, so contains() never errs that way.
 */
export class BloomFilter {
  private constructor(
    readonly hashes: number,
    readonly bitCount: number,
    readonly bits: Buffer,
  ) {}

  static forKeys(keys: readonly Uint8Array[], bitsPerKey: number): BloomFilter {
    const bitCount = Math.max(64, Math.ceil(keys.length * bitsPerKey));
    const hashes = Math.min(30, Math.max(1, Math.round(bitsPerKey * 0.69)));
    const f = new BloomFilter(hashes, bitCount, Buffer.alloc(Math.ceil(bitCount / 8)));
    for (const k of keys) f.add(k);
    return f;
  }

  static decode(buf: Buffer): BloomFilter {
    const hashes = buf.readUInt8(0);
    const bitCount = buf.readUInt32LE(1);
    if (hashes < 1 || hashes > 30 || buf.length - 5 < Math.ceil(bitCount / 8)) throw new RangeError('malformed bloom filter');
    return new BloomFilter(hashes, bitCount, buf.subarray(5));
  }

  encode(): Buffer {
    const head = Buffer.alloc(5);
    head.writeUInt8(this.hashes, 0);
    head.writeUInt32LE(this.bitCount, 1);
    return Buffer.concat([head, this.bits]);
  }

  add(key: Uint8Array): void {
    this.forEachBit(key, (bit) => {
      this.bits[bit >>> 3] = (this.bits[bit >>> 3] ?? 0) | (1 << (bit & 7));
    });
  }

  mayContain(key: Uint8Array): boolean {
    let all = true;
    this.forEachBit(key, (bit) => {
      if (((this.bits[bit >>> 3] ?? 0) & (1 << (bit & 7))) === 0) all = false;
    });
    return all;
  }

  private forEachBit(key: Uint8Array, fn: (bit: number) => void): void {
    const h1 = crc32c(key);
    const h2 = crc32c(key, 0x9e3779b9) | 1;
    for (let i = 0; i < this.hashes; i++) fn(((h1 + Math.imul(i, h2)) >>> 0) % this.bitCount);
  }
}
