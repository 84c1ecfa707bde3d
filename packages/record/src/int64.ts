import { RecordError } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Reads a big-endian int64 as a JS number. Values outside the safe-integer range are
 * rejected rather than rounded: a rounded offset would silently alias another record.
 */
export function readInt64(buf: Buffer, position: number, field: string): number {
  const hi = buf.readInt32BE(position);
  const lo = buf.readUInt32BE(position + 4);
  const value = hi * TWO_POW_32 + lo;
  if (!Number.isSafeInteger(value)) {
    throw new RecordError('UNSAFE_INTEGER', `${field} does not fit a safe integer (hi=${hi}, lo=${lo})`);
  }
  return value;
}

export function writeInt64(buf: Buffer, position: number, value: number, field: string): void {
  assertSafeInteger(value, field);
  const hi = Math.floor(value / TWO_POW_32);
  const lo = value - hi * TWO_POW_32;
  buf.writeInt32BE(hi, position);
  buf.writeUInt32BE(lo, position + 4);
}

export function assertSafeInteger(value: number, field: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RecordError('UNSAFE_INTEGER', `${field} must be a safe integer, got ${String(value)}`);
  }
}

export function assertInt32(value: number, field: string): void {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new RecordError('INVALID_RECORD', `${field} must be an int32, got ${String(value)}`);
  }
}

export function assertInt16(value: number, field: string): void {
  if (!Number.isInteger(value) || value < -0x8000 || value > 0x7fff) {
    throw new RecordError('INVALID_RECORD', `${field} must be an int16, got ${String(value)}`);
  }
}
