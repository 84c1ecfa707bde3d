/**
 * Error families of the broker shell. Each has a stable string `code` (the same words are
 * used in logs and by operators' alerting), a `retriable` flag and an optional `cause`.
 */

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_UNKNOWN_OPTION' | 'CONFIG_FILE_UNREADABLE';

/** Bad flags, env vars or YAML: the process exits with code 2 and names every culprit. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly retriable = false;
  /** One line per problem, each naming the flag, env var or YAML key it came from. */
  readonly problems: readonly string[];

  constructor(
    readonly code: ConfigErrorCode,
    problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(problems.length === 1 ? (problems[0] ?? code) : `${problems.length} configuration problems:\n  ${problems.join('\n  ')}`, options);
    this.problems = problems;
  }
}

export type DataDirErrorCode = 'DATA_DIR_LOCKED' | 'DATA_DIR_MISMATCH' | 'DATA_DIR_IO';

/**
 * The data directory cannot be used: another live broker holds it, it belongs to another
 * broker or cluster, or the file system refused. Never retriable by the same process:
 * starting anyway could let two brokers write the same logs.
 */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly retriable = false;

  constructor(
    readonly code: DataDirErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type LifecycleErrorCode = 'START_FAILED' | 'STOP_HOOK_FAILED' | 'STOP_HOOK_TIMEOUT' | 'INVALID_STATE';

/** Start/stop sequencing failures. */
export class LifecycleError extends Error {
  override readonly name = 'LifecycleError';

  constructor(
    readonly code: LifecycleErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Process exit codes, documented in docs/operations/configuration.md. */
export const ExitCode = {
  ok: 0,
  /** Runtime failure, crash policy, or a shutdown that did not finish in time. */
  failure: 1,
  /** Bad flags, env vars or config file. */
  badConfig: 2,
  /** The data directory is locked by another broker or belongs to another broker/cluster. */
  dataDirUnusable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
