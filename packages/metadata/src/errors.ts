/**
 * Errors of the metadata state machine.
 *
 * `MetadataError` is the one family for every rejection a command can get: its `code` is the
 * wire ErrorCode name (Kafka's spelling), so a broker forwards it to the client unchanged.
 * A rejection is a normal, deterministic outcome of `apply`: every replica rejects the same
 * entry with the same code.
 *
 * `MetadataInvariantError` is the other family: the state machine caught itself (or its
 * caller) breaking a rule that must never break. It is thrown, never returned, and stays on
 * in production; continuing after one would let replicas diverge.
 */

export const metadataErrorCodes = [
  'INVALID_REQUEST',
  'CORRUPT_MESSAGE',
  'UNSUPPORTED_VERSION',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_ALREADY_EXISTS',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_CONFIG',
  'BROKER_ID_NOT_REGISTERED',
  'DUPLICATE_BROKER_REGISTRATION',
  'STALE_BROKER_EPOCH',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'NOT_LEADER_OR_FOLLOWER',
  'INVALID_UPDATE_VERSION',
  'INELIGIBLE_REPLICA',
  'NO_REASSIGNMENT_IN_PROGRESS',
  'REASSIGNMENT_IN_PROGRESS',
  'NOT_CONTROLLER',
  'STALE_CONTROLLER_EPOCH',
  'INCONSISTENT_CLUSTER_ID',
] as const;

export type MetadataErrorCode = (typeof metadataErrorCodes)[number];

/**
 * Codes a proposer may retry after refreshing its view: the same flags as the wire table in
 * packages/protocol (Kafka's classification), so a forwarded error keeps its meaning.
 */
const retriableCodes: ReadonlySet<MetadataErrorCode> = new Set<MetadataErrorCode>([
  'CORRUPT_MESSAGE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_CONTROLLER',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);

export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  readonly code: MetadataErrorCode;
  readonly retriable: boolean;

  constructor(code: MetadataErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = retriableCodes.has(code);
  }
}

export class MetadataInvariantError extends Error {
  override readonly name = 'MetadataInvariantError';
  readonly code = 'METADATA_INVARIANT_VIOLATED';
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** Throws a `MetadataInvariantError` when `condition` is false. Never compiled out. */
export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new MetadataInvariantError(typeof message === 'string' ? message : message());
}
