// Test-only helpers; not exported from the package entry.
import { crc32c } from '../crc32c.js';
import { RecordError, type RecordErrorCode } from '../errors.js';

/** Runs fn and returns the RecordError code it throws; rethrows anything else. */
export async function errorCode(fn: () => unknown): Promise<RecordErrorCode | 'no error'> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof RecordError) return err.code;
    throw err;
  }
  return 'no error';
}

export function errorCodeSync(fn: () => unknown): RecordErrorCode | 'no error' {
  try {
    fn();
  } catch (err) {
    if (err instanceof RecordError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Recomputes the CRC after a test edits CRC-covered bytes on purpose. */
export function resealCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}
