// Test helpers shared by this package's tests (not exported).
import { afterAll, beforeAll, expect } from 'vitest';

/** Fails the file if any promise rejection goes unhandled while its tests run. */
export function trackUnhandledRejections(): void {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onRejection);
  });
  afterAll(async () => {
    // Let late rejections surface before checking.
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off('unhandledRejection', onRejection);
    expect(seen).toEqual([]);
  });
}

/** Polls `condition` every 5 ms for up to `timeoutMs` (bounded), then fails. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
