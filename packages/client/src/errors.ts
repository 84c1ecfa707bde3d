import { StreamBusError, TransportError } from '@streambus/protocol';

/** Failures the SDK itself decides (no broker answered with a domain code). Stable forever. */
export type ClientErrorCode =
  /** The producer, consumer or client was closed before the operation finished. */
  | 'CLOSED'
  /** A record was not acknowledged within deliveryTimeoutMs (it may still have been written). */
  | 'DELIVERY_TIMEOUT'
  /** send() waited maxBlockMs for buffer memory or metadata. */
  | 'BUFFER_TIMEOUT'
  /** A single record is larger than bufferMemoryBytes or maxRequestBytes. */
  | 'RECORD_TOO_LARGE'
  /** An argument or option is invalid. */
  | 'INVALID_ARGUMENT'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** No broker of the bootstrap list or the metadata answered. */
  | 'NO_BROKER_AVAILABLE';

const RETRIABLE: { readonly [C in ClientErrorCode]: boolean } = {
  CLOSED: false,
  DELIVERY_TIMEOUT: true,
  BUFFER_TIMEOUT: true,
  RECORD_TOO_LARGE: false,
  INVALID_ARGUMENT: false,
  ABORTED: false,
  NO_BROKER_AVAILABLE: true,
};

/**
 * The SDK's own failure family. Broker answers stay StreamBusError and transport failures
 * TransportError (both from @streambus/protocol); all three carry `code` and `retriable`.
 */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly retriable: boolean;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'ClientError';
    this.code = code;
    this.retriable = RETRIABLE[code];
  }
}

export function isClientError(err: unknown): err is ClientError {
  return err instanceof ClientError;
}

/** Any error the SDK hands to callers. */
export type SdkError = ClientError | StreamBusError | TransportError;

/** Whether `err` is worth retrying (unknown errors are not). */
export function isRetriableError(err: unknown): boolean {
  return (err instanceof ClientError || err instanceof StreamBusError || err instanceof TransportError) && err.retriable;
}

export function abortError(signal: AbortSignal): ClientError {
  return new ClientError('ABORTED', 'operation aborted by its AbortSignal', { cause: signal.reason });
}

export function invalidArgument(message: string): ClientError {
  return new ClientError('INVALID_ARGUMENT', message);
}
