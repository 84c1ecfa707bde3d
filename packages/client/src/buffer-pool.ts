// Bounded producer memory (Kafka's buffer.memory): send() reserves an estimate of each
// record's size before it joins a batch and the reservation is returned when the batch
// completes. When the pool is exhausted, send() waits in FIFO order, never grows it.
import { ClientError, abortError } from './errors.js';

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

export class BufferPool {
  private used = 0;
  private peak = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacityBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  get peakBytes(): number {
    return this.peak;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Reserves at once when nobody waits ahead and the bytes fit. */
  tryReserve(bytes: number): boolean {
    if (this.waiters.length > 0 || this.used + bytes > this.capacityBytes) return false;
    this.take(bytes);
    return true;
  }

  /** Waits (FIFO) until `bytes` fit; rejects with BUFFER_TIMEOUT at `deadlineMs` or ABORTED on the signal. */
  reserve(bytes: number, deadlineMs: number, signal?: AbortSignal): Promise<void> {
    if (bytes > this.capacityBytes) {
      return Promise.reject(new ClientError('RECORD_TOO_LARGE', `a record of ~${bytes} bytes exceeds bufferMemoryBytes ${this.capacityBytes}`));
    }
    if (this.tryReserve(bytes)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new ClientError('BUFFER_TIMEOUT', `waited ${Math.max(0, deadlineMs - Date.now())} ms more than maxBlockMs for ${bytes} bytes of buffer memory`)), Math.max(0, deadlineMs - Date.now()));
      const onAbort = (): void => fail(abortError(signal!));
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const fail = (err: Error): void => {
        const index = this.waiters.indexOf(waiter);
        if (index < 0) return;
        this.waiters.splice(index, 1);
        waiter.cleanup();
        reject(err);
        // The head leaving may let the next waiter fit.
        this.wake();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) throw new Error(`buffer pool invariant: released more than reserved (used ${this.used})`);
    this.wake();
  }

  /** Fails every waiter (close). */
  failAll(err: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(err);
    }
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.capacityBytes) {
      const waiter = this.waiters.shift()!;
      waiter.cleanup();
      this.take(waiter.bytes);
      waiter.resolve();
    }
  }

  private take(bytes: number): void {
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    if (this.used > this.capacityBytes) throw new Error(`buffer pool invariant: ${this.used} bytes used > capacity ${this.capacityBytes}`);
  }
}
