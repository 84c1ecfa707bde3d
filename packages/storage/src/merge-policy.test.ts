import { describe, expect, it } from 'vitest';
import { MERGE_SIZE_RATIO, pickMergeRun } from './compaction.js';

const MiB = 1 << 20;
const SMALL = 32 * MiB;

/** Feeds `flushes` tables of `size` through pickMergeRun as the engine would; bytes rewritten per byte flushed. */
function amplification(size: number, flushes: number, segmentBytes = 2 * SMALL): { amp: number; smallMax: number } {
  const tables: number[] = [];
  let rewritten = 0;
  let smallMax = 0;
  for (let i = 0; i < flushes; i++) {
    tables.push(size);
    for (let r = pickMergeRun(tables, SMALL, 4); r !== null; r = pickMergeRun(tables, SMALL, 4)) {
      const total = tables.slice(r[0], r[1]).reduce((a, b) => a + b, 0);
      rewritten += total;
      const outputs: number[] = [];
      for (let left = total; left > 0; left -= segmentBytes) outputs.push(Math.min(segmentBytes, left));
      tables.splice(r[0], r[1] - r[0], ...outputs);
    }
    smallMax = Math.max(smallMax, tables.filter((t) => t < SMALL).length);
  }
  return { amp: rewritten / (size * flushes), smallMax };
}

describe('merge selection (size-tiered)', () => {
  it('merges a run of like-sized small tables and leaves a bigger neighbour for its equals', () => {
    expect(pickMergeRun([64 * MiB, 8 * MiB, 1 * MiB, 1 * MiB, 1 * MiB, 1 * MiB], SMALL, 4)).toEqual([2, 6]);
    // Within the ratio the run grows; past it the run ends.
    expect(pickMergeRun([1 * MiB, 2 * MiB, 4 * MiB, 3 * MiB, 5 * MiB], SMALL, 4)).toEqual([0, 4]);
    expect(MERGE_SIZE_RATIO).toBe(4);
  });

  it('merges nothing below compactionMinTables like-sized tables, nor across a big table', () => {
    expect(pickMergeRun([8 * MiB, 1 * MiB, 1 * MiB, 1 * MiB], SMALL, 4)).toBeNull();
    expect(pickMergeRun([1 * MiB, 1 * MiB, 40 * MiB, 1 * MiB, 1 * MiB], SMALL, 4)).toBeNull();
    expect(pickMergeRun([], SMALL, 4)).toBeNull();
  });

  it('past 3 × compactionMinTables small tables of uneven sizes, merges the longest run of small ones', () => {
    const uneven = [16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1].map((m) => m * MiB);
    expect(pickMergeRun(uneven, SMALL, 4)).toBeNull();
    expect(pickMergeRun([...uneven, 16 * MiB], SMALL, 4)).toEqual([0, 13]);
  });

  it('rewrites each byte a few times, not dozens, however small the flushes', () => {
    // The previous rule (merge any run of small tables) measured 54× at 100 KiB and 6.2× at 1 MiB.
    const tiny = amplification(100 * 1024, 4000);
    expect(tiny.amp).toBeLessThan(6);
    expect(tiny.smallMax).toBeLessThanOrEqual(13);
    expect(amplification(1 * MiB, 2000).amp).toBeLessThan(3.5);
    expect(amplification(16 * MiB, 500).amp).toBeLessThan(1.1);
  });
});
