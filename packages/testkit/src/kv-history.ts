import { type KvInput, type KvOperation, type KvOutput, type KvValue } from './kv-model.js';
import { type Prng } from './prng.js';

export interface KvHistoryOptions {
  opsCount: number;
  keysCount: number;
  /** Each operation's interval reaches up to this far either side of its linearization point. */
  spreadMs: number;
  /** Fraction of operations that never return; half of those took effect, half did not. */
  pendingRate?: number;
  clientsCount?: number;
  /** Default true; false keeps execution order (operation i took effect i-th). */
  shuffle?: boolean;
}

/**
 * A kv history that is linearizable by construction: a sequential execution whose operation
 * i takes effect at time 10*i, each given a random interval around that point (so intervals
 * overlap up to about spreadMs / 5 deep). For checker tests and benchmarks. The operations
 * come back shuffled, as a merged client log would.
 */
export function generateKvHistory(prng: Prng, options: KvHistoryOptions): KvOperation[] {
  const { opsCount, keysCount, spreadMs } = options;
  const pendingRate = options.pendingRate ?? 0.03;
  const clientsCount = options.clientsCount ?? 8;
  const state = new Map<string, KvValue>();
  const written: KvValue[] = [null];
  const ops: KvOperation[] = [];
  for (let i = 0; i < opsCount; i++) {
    const key = `k${prng.int(keysCount)}`;
    const current = state.get(key) ?? null;
    const at = 10 * i + 5 * spreadMs;
    const call = at - prng.int(spreadMs + 1);
    const pending = prng.chance(pendingRate);
    const ret = pending ? Number.POSITIVE_INFINITY : at + prng.int(spreadMs + 1);
    const applies = !pending || prng.chance(0.5);
    const r = prng.next();
    let input: KvInput;
    let output: KvOutput;
    if (r < 0.45) {
      input = { kind: 'get', key };
      output = { kind: 'get', value: current };
    } else if (r < 0.8) {
      const value = prng.chance(0.1) ? null : `v${i}`;
      input = { kind: 'put', key, value };
      output = { kind: 'put' };
      if (applies) state.set(key, value);
      written.push(value);
    } else {
      const expected = prng.chance(0.6) ? current : prng.pick(written);
      const value = `v${i}`;
      input = { kind: 'cas', key, expected, value };
      output = { kind: 'cas', ok: expected === current };
      if (applies && expected === current) state.set(key, value);
      written.push(value);
    }
    ops.push({ clientId: prng.int(clientsCount), input, output: pending ? undefined : output, call, return: ret });
  }
  return options.shuffle === false ? ops : prng.shuffle(ops);
}
