import { type BatchInfo } from './batch.js';
import { type WalPosition } from './wal.js';

export interface MemBatch {
  readonly bytes: Buffer;
  readonly info: BatchInfo;
  readonly baseOffset: number;
  readonly nextOffset: number;
  /** Where the WAL frame carrying this batch ends. */
  readonly wal: WalPosition;
}

/**
 * One partition's unflushed batches, ordered by offset. Append-only at the tail; flushes remove
 * a prefix. Holds the appended buffers themselves (the partition copies a batch first when it
 * is a view into something larger).
 */
export class Memtable {
  /** Exactly the live entries: a dropped batch must not stay reachable (it pins its buffer). */
  private entries: MemBatch[] = [];
  bytes = 0;
  /** Clock time of the oldest entry, for age-based flushes. */
  oldestAtMs = 0;

  get size(): number {
    return this.entries.length;
  }

  get firstOffset(): number | undefined {
    return this.entries[0]?.baseOffset;
  }

  get first(): MemBatch | undefined {
    return this.entries[0];
  }

  get last(): MemBatch | undefined {
    return this.entries.at(-1);
  }

  add(entry: MemBatch, nowMs: number): void {
    if (this.size === 0) this.oldestAtMs = nowMs;
    this.entries.push(entry);
    this.bytes += entry.bytes.length;
  }

  /** A stable copy of the current entries (flushes write it while appends continue). */
  snapshot(): MemBatch[] {
    return this.entries.slice();
  }

  /** Drops the first `count` entries after they reached an SSTable (once per flush). */
  dropPrefix(count: number, nowMs: number): void {
    for (const e of this.entries.splice(0, count)) this.bytes -= e.bytes.length;
    if (this.size > 0) this.oldestAtMs = nowMs;
  }

  /** Removes every batch whose last offset is >= offset; returns the new end offset or undefined when empty. */
  truncateTo(offset: number): void {
    while (this.size > 0) {
      const e = this.entries[this.entries.length - 1];
      if (e === undefined || e.nextOffset <= offset) break;
      this.entries.pop();
      this.bytes -= e.bytes.length;
    }
  }

  clear(): void {
    this.entries = [];
    this.bytes = 0;
  }

  /** Index (relative) of the batch holding `offset`, or the first batch after it. */
  private indexFor(offset: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    let found = this.entries.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid];
      if (e !== undefined && e.nextOffset > offset) {
        found = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return found;
  }

  /** Whole batches from the one holding `offset`, at least one, up to maxBytes. */
  read(offset: number, maxBytes: number): MemBatch[] {
    const out: MemBatch[] = [];
    let taken = 0;
    for (let i = this.indexFor(offset); i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e === undefined) break;
      if (out.length > 0 && taken + e.bytes.length > maxBytes) break;
      out.push(e);
      taken += e.bytes.length;
    }
    return out;
  }
}
