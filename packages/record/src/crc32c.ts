import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC-32C (Castagnoli), the checksum Kafka uses for RecordBatch v2. Unsigned 32-bit result. */
export function crc32c(buf: Uint8Array): number {
  return nativeCrc32c(buf) >>> 0;
}
