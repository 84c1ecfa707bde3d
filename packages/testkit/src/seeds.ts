import { SeedFailure } from './errors.js';

export interface SeedOptions {
  /** Multiplier on the seed count when STREAMBUS_LONG=1. */
  longFactor?: number;
  /** First seed of the generated range (seeds are firstSeed, firstSeed+1, …). */
  firstSeed?: number;
  /** The environment to read; defaults to process.env (injectable for tests). */
  env?: Record<string, string | undefined>;
}

const DEFAULT_LONG_FACTOR = 50;

function parseSeedList(raw: string): number[] {
  const seeds = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN));
  if (seeds.length === 0 || seeds.some((s) => !Number.isSafeInteger(s))) {
    throw new SeedFailure('SEED_BAD_ENV', `SEED must be a non-negative integer or a comma list of them, got "${raw}"`, undefined);
  }
  return seeds;
}

function isLong(env: Record<string, string | undefined>): boolean {
  return env.STREAMBUS_LONG === '1';
}

/**
 * The seeds a simulation test should run: `SEED=<n>` (or `SEED=1,2,3`) replays exactly those;
 * otherwise `defaultSeeds` (a list, or a count meaning 1..count), multiplied by longFactor
 * under STREAMBUS_LONG=1 with fresh seeds after the defaults.
 */
export function seedFromEnv(defaultSeeds: readonly number[] | number, options: SeedOptions = {}): number[] {
  const env = options.env ?? process.env;
  const raw = env.SEED;
  if (raw !== undefined && raw.trim() !== '') return parseSeedList(raw);
  const first = options.firstSeed ?? 1;
  const factor = options.longFactor ?? DEFAULT_LONG_FACTOR;
  const countOk = typeof defaultSeeds !== 'number' || (Number.isSafeInteger(defaultSeeds) && defaultSeeds > 0);
  if (!countOk || !Number.isSafeInteger(first) || first < 0 || !Number.isSafeInteger(factor) || factor < 1) {
    throw new SeedFailure('SEED_BAD_ARGUMENT', `need a positive seed count, firstSeed >= 0 and longFactor >= 1`, undefined);
  }
  const base = typeof defaultSeeds === 'number' ? Array.from({ length: defaultSeeds }, (_, i) => first + i) : [...defaultSeeds];
  if (!isLong(env)) return base;
  const extra = base.length * (factor - 1);
  const start = Math.max(first, ...base.map((s) => s + 1));
  for (let i = 0; i < extra; i++) base.push(start + i);
  return base;
}

function wrap(seed: number, err: unknown): SeedFailure {
  const inner = err instanceof Error ? err.message : String(err);
  return new SeedFailure('SEED_FAILED', `SEED=${seed} failed (replay: SEED=${seed} npm test): ${inner}`, seed, { cause: err });
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Run `fn` once per seed (see seedFromEnv for which seeds). The first failure is rethrown as a
 * SeedFailure whose message starts with `SEED=<n>`, with the original error as its cause.
 * Async bodies are awaited in order, one seed at a time.
 */
export function forEachSeed(count: number, fn: (seed: number) => Promise<void>, options?: SeedOptions): Promise<void>;
export function forEachSeed(count: number, fn: (seed: number) => void, options?: SeedOptions): void;
export function forEachSeed(count: number, fn: (seed: number) => void | Promise<void>, options: SeedOptions = {}): void | Promise<void> {
  const seeds = seedFromEnv(count, options);
  for (let i = 0; i < seeds.length; i++) {
    const seed = seeds[i] as number;
    let result: void | Promise<void>;
    try {
      result = fn(seed);
    } catch (err) {
      throw wrap(seed, err);
    }
    if (isPromiseLike(result)) return continueAsync(seeds, i, result, fn);
  }
  return undefined;
}

async function continueAsync(
  seeds: number[],
  index: number,
  pending: PromiseLike<unknown>,
  fn: (seed: number) => void | Promise<void>,
): Promise<void> {
  for (let i = index; i < seeds.length; i++) {
    const seed = seeds[i] as number;
    try {
      await (i === index ? pending : fn(seed));
    } catch (err) {
      throw wrap(seed, err);
    }
  }
}
