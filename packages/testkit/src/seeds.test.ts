import { describe, expect, it } from 'vitest';
import { SeedFailure } from './errors.js';
import { forEachSeed, seedFromEnv } from './seeds.js';

describe('seedFromEnv', () => {
  it('uses the defaults without SEED, a count meaning 1..count', () => {
    expect(seedFromEnv(3, { env: {} })).toEqual([1, 2, 3]);
    expect(seedFromEnv([10, 20], { env: {} })).toEqual([10, 20]);
  });

  it('SEED replays exactly the given seeds', () => {
    expect(seedFromEnv(100, { env: { SEED: '12345' } })).toEqual([12345]);
    expect(seedFromEnv(100, { env: { SEED: '4, 5,6' } })).toEqual([4, 5, 6]);
    expect(seedFromEnv(100, { env: { SEED: '7', STREAMBUS_LONG: '1' } })).toEqual([7]);
  });

  it('STREAMBUS_LONG=1 runs longFactor times as many distinct seeds', () => {
    const seeds = seedFromEnv([3, 9], { env: { STREAMBUS_LONG: '1' }, longFactor: 5 });
    expect(seeds).toHaveLength(10);
    expect(seeds.slice(0, 2)).toEqual([3, 9]);
    expect(new Set(seeds).size).toBe(10);
  });

  it('rejects a bad count or options with a typed error', () => {
    expect(() => seedFromEnv(0, { env: {} })).toThrow(expect.objectContaining({ code: 'SEED_BAD_ARGUMENT' }));
    expect(() => seedFromEnv(-3, { env: {} })).toThrow(expect.objectContaining({ code: 'SEED_BAD_ARGUMENT' }));
    expect(() => seedFromEnv(3, { env: {}, longFactor: 0 })).toThrow(expect.objectContaining({ code: 'SEED_BAD_ARGUMENT' }));
  });

  it('rejects a malformed SEED with a typed error', () => {
    for (const bad of ['abc', '-1', '1.5', ',', '99999999999999999999']) {
      expect(() => seedFromEnv(1, { env: { SEED: bad } })).toThrow(expect.objectContaining({ code: 'SEED_BAD_ENV' }));
    }
  });
});

describe('forEachSeed', () => {
  it('runs every seed in order', () => {
    const seen: number[] = [];
    forEachSeed(4, (seed) => void seen.push(seed), { env: {} });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('rethrows the first failure with SEED=<n> in the message and the cause kept', () => {
    const boom = new Error('invariant broken');
    let caught: unknown;
    try {
      forEachSeed(
        5,
        (seed) => {
          if (seed === 3) throw boom;
        },
        { env: {} },
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SeedFailure);
    const failure = caught as SeedFailure;
    expect(failure.message).toMatch(/^SEED=3 /);
    expect(failure.message).toContain('invariant broken');
    expect(failure.seed).toBe(3);
    expect(failure.cause).toBe(boom);
    expect(failure.code).toBe('SEED_FAILED');
  });

  it('awaits async bodies one seed at a time and reports the failing seed', async () => {
    const order: string[] = [];
    await forEachSeed(
      3,
      async (seed) => {
        order.push(`start ${seed}`);
        await new Promise((r) => setTimeout(r, 1));
        order.push(`end ${seed}`);
      },
      { env: {} },
    );
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    await expect(
      forEachSeed(
        3,
        async (seed) => {
          if (seed === 2) throw new Error('async failure');
        },
        { env: {} },
      ),
    ).rejects.toThrow(/^SEED=2 .*async failure/);
  });
});
