import { type Logger } from 'pino';
import { ExitCode, LifecycleError } from './errors.js';

/** The parts of `process` the lifecycle touches; a seam so tests drive signals and exits. */
export interface ProcessSeam {
  /** Registers a signal handler; returns a function that removes it. */
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): () => void;
  /** Registers the handler for uncaught exceptions and unhandled rejections. */
  onFatal(handler: (kind: 'uncaughtException' | 'unhandledRejection', error: unknown) => void): () => void;
  exit(code: ExitCode): void;
}

export const nodeProcess: ProcessSeam = {
  onSignal(signal, handler) {
    process.on(signal, handler);
    return () => process.off(signal, handler);
  },
  onFatal(handler) {
    const onException = (error: unknown): void => handler('uncaughtException', error);
    const onRejection = (error: unknown): void => handler('unhandledRejection', error);
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
    return () => {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    };
  },
  exit(code) {
    process.exit(code);
  },
};

/** One step of the graceful stop. It should stop early when `signal` aborts (deadline). */
export type StopHook = (signal: AbortSignal) => Promise<void>;

export interface LifecycleOptions {
  readonly logger: Logger;
  /** Budget for all stop hooks together. */
  readonly shutdownTimeoutMs: number;
  readonly process?: ProcessSeam;
}

/**
 * Signal and crash policy of the broker process.
 * - SIGTERM/SIGINT: run the stop hooks in registration order within one time budget, then
 *   exit 0; a failed hook is logged and the rest still run (storage must still flush), and
 *   the exit code becomes 1. Past the budget the process exits 1 without waiting further.
 * - A second signal during the stop forces exit 1 at once (an operator's Ctrl-C twice).
 * - Uncaught exception or unhandled rejection: log it and exit 1 immediately. After an
 *   unexpected throw the broker's state is unknown, and serving from an unknown state can
 *   acknowledge writes that are lost; a restart recovers from the WAL instead.
 */
export class Lifecycle {
  private readonly hooks: { name: string; hook: StopHook }[] = [];
  private readonly proc: ProcessSeam;
  private readonly removers: (() => void)[] = [];
  private stopping: Promise<ExitCode> | undefined;

  constructor(private readonly options: LifecycleOptions) {
    if (!(options.shutdownTimeoutMs > 0)) throw new LifecycleError('INVALID_STATE', 'shutdownTimeoutMs must be positive', false);
    this.proc = options.process ?? nodeProcess;
  }

  /** Adds a stop step; steps run in the order they were added. */
  addStopHook(name: string, hook: StopHook): void {
    if (this.stopping !== undefined) throw new LifecycleError('INVALID_STATE', `cannot add stop hook ${name}: already stopping`, false);
    this.hooks.push({ name, hook });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Takes over SIGTERM, SIGINT, uncaught exceptions and unhandled rejections. */
  install(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      this.removers.push(this.proc.onSignal(signal, () => this.onSignal(signal)));
    }
    this.removers.push(this.proc.onFatal((kind, error) => this.onFatal(kind, error)));
  }

  uninstall(): void {
    for (const remove of this.removers.splice(0)) remove();
  }

  /**
   * Runs the stop hooks once and exits with the outcome. Later calls return the same
   * promise. Also used by main when start-up fails half way.
   */
  shutdown(reason: string): Promise<ExitCode> {
    this.stopping ??= this.runHooks(reason).then((code) => {
      this.proc.exit(code);
      return code;
    });
    return this.stopping;
  }

  private onSignal(signal: string): void {
    if (this.stopping !== undefined) {
      this.options.logger.warn({ signal }, 'second signal during shutdown: forcing exit');
      this.proc.exit(ExitCode.failure);
      return;
    }
    this.options.logger.info({ signal, shutdownTimeoutMs: this.options.shutdownTimeoutMs }, 'graceful shutdown started');
    void this.shutdown(`signal ${signal}`);
  }

  private onFatal(kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
    this.options.logger.fatal({ err: error, kind }, 'fatal error: exiting so a restart recovers from a known state');
    this.proc.exit(ExitCode.failure);
  }

  private async runHooks(reason: string): Promise<ExitCode> {
    const logger = this.options.logger;
    const startedAt = performance.now();
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        deadline.abort(new LifecycleError('STOP_HOOK_TIMEOUT', `shutdown exceeded ${this.options.shutdownTimeoutMs} ms`, false));
        resolve('timeout');
      }, this.options.shutdownTimeoutMs);
    });
    let code: ExitCode = ExitCode.ok;
    try {
      for (const { name, hook } of this.hooks) {
        const hookStart = performance.now();
        // The hook's promise is raced, not awaited alone: a hung hook must not hold the
        // process past its budget.
        const outcome = await Promise.race([
          // Wrapped so a hook that throws synchronously counts as a failed step.
          Promise.resolve()
            .then(() => hook(deadline.signal))
            .then(
              () => 'done' as const,
              (error: unknown) => ({ error }),
            ),
          timedOut,
        ]);
        const durationMs = Math.round(performance.now() - hookStart);
        if (outcome === 'timeout') {
          logger.error({ hook: name, shutdownTimeoutMs: this.options.shutdownTimeoutMs }, 'shutdown timed out; exiting without finishing');
          return ExitCode.failure;
        }
        if (outcome === 'done') {
          logger.info({ hook: name, durationMs }, 'stop step done');
        } else {
          code = ExitCode.failure;
          logger.error({ hook: name, durationMs, err: outcome.error }, 'stop step failed; continuing with the next');
        }
      }
    } finally {
      clearTimeout(timer);
    }
    logger.info({ reason, durationMs: Math.round(performance.now() - startedAt), exitCode: code }, code === ExitCode.ok ? 'stopped cleanly' : 'stopped with errors');
    return code;
  }
}
