/** Stable codes for every way a RecordBatch can be rejected. Never renumber or rename. */
export type RecordErrorCode =
  | 'TRUNCATED'
  | 'INVALID_MAGIC'
  | 'CORRUPT_CRC'
  | 'INVALID_LENGTH'
  | 'VARINT_OVERFLOW'
  | 'RECORD_COUNT_MISMATCH'
  | 'DECOMPRESSED_TOO_LARGE'
  | 'UNSUPPORTED_COMPRESSION'
  | 'CORRUPT_COMPRESSED_DATA'
  | 'INVALID_RECORD'
  | 'UNSAFE_INTEGER';

/**
 * The single error family of this package. A bad batch stays bad however often it is
 * re-read, so nothing here is retriable.
 */
export class RecordError extends Error {
  readonly code: RecordErrorCode;
  readonly retriable = false;

  constructor(code: RecordErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'RecordError';
    this.code = code;
  }
}

export function isRecordError(err: unknown): err is RecordError {
  return err instanceof RecordError;
}
