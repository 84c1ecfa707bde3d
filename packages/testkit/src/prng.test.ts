import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulationError } from './errors.js';
import { Prng } from './prng.js';

function draw(p: Prng, n: number): number[] {
  return Array.from({ length: n }, () => p.nextU32());
}

describe('Prng', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    expect(draw(new Prng(42), 100)).toEqual(draw(new Prng(42), 100));
    expect(draw(new Prng(42), 100)).not.toEqual(draw(new Prng(43), 100));
    expect(draw(new Prng(0), 100)).not.toEqual(draw(new Prng(2 ** 32), 100));
  });

  it('keeps every helper inside its documented range', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: -1000, max: 1000 }), (seed, n, lo) => {
        const p = new Prng(seed);
        for (let i = 0; i < 50; i++) {
          const x = p.next();
          expect(x >= 0 && x < 1).toBe(true);
          const k = p.int(n);
          expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
          const r = p.range(lo, lo + 10);
          expect(r >= lo && r <= lo + 10).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is roughly uniform (chi-square over 10 buckets)', () => {
    const p = new Prng(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) buckets[p.int(10)]!++;
    const expected = n / 10;
    const chi2 = buckets.reduce((acc, b) => acc + (b - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: 27.9 is the 0.999 quantile.
    expect(chi2).toBeLessThan(27.9);
  });

  it('chance(0) never and chance(1) always', () => {
    const p = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      expect(p.chance(0)).toBe(false);
      expect(p.chance(1)).toBe(true);
    }
  });

  it('shuffle is a permutation and pick returns an element', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.integer(), { minLength: 1, maxLength: 50 }), (seed, arr) => {
        const p = new Prng(seed);
        const shuffled = p.shuffle([...arr]);
        expect([...shuffled].sort((a, b) => a - b)).toEqual([...arr].sort((a, b) => a - b));
        expect(arr).toContain(p.pick(arr));
      }),
    );
  });

  it('fork gives deterministic children independent of draws on the parent', () => {
    const a = new Prng(9);
    const b = new Prng(9);
    b.next();
    b.next();
    const a1 = a.fork();
    const b1 = b.fork();
    expect(draw(a1, 20)).toEqual(draw(b1, 20));
    const a2 = a.fork();
    expect(draw(new Prng(a2.seed), 20)).not.toEqual(draw(new Prng(a1.seed), 20));
    expect(draw(a2, 20)).toEqual(draw(replayFork(9, 2), 20));
    // A child replays from its own seed alone.
    expect(draw(new Prng(a1.seed), 20)).toEqual(draw(replayFork(9, 1), 20));
  });

  it('rejects bad arguments with a typed error', () => {
    expect(() => new Prng(-1)).toThrow(SimulationError);
    expect(() => new Prng(1.5)).toThrow(SimulationError);
    expect(() => new Prng(Number.NaN)).toThrow(SimulationError);
    const p = new Prng(1);
    expect(() => p.int(0)).toThrow(SimulationError);
    expect(() => p.range(3, 2)).toThrow(SimulationError);
    expect(() => p.pick([])).toThrow(SimulationError);
    expect(() => p.chance(Number.NaN)).toThrow(SimulationError);
  });
});

function replayFork(seed: number, nth: number): Prng {
  const p = new Prng(seed);
  let child = p.fork();
  for (let i = 1; i < nth; i++) child = p.fork();
  return child;
}
