import { posix } from 'node:path';
import { type DecodeLimits } from './batch.js';
import { type FileSystem } from './fs.js';
import { SstReader, tableFileName } from './sstable.js';

/**
 * Open SSTables, least recently used first out, at most openTablesMax. Callers hold a
 * reference while reading, so evicting or deleting a table never closes it under a reader.
 */
export class TableCache {
  private readonly open = new Map<number, SstReader>();
  private readonly opening = new Map<number, Promise<SstReader>>();

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly openTablesMax: number,
    private readonly verifyBatches: boolean,
    private readonly limits: DecodeLimits,
    private readonly readAheadBytes: number,
  ) {}

  path(fileNumber: number): string {
    return posix.join(this.dir, tableFileName(fileNumber));
  }

  /** A retained reader; call release() when done. */
  async acquire(fileNumber: number): Promise<SstReader> {
    const hit = this.open.get(fileNumber);
    if (hit !== undefined) {
      this.open.delete(fileNumber);
      this.open.set(fileNumber, hit);
      hit.retain();
      return hit;
    }
    let pending = this.opening.get(fileNumber);
    if (pending === undefined) {
      pending = SstReader.open(this.fs, this.path(fileNumber), this.verifyBatches, this.limits, this.readAheadBytes).then(async (r) => {
        this.opening.delete(fileNumber);
        this.open.set(fileNumber, r);
        await this.evictOverflow();
        return r;
      });
      pending.catch(() => this.opening.delete(fileNumber));
      this.opening.set(fileNumber, pending);
    }
    const reader = await pending;
    reader.retain();
    return reader;
  }

  /** Drops the cache's reference (the table was deleted or replaced). */
  async forget(fileNumber: number): Promise<void> {
    const r = this.open.get(fileNumber);
    if (r === undefined) return;
    this.open.delete(fileNumber);
    await r.release();
  }

  get size(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    for (const n of [...this.open.keys()]) await this.forget(n);
  }

  private async evictOverflow(): Promise<void> {
    while (this.open.size > this.openTablesMax) {
      const oldest = this.open.keys().next();
      if (oldest.done === true) return;
      await this.forget(oldest.value);
    }
  }
}
