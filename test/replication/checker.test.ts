// The total-queue checker must catch what it claims to: a checker that passes everything
// would make the real-process tests prove nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTotalQueue, type Acked, type WriterStats } from './harness.js';

function history(acked: Acked[], indefinite: string[] = []): WriterStats {
  return { acked, indefinite: new Set(indefinite), errors: {}, ackedBy: new Set([1]) };
}

const log = (values: string[]): { offset: number; value: string }[] => values.map((value, offset) => ({ offset, value }));

describe('checkTotalQueue', () => {
  it('accepts a log holding every acknowledged value at its offset plus indefinite ones', () => {
    const stats = history([{ partition: 0, offset: 0, value: 'a' }, { partition: 0, offset: 2, value: 'c' }], ['b']);
    expect(checkTotalQueue(stats, new Map([[0, log(['a', 'b', 'c'])]]))).toEqual([]);
  });

  it('reports a lost acknowledged write, a moved one, a duplicate, a phantom and a gap', () => {
    const stats = history([{ partition: 0, offset: 0, value: 'a' }, { partition: 0, offset: 1, value: 'b' }], ['x']);
    expect(checkTotalQueue(stats, new Map([[0, log(['a'])]]))).toEqual(['acknowledged b at p0@1 lost: read nothing']);
    expect(checkTotalQueue(stats, new Map([[0, log(['b', 'a'])]])).length).toBe(2);
    expect(checkTotalQueue(stats, new Map([[0, log(['a', 'b', 'a'])]]))).toEqual(['p0@2: a read twice']);
    expect(checkTotalQueue(stats, new Map([[0, log(['a', 'b', 'ghost'])]]))).toEqual(['p0@2: ghost was never sent']);
    expect(checkTotalQueue(stats, new Map([[0, [{ offset: 0, value: 'a' }, { offset: 1, value: 'b' }, { offset: 3, value: 'x' }]]]))).toEqual(['p0: offset 3 at position 2 (offsets not dense from 0)']);
  });

  it('flags any single dropped acknowledged record of a random history', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (n, pick) => {
        const values = Array.from({ length: n }, (_, i) => `v${i}`);
        const stats = history(values.map((value, offset) => ({ partition: 0, offset, value })));
        expect(checkTotalQueue(stats, new Map([[0, log(values)]]))).toEqual([]);
        const dropped = values.filter((_, i) => i !== pick % n);
        expect(checkTotalQueue(stats, new Map([[0, log(dropped)]])).length).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });
});
