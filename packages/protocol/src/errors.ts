import { status as GrpcStatus } from '@grpc/grpc-js';
import { ErrorCode, type Error as ErrorProto, type LeaderHint } from './gen/streambus/v1/common.js';

export { ErrorCode };

/** The stable string name of an ErrorCode (Kafka's name: 'NOT_LEADER_OR_FOLLOWER'). */
export type ErrorCodeName = keyof typeof ErrorCode;

/**
 * Whether a client may retry after each code, as Kafka classifies its exceptions. The
 * mapped type makes the compiler reject a code added to common.proto without an entry here;
 * packages/sdk-go/errors/errors.go holds the same table and a test checks both agree.
 */
const RETRIABLE: { readonly [C in ErrorCode]: boolean } = {
  [ErrorCode.NONE]: false,
  [ErrorCode.UNKNOWN_SERVER_ERROR]: false,
  [ErrorCode.OFFSET_OUT_OF_RANGE]: false,
  [ErrorCode.CORRUPT_MESSAGE]: true,
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: true,
  [ErrorCode.LEADER_NOT_AVAILABLE]: true,
  [ErrorCode.NOT_LEADER_OR_FOLLOWER]: true,
  [ErrorCode.REQUEST_TIMED_OUT]: true,
  [ErrorCode.BROKER_NOT_AVAILABLE]: false,
  [ErrorCode.REPLICA_NOT_AVAILABLE]: true,
  [ErrorCode.MESSAGE_TOO_LARGE]: false,
  [ErrorCode.NETWORK_EXCEPTION]: true,
  [ErrorCode.INVALID_TOPIC_EXCEPTION]: false,
  [ErrorCode.RECORD_LIST_TOO_LARGE]: false,
  [ErrorCode.NOT_ENOUGH_REPLICAS]: true,
  [ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND]: true,
  [ErrorCode.INVALID_REQUIRED_ACKS]: false,
  [ErrorCode.UNKNOWN_MEMBER_ID]: false,
  [ErrorCode.INVALID_TIMESTAMP]: false,
  [ErrorCode.UNSUPPORTED_VERSION]: false,
  [ErrorCode.TOPIC_ALREADY_EXISTS]: false,
  [ErrorCode.INVALID_PARTITIONS]: false,
  [ErrorCode.INVALID_REPLICATION_FACTOR]: false,
  [ErrorCode.INVALID_REPLICA_ASSIGNMENT]: false,
  [ErrorCode.INVALID_CONFIG]: false,
  [ErrorCode.NOT_CONTROLLER]: true,
  [ErrorCode.INVALID_REQUEST]: false,
  [ErrorCode.POLICY_VIOLATION]: false,
  [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]: false,
  [ErrorCode.DUPLICATE_SEQUENCE_NUMBER]: false,
  [ErrorCode.INVALID_PRODUCER_EPOCH]: false,
  [ErrorCode.KAFKA_STORAGE_ERROR]: true,
  [ErrorCode.UNKNOWN_PRODUCER_ID]: false,
  [ErrorCode.REASSIGNMENT_IN_PROGRESS]: false,
  [ErrorCode.GROUP_ID_NOT_FOUND]: false,
  [ErrorCode.FENCED_LEADER_EPOCH]: true,
  [ErrorCode.UNKNOWN_LEADER_EPOCH]: true,
  [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE]: false,
  [ErrorCode.STALE_BROKER_EPOCH]: false,
  [ErrorCode.STALE_CONTROLLER_EPOCH]: false,
  [ErrorCode.INVALID_UPDATE_VERSION]: false,
  [ErrorCode.INELIGIBLE_REPLICA]: false,
  [ErrorCode.OFFSET_NOT_AVAILABLE]: true,
  [ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE]: true,
  [ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]: false,
  [ErrorCode.ELECTION_NOT_NEEDED]: false,
  [ErrorCode.NO_REASSIGNMENT_IN_PROGRESS]: false,
  [ErrorCode.INVALID_RECORD]: false,
  [ErrorCode.THROTTLING_QUOTA_EXCEEDED]: true,
  [ErrorCode.PRODUCER_FENCED]: false,
  [ErrorCode.RESOURCE_NOT_FOUND]: false,
  [ErrorCode.DUPLICATE_BROKER_REGISTRATION]: false,
  [ErrorCode.BROKER_ID_NOT_REGISTERED]: false,
  [ErrorCode.INCONSISTENT_CLUSTER_ID]: false,
  [ErrorCode.FENCED_MEMBER_EPOCH]: false,
};

