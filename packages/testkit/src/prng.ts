import { SimulationError } from './errors.js';

// xoshiro128** (Blackman & Vigna): 128 bits of state, fast with Math.imul, and good enough
// statistically for fault schedules. Seeded through splitmix32 so nearby seeds (1, 2, 3…)
// give unrelated streams.

const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;

function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function assertSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new SimulationError('SIM_BAD_ARGUMENT', `seed must be a non-negative safe integer, got ${String(seed)}`);
  }
}

export class Prng {
  readonly seed: number;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private forks = 0;

  constructor(seed: number) {
    assertSeed(seed);
    this.seed = seed;
    let st = (seed % TWO_POW_32) ^ Math.floor(seed / TWO_POW_32) * 0x27d4eb2d;
    [this.s0, st] = splitmix32(st);
    [this.s1, st] = splitmix32(st);
    [this.s2, st] = splitmix32(st);
    [this.s3] = splitmix32(st);
    // An all-zero state would output zeros forever; splitmix makes it practically impossible,
    // but the invariant is cheap to keep.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** 32 uniformly random bits as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new SimulationError('SIM_BAD_ARGUMENT', `int(n) needs a positive safe integer, got ${String(n)}`);
    }
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi], both ends included. */
  range(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new SimulationError('SIM_BAD_ARGUMENT', `range(lo, hi) needs safe integers lo <= hi, got ${String(lo)}, ${String(hi)}`);
    }
    return lo + this.int(hi - lo + 1);
  }

  /**
   * True with probability p. p <= 0 and p >= 1 decide without drawing, so switching a fault
   * rate off does not cost a draw on every message; otherwise one 32-bit draw.
   */
  chance(p: number): boolean {
    if (Number.isNaN(p)) throw new SimulationError('SIM_BAD_ARGUMENT', 'chance(p) got NaN');
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.nextU32() < p * TWO_POW_32;
  }

  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new SimulationError('SIM_BAD_ARGUMENT', 'pick() from an empty array');
    return arr[this.int(arr.length)] as T;
  }

  /** Fisher–Yates in place; returns the same array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i] as T;
      arr[i] = arr[j] as T;
      arr[j] = tmp;
    }
    return arr;
  }

  /**
   * An independent child stream. It depends only on this stream's seed and how many forks
   * came before, not on how many numbers were drawn, so adding a draw in one component does
   * not reshuffle the randomness of the others.
   */
  fork(): Prng {
    this.forks++;
    const st = (this.seed % TWO_POW_32) ^ Math.imul(this.forks, 0x6c8e9cf5);
    const [hi, st2] = splitmix32(st ^ Math.floor(this.seed / TWO_POW_32));
    const [lo] = splitmix32(st2 ^ Math.imul(this.forks, 0x9e3779b1));
    // 21 + 32 bits: any safe integer is a valid seed, and the child's seed replays it alone.
    return new Prng((hi >>> 11) * TWO_POW_32 + lo);
  }
}
