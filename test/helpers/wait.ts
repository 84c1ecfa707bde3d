// Bounded waiting for integration tests: every wait has a deadline and says what it waited for.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Pause between checks. */
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what: string | (() => string);
}

/**
 * Polls `check` until it returns true or the deadline passes (then throws, naming `what`).
 * A check that throws ends the wait at once with its error: a process that died will not
 * come back by polling longer.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 100;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) {
      const what = typeof options.what === 'string' ? options.what : options.what();
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`);
    }
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/** Retries `fn` until it resolves (returning its value) or the deadline passes (rethrowing the last error). */
export async function retryUntil<T>(fn: () => Promise<T>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) {
        const what = typeof options.what === 'string' ? options.what : options.what();
        throw new Error(`gave up after ${options.timeoutMs} ms on ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await sleep(options.intervalMs ?? 100);
    }
  }
}