/** Every ErrorCode this build knows, in proto order. */
export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === 'number');

export function isKnownErrorCode(code: number): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(RETRIABLE, code);
}

/** Whether the operation may succeed if retried. A code from a newer server is not retriable. */
export function isRetriable(code: number): boolean {
  return isKnownErrorCode(code) && RETRIABLE[code];
}

/** Kafka's name of a code ('NOT_LEADER_OR_FOLLOWER'); unknown codes get a stable placeholder. */
export function errorCodeName(code: number): string {
  return isKnownErrorCode(code) ? ErrorCode[code] : `UNKNOWN_ERROR_CODE_${code}`;
}

export interface StreamBusErrorOptions {
  cause?: unknown;
  /** Overrides the code's table value; used when the server said so for a code we do not know. */
  retriable?: boolean;
  /** With NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH / NOT_CONTROLLER: the current leader. */
  leaderId?: number;
  leaderEpoch?: number;
}

/**
 * A domain error: the broker answered, and the answer is an ErrorCode. The same codes
 * travel in responses (per partition), in `Error` messages, and in gRPC trailers when a
 * handler fails a whole call.
 */
export class StreamBusError extends Error {
  /** Kafka's name of the code, stable forever ('NOT_LEADER_OR_FOLLOWER'). */
  readonly code: string;
  /** The number on the wire (Kafka's error code). */
  readonly errorCode: ErrorCode;
  readonly retriable: boolean;
  readonly leaderId: number | undefined;
  readonly leaderEpoch: number | undefined;

  constructor(errorCode: ErrorCode, message: string, options: StreamBusErrorOptions = {}) {
    super(`${errorCodeName(errorCode)}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StreamBusError';
    this.code = errorCodeName(errorCode);
    this.errorCode = errorCode;
    this.retriable = options.retriable ?? isRetriable(errorCode);
    this.leaderId = options.leaderId;
    this.leaderEpoch = options.leaderEpoch;
  }

  /** The error as an `Error` message for a response. */
  toProto(): ErrorProto {
    return {
      code: this.errorCode,
      message: this.message,
      retriable: this.retriable,
    };
  }

  /** Builds the error from a response's `Error` (and an optional leader hint); undefined means success. */
  static fromProto(error: ErrorProto | undefined, hint?: LeaderHint): StreamBusError | undefined {
    if (error === undefined || error.code === ErrorCode.NONE) return undefined;
    const prefix = `${errorCodeName(error.code)}: `;
    const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    return new StreamBusError(error.code, message, {
      retriable: isKnownErrorCode(error.code) ? isRetriable(error.code) : error.retriable,
      leaderId: hint?.leaderId,
      leaderEpoch: hint?.leaderEpoch,
    });
  }
}

export function isStreamBusError(err: unknown): err is StreamBusError {
  return err instanceof StreamBusError;
}

/** gRPC status names, e.g. 'UNAVAILABLE'. */
export type TransportErrorCode = keyof typeof GrpcStatus;

// Statuses after which the same call may succeed: the server was unreachable, overloaded
// or slow. CANCELLED is not: the caller asked for it.
const RETRIABLE_STATUSES: ReadonlySet<number> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
]);

/**
 * A transport-level failure: no domain answer came back (deadline, unreachable server,
 * cancelled call, malformed frame). `code` is the gRPC status name.
 */
export class TransportError extends Error {
  readonly code: TransportErrorCode;
  readonly grpcStatus: GrpcStatus;
  readonly retriable: boolean;

  constructor(grpcStatus: GrpcStatus, message: string, options?: { cause?: unknown }) {
    const code = (GrpcStatus[grpcStatus] as TransportErrorCode | undefined) ?? 'UNKNOWN';
    super(`${code}: ${message}`, options);
    this.name = 'TransportError';
    this.code = code;
    this.grpcStatus = grpcStatus;
    this.retriable = RETRIABLE_STATUSES.has(grpcStatus);
  }
}

export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}
