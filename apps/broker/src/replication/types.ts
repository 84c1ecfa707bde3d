import { ErrorCode, errorCodeName, isRetriable } from '@streambus/protocol';

/**
 * The time seam of the replication core: the simulator drives it in tests, the process
 * clock in production. Nothing in this directory reads Date.now or calls setTimeout itself.
 */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The production scheduler: wall clock and Node timers (unref'd: they never keep a process alive). */
export function systemScheduler(): Scheduler {
  return {
    now: () => Date.now(),
    setTimeout: (fn, delayMs) => {
      const t = setTimeout(fn, delayMs);
      t.unref();
      return t;
    },
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
}

/** A partition as storage and the wire name it. */
export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export function partitionKeyOf(tp: TopicPartitionRef): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export interface ReplicationConfig {
  /** A follower that has not caught up for this long leaves the ISR (replica.lag.time.max.ms). */
  readonly replicaLagTimeMaxMs: number;
  /** How long a leader holds a ReplicaFetch that has no new data (replica.fetch.wait.max.ms). */
  readonly replicaFetchWaitMaxMs: number;
  /** Bound on records per partition in one ReplicaFetch response. */
  readonly replicaFetchPartitionBytesMax: number;
  /** Bound on records over all partitions of one ReplicaFetch response. */
  readonly replicaFetchResponseBytesMax: number;
  /** Pause before a fetcher retries after a transport error, or a partition after an error code. */
  readonly replicaFetchBackoffMs: number;
  /** Pause before a leader proposes another ISR change after a rejected or failed one. */
  readonly alterPartitionBackoffMs: number;
  /** An ISR change with no answer by then counts as failed (metadata will still tell the outcome). */
  readonly alterPartitionTimeoutMs: number;
  /** How often a leader checks its followers for lag (ISR shrink). */
  readonly isrCheckIntervalMs: number;
}

export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = {
  replicaLagTimeMaxMs: 10_000,
  replicaFetchWaitMaxMs: 500,
  replicaFetchPartitionBytesMax: 1024 * 1024,
  replicaFetchResponseBytesMax: 10 * 1024 * 1024,
  replicaFetchBackoffMs: 1_000,
  alterPartitionBackoffMs: 200,
  alterPartitionTimeoutMs: 10_000,
  isrCheckIntervalMs: 1_000,
};

export function resolveReplicationConfig(over: Partial<ReplicationConfig> = {}): ReplicationConfig {
  const c = { ...DEFAULT_REPLICATION_CONFIG, ...over };
  for (const [name, v] of Object.entries(c)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new ReplicationError(ErrorCode.INVALID_REQUEST, `${name} must be a positive integer, got ${String(v)}`);
  }
  return c;
}

/** acks as Kafka spells it: 0 (no answer needed), 1 (leader log), -1 = all (the ISR). */
export type Acks = 0 | 1 | -1;

/**
 * The one failure family of the replication core. `code` is the wire ErrorCode name, so a
 * caller maps it to the response without a table; `retriable` follows the protocol's table.
 */
export class ReplicationError extends Error {
  override readonly name = 'ReplicationError';
  /** The wire name of `errorCode` ('NOT_ENOUGH_REPLICAS'), stable for logs and alerts. */
  readonly code: string;
  readonly retriable: boolean;

  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = errorCodeName(errorCode);
    this.retriable = isRetriable(errorCode);
  }
}

export function isReplicationError(err: unknown, code?: ErrorCode): err is ReplicationError {
  return err instanceof ReplicationError && (code === undefined || err.errorCode === code);
}

/** Invariant checks stay on in production: a broken one means a bug that could lose data. */
export function invariant(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`replication invariant violated: ${message}`);
}
