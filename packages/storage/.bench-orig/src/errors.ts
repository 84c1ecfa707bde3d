/**
 * One error family for the storage engine. `code` is stable (it travels to the broker and on
 * the wire); `retriable` says whether the same call may succeed later without operator action.
 */
export type StorageErrorCode =
  | 'OFFSET_OUT_OF_RANGE'
  | 'INVALID_ARGUMENT'
  | 'INVALID_RECORD'
  | 'PARTITION_NOT_FOUND'
  | 'PARTITION_EXISTS'
  | 'CORRUPTION'
  | 'STORAGE_FAILED'
  | 'CLOSED';

const RETRIABLE: Record<StorageErrorCode, boolean> = {
  OFFSET_OUT_OF_RANGE: false,
  INVALID_ARGUMENT: false,
  INVALID_RECORD: false,
  PARTITION_NOT_FOUND: false,
  PARTITION_EXISTS: false,
  CORRUPTION: false,
  // Fail-stop: the engine must be reopened, so retrying the same call on this instance is futile.
  STORAGE_FAILED: false,
  CLOSED: false,
};

export interface StorageErrorDetails {
  readonly file?: string;
  readonly position?: number;
  readonly cause?: unknown;
}

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  readonly retriable: boolean;
  /** File involved in a CORRUPTION report. */
  readonly file: string | undefined;
  /** Byte position inside `file` where corruption was found. */
  readonly position: number | undefined;

  constructor(code: StorageErrorCode, message: string, details: StorageErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retriable = RETRIABLE[code];
    this.file = details.file;
    this.position = details.position;
  }
}

export function corruption(file: string, position: number, what: string, cause?: unknown): StorageError {
  return new StorageError('CORRUPTION', `${what} in ${file} at byte ${position}`, { file, position, cause });
}

export function invalidArgument(message: string): StorageError {
  return new StorageError('INVALID_ARGUMENT', message);
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
