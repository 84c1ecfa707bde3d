import { encodeBatch, type RecordInput } from '@streambus/record';
import { MemFileSystem, seededRandom, StorageEngine, type StorageOptions } from '../src/index.js';

/** A virtual clock the tests move by hand. */
export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
}

/** A batch of `count` records whose values carry `tag`, so reads can be checked byte for byte. */
export function batchOf(tag: string, count = 1, timestamp = 1_700_000_000_000, key?: string): Promise<Buffer> {
  const records = Array.from({ length: count }, (_, i) => ({
    key: key === undefined ? null : Buffer.from(key),
    value: Buffer.from(`${tag}#${i}`),
    timestamp: timestamp + i,
  }));
  return encodeBatch(records);
}

/** One uncompressed batch; records without a timestamp get 0, so the bytes never depend on the wall clock. */
export function batchFrom(records: RecordInput[]): Promise<Buffer> {
  return encodeBatch(records, { now: () => 0 });
}

export function memEngineOptions(fs: MemFileSystem, clock: ManualClock, over: Partial<StorageOptions> = {}): StorageOptions {
  return { dir: '/data', fs, clock, maintenanceIntervalMs: 0, compactionBytesPerSec: 0, ...over };
}

export async function openMem(seed = 1, over: Partial<StorageOptions> = {}): Promise<{ fs: MemFileSystem; clock: ManualClock; engine: StorageEngine }> {
  const fs = new MemFileSystem({ random: seededRandom(seed) });
  const clock = new ManualClock();
  const engine = await StorageEngine.open(memEngineOptions(fs, clock, over));
  return { fs, clock, engine };
}

/** Values of every record in a batch buffer list (uncompressed batches). */
export function valuesOf(batches: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (const b of batches) {
    const text = b.toString('latin1');
    const matches = text.match(/[a-z0-9-]+#\d+/g) ?? [];
    out.push(...matches);
  }
  return out;
}

export const TP = { topic: 'orders', partition: 0 } as const;
