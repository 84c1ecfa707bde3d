import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { StorageError } from './errors.js';

/** CRC-32C (Castagnoli), hardware accelerated; `seed` continues a previous value. */
export function crc32c(data: Uint8Array, seed?: number): number {
  return nativeCrc32c(data, seed) >>> 0;
}

const TWO32 = 0x1_0000_0000;

/** Little-endian unsigned 64-bit write of a safe integer (our own formats are little-endian). */
export function writeU64LE(buf: Buffer, value: number, pos: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new StorageError('INVALID_ARGUMENT', `not a safe non-negative integer: ${value}`);
  buf.writeUInt32LE(value % TWO32, pos);
  buf.writeUInt32LE(Math.floor(value / TWO32), pos + 4);
}

export function readU64LE(buf: Buffer, pos: number): number {
  const lo = buf.readUInt32LE(pos);
  const hi = buf.readUInt32LE(pos + 4);
  if (hi >= 0x20_0000) throw new StorageError('CORRUPTION', `u64 beyond 2^53 at ${pos}`, { position: pos });
  return hi * TWO32 + lo;
}

/** Little-endian signed 64-bit (timestamps may be -1 for "none"). */
export function writeI64LE(buf: Buffer, value: number, pos: number): void {
  if (!Number.isSafeInteger(value)) throw new StorageError('INVALID_ARGUMENT', `not a safe integer: ${value}`);
  buf.writeBigInt64LE(BigInt(value), pos);
}

export function readI64LE(buf: Buffer, pos: number): number {
  const v = buf.readBigInt64LE(pos);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new StorageError('CORRUPTION', `i64 beyond the safe range at ${pos}`, { position: pos });
  }
  return Number(v);
}

/** Big-endian signed 64-bit as Kafka writes it; null when outside the safe-integer range. */
export function readI64BESafe(buf: Uint8Array, pos: number): number | null {
  const view = buf instanceof Buffer ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const hi = view.readInt32BE(pos);
  const lo = view.readUInt32BE(pos + 4);
  if (hi >= 0x20_0000 || hi < -0x20_0000) return null;
  return hi * TWO32 + lo;
}

export function writeI64BE(buf: Buffer, value: number, pos: number): void {
  buf.writeBigInt64BE(BigInt(value), pos);
}

export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
