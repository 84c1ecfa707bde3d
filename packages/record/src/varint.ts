import { RecordError, type RecordErrorCode } from './errors.js';

/** Kafka's limits: a varint holds an int32 (5 bytes max), a varlong an int64 (10 bytes max). */
export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;

/**
 * A cursor over a byte range that decodes Kafka's zig-zag varints. Every read checks the
 * range end, so a record claiming more bytes than exist fails instead of reading its
 * neighbour.
 */
export class VarintReader {
  position: number;

  /**
   * @param overrunCode what running past `end` means: TRUNCATED for a cut buffer,
   *   INVALID_RECORD inside a record whose framing is complete but whose fields lie.
   */
  constructor(
    readonly buf: Buffer,
    position: number,
    public end: number,
    readonly overrunCode: RecordErrorCode = 'TRUNCATED',
  ) {
    this.position = position;
  }

  readVarint(): number {
    const buf = this.buf;
    let raw = 0;
    let multiplier = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.position >= this.end) {
        throw new RecordError(this.overrunCode, 'varint runs past the end of its data');
      }
      const b = buf[this.position++]!;
      raw += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) {
        if (raw > 0xffff_ffff) {
          throw new RecordError('VARINT_OVERFLOW', `varint value ${raw} does not fit 32 bits`);
        }
        // Zig-zag: the low bit is the sign.
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
      multiplier *= 128;
    }
    throw new RecordError('VARINT_OVERFLOW', `varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** Decodes a zig-zag varlong; values outside the safe-integer range are rejected. */
  readVarlong(): number {
    const buf = this.buf;
    if (this.position >= this.end) {
      throw new RecordError(this.overrunCode, 'varlong runs past the end of its data');
    }
    const first = buf[this.position++]!;
    const negative = (first & 1) === 1;
    // The magnitude is accumulated without the sign bit so that it stays exact up to 2^53.
    let magnitude = (first & 0x7f) >>> 1;
    if ((first & 0x80) === 0) {
      return negative ? -(magnitude + 1) : magnitude;
    }
    let multiplier = 64;
    for (let i = 1; i < VARLONG_BYTES_MAX; i++) {
      if (this.position >= this.end) {
        throw new RecordError(this.overrunCode, 'varlong runs past the end of its data');
      }
      const b = buf[this.position++]!;
      magnitude += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) {
        const value = negative ? -(magnitude + 1) : magnitude;
        if (!Number.isSafeInteger(value)) {
          throw new RecordError('UNSAFE_INTEGER', 'varlong value does not fit a safe integer');
        }
        return value;
      }
      multiplier *= 128;
    }
    throw new RecordError('VARINT_OVERFLOW', `varlong longer than ${VARLONG_BYTES_MAX} bytes`);
  }
}

export function sizeOfVarint(value: number): number {
  const raw = ((value << 1) ^ (value >> 31)) >>> 0;
  if (raw < 0x80) return 1;
  if (raw < 0x4000) return 2;
  if (raw < 0x20_0000) return 3;
  if (raw < 0x1000_0000) return 4;
  return 5;
}

export function sizeOfVarlong(value: number): number {
  let magnitude = value >= 0 ? value : -value - 1;
  // First byte carries 6 bits of magnitude plus the sign.
  let size = 1;
  magnitude = Math.floor(magnitude / 64);
  while (magnitude > 0) {
    size++;
    magnitude = Math.floor(magnitude / 128);
  }
  return size;
}

/** Writes an int32 as a zig-zag varint; returns the position after it. */
export function writeVarint(buf: Buffer, position: number, value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  while (raw >= 0x80) {
    buf[position++] = (raw & 0x7f) | 0x80;
    raw >>>= 7;
  }
  buf[position++] = raw;
  return position;
}

/** Writes a safe integer as a zig-zag varlong; returns the position after it. */
export function writeVarlong(buf: Buffer, position: number, value: number): number {
  const negative = value < 0;
  let magnitude = negative ? -value - 1 : value;
  let b = ((magnitude % 64) * 2) | (negative ? 1 : 0);
  magnitude = Math.floor(magnitude / 64);
  while (magnitude > 0) {
    buf[position++] = b | 0x80;
    b = magnitude % 128;
    magnitude = Math.floor(magnitude / 128);
  }
  buf[position++] = b;
  return position;
}
