// busctl's own failure family, and the translation of SDK errors into one helpful line:
// an operator reading a terminal wants the cause and the next step, not a stack trace.
import { ErrorCode, isClientError, isStreamBusError, isTransportError } from '@streambus/client';

/** Exit codes: 0 success, 1 failure (including an unhealthy cluster), 2 usage. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export type BusctlErrorCode =
  /** Flags or arguments are wrong: exit 2. */
  | 'USAGE'
  /** The profile file cannot be read or written. */
  | 'CONFIG'
  /** Input (a produce line, a file) cannot be used. */
  | 'INPUT'
  /** The dev cluster launcher could not be found or started. */
  | 'DEV_CLUSTER'
  /** The cluster answered, but the operation failed. */
  | 'FAILED';

export class BusctlError extends Error {
  override readonly name = 'BusctlError';
  readonly code: BusctlErrorCode;
  readonly retriable: boolean;

  constructor(code: BusctlErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}

export function usageError(message: string): BusctlError {
  return new BusctlError('USAGE', message);
}

export function exitCodeOf(err: unknown): ExitCodeValue {
  return err instanceof BusctlError && err.code === 'USAGE' ? ExitCode.usage : ExitCode.failure;
}

/** The first line of a message, without the SDK's `CODE: ` prefix (busctl puts the code last). */
function firstLine(text: string, code?: string): string {
  const line = text.split('\n')[0] ?? '';
  return code !== undefined && line.startsWith(`${code}: `) ? line.slice(code.length + 2) : line;
}

/**
 * One line for the terminal. `brokers` is the bootstrap list in use, so an unreachable
 * cluster names what was tried and how to change it.
 */
export function describeError(err: unknown, brokers: readonly string[]): string {
  const unreachable = `cannot reach the StreamBus cluster at ${brokers.join(',')}; is it running? (start one with 'busctl dev up', or point --brokers / BUSCTL_BROKERS / --profile at it)`;
  if (err instanceof BusctlError) return err.message;
  if (isClientError(err)) {
    if (err.code === 'NO_BROKER_AVAILABLE') return `${unreachable} [${firstLine(err.message)}]`;
    return `${firstLine(err.message, err.code)} [${err.code}]`;
  }
  if (isTransportError(err)) {
    if (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED') return `${unreachable} [${err.code}]`;
    return `transport failure: ${firstLine(err.message, err.code)} [${err.code}]`;
  }
  if (isStreamBusError(err)) {
    const topic = /topic ([^\s:]+)/.exec(err.message)?.[1];
    if (err.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      return `${topic === undefined ? 'unknown topic or partition' : `topic '${topic}' does not exist`} ('busctl topic list' shows the topics) [${err.code}]`;
    }
    return `${firstLine(err.message, err.code)} [${err.code}]`;
  }
  if (err instanceof Error) return firstLine(err.message);
  return String(err);
}
