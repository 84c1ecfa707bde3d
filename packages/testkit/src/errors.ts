// One error class per failure family. Each carries a stable `code` that tests and reports
// match on, a `retriable` flag, and the underlying `cause` when there is one.

export type SimulationErrorCode =
  | 'SIM_BAD_ARGUMENT' // a caller passed a value outside its contract (negative delay, NaN seed)
  | 'SIM_EVENT_LIMIT' // a run executed more events than eventsMax: a livelock or a runaway timer
  | 'SIM_REENTRANT_STEP'; // step() called from inside an event handler

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
  readonly retriable = false;
  constructor(
    readonly code: SimulationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type SimDiskErrorCode =
  | 'ENOSPC' // the simulated disk is full (switch on, or entriesMax reached)
  | 'EIO' // an injected I/O failure on sync: fail-stop, never retry fsync (fsyncgate)
  | 'SIM_DISK_BAD_ARGUMENT';

export class SimDiskError extends Error {
  override readonly name = 'SimDiskError';
  // Neither is retriable: after ENOSPC/EIO the owner must fail-stop or shed load, not spin.
  readonly retriable = false;
  constructor(
    readonly code: SimDiskErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type SeedFailureCode = 'SEED_FAILED' | 'SEED_BAD_ENV' | 'SEED_BAD_ARGUMENT';

/** A simulation failed for one seed; the message starts with `SEED=<n>` so it can be replayed. */
export class SeedFailure extends Error {
  override readonly name = 'SeedFailure';
  readonly retriable = false;
  constructor(
    readonly code: SeedFailureCode,
    message: string,
    readonly seed: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type CheckerErrorCode = 'LIN_BAD_HISTORY' | 'LIN_BAD_OPTIONS';

export class CheckerError extends Error {
  override readonly name = 'CheckerError';
  readonly retriable = false;
  constructor(
    readonly code: CheckerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ProcessErrorCode =
  | 'PROC_SPAWN_FAILED'
  | 'PROC_EXITED_BEFORE_READY'
  | 'PROC_READY_TIMEOUT'
  | 'PROC_EXIT_TIMEOUT'
  | 'PROC_LINE_TIMEOUT'
  | 'PROC_NOT_RUNNING'
  | 'PROC_BAD_ARGUMENT';

export class ProcessError extends Error {
  override readonly name = 'ProcessError';
  constructor(
    readonly code: ProcessErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
