import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckerError } from './errors.js';
import { generateKvHistory } from './kv-history.js';
import { kvModel, type KvOperation, type KvValue } from './kv-model.js';
import { checkLinearizable, type Model, type Operation } from './linearizability.js';
import { Prng } from './prng.js';
import { forEachSeed } from './seeds.js';

const INF = Number.POSITIVE_INFINITY;

function get(clientId: number, call: number, ret: number, value: KvValue, key = 'x'): KvOperation {
  return { clientId, input: { kind: 'get', key }, output: { kind: 'get', value }, call, return: ret };
}
function put(clientId: number, call: number, ret: number, value: KvValue, key = 'x'): KvOperation {
  return { clientId, input: { kind: 'put', key, value }, output: ret === INF ? undefined : { kind: 'put' }, call, return: ret };
}
function cas(clientId: number, call: number, ret: number, expected: KvValue, value: KvValue, ok: boolean, key = 'x'): KvOperation {
  return { clientId, input: { kind: 'cas', key, expected, value }, output: ret === INF ? undefined : { kind: 'cas', ok }, call, return: ret };
}

function generateHistory(prng: Prng, opsCount: number, keysCount: number, spreadMs: number): KvOperation[] {
  return generateKvHistory(prng, { opsCount, keysCount, spreadMs });
}

/** Exhaustive search over every order that respects real time; the reference for small histories. */
function bruteForce<S, I, O>(ops: readonly Operation<I, O>[], model: Model<S, I, O>): boolean {
  const search = (remaining: readonly Operation<I, O>[], state: S): boolean => {
    if (remaining.every((op) => op.return === INF)) return true;
    for (const op of remaining) {
      if (remaining.some((r) => r !== op && r.return < op.call)) continue;
      const [ok, next] = model.step(state, op.input, op.return === INF ? undefined : op.output);
      if (ok && search(remaining.filter((r) => r !== op), next)) return true;
    }
    return false;
  };
  return search(ops, model.init());
}

describe('checkLinearizable with kvModel: classic histories', () => {
  it('accepts a read of a completed write', () => {
    expect(checkLinearizable([put(1, 0, 1, 'a'), get(2, 2, 3, 'a')], kvModel)).toEqual({ ok: true });
  });

  it('rejects a stale read after a completed write', () => {
    const r = checkLinearizable([put(1, 0, 1, 'a'), get(2, 2, 3, null)], kvModel);
    expect(r.ok).toBe(false);
    if (r.ok !== false) return;
    expect(r.counterexample.longestLinearization.map((o) => o.input.kind)).toEqual(['put']);
    expect(r.counterexample.candidates.map((o) => o.input.kind)).toEqual(['get']);
    expect(r.counterexample.message).toContain('get(x) -> nil');
  });

  it('accepts concurrent writes seen in either order, but not a value nobody wrote', () => {
    const writes = [put(1, 0, 10, 'a'), put(2, 0, 10, 'b')];
    expect(checkLinearizable([...writes, get(3, 11, 12, 'a')], kvModel).ok).toBe(true);
    expect(checkLinearizable([...writes, get(3, 11, 12, 'b')], kvModel).ok).toBe(true);
    expect(checkLinearizable([...writes, get(3, 11, 12, null)], kvModel).ok).toBe(false);
    expect(checkLinearizable([...writes, get(3, 11, 12, 'c')], kvModel).ok).toBe(false);
  });

  it('rejects two readers that see concurrent writes in opposite orders after both finished', () => {
    const h = [put(1, 0, 10, 'a'), put(2, 0, 10, 'b'), get(3, 11, 12, 'a'), get(4, 13, 14, 'b'), get(5, 15, 16, 'a')];
    expect(checkLinearizable(h, kvModel).ok).toBe(false);
  });

  it('rejects a lost update: two compare-and-sets from the same value both succeed', () => {
    const h = [put(1, 0, 1, 'base'), cas(2, 2, 10, 'base', 'x', true), cas(3, 3, 9, 'base', 'y', true), get(4, 11, 12, 'y')];
    expect(checkLinearizable(h, kvModel).ok).toBe(false);
    const fixed = [put(1, 0, 1, 'base'), cas(2, 2, 10, 'base', 'x', true), cas(3, 3, 9, 'base', 'y', false), get(4, 11, 12, 'x')];
    expect(checkLinearizable(fixed, kvModel).ok).toBe(true);
  });

  it('rejects a new-then-old read inversion during a slow write', () => {
    const h = [put(1, 0, 100, 'a'), get(2, 10, 20, 'a'), get(3, 30, 40, null)];
    expect(checkLinearizable(h, kvModel).ok).toBe(false);
    const ok = [put(1, 0, 100, 'a'), get(2, 10, 20, null), get(3, 30, 40, 'a')];
    expect(checkLinearizable(ok, kvModel).ok).toBe(true);
  });

  it('treats an operation that never returned as maybe applied, at any time after its call', () => {
    expect(checkLinearizable([put(1, 0, INF, 'a'), get(2, 5, 6, 'a')], kvModel).ok).toBe(true);
    expect(checkLinearizable([put(1, 0, INF, 'a'), get(2, 5, 6, null)], kvModel).ok).toBe(true);
    expect(checkLinearizable([put(1, 0, INF, 'a'), get(2, 5, 6, 'a'), get(2, 7, 8, null)], kvModel).ok).toBe(false);
    // It cannot take effect before it was called.
    expect(checkLinearizable([get(2, 0, 1, 'a'), put(1, 5, INF, 'a')], kvModel).ok).toBe(false);
  });

  it('counts operations touching at an instant as concurrent', () => {
    expect(checkLinearizable([put(1, 0, 5, 'a'), get(2, 5, 6, null)], kvModel).ok).toBe(true);
  });

  it('checks keys independently and reports the failing key', () => {
    const h = [put(1, 0, 1, 'a', 'good'), get(2, 2, 3, 'a', 'good'), put(1, 0, 1, 'a', 'bad'), get(2, 2, 3, 'z', 'bad')];
    const r = checkLinearizable(h, kvModel);
    expect(r.ok).toBe(false);
    if (r.ok !== false) return;
    expect(r.counterexample.history.every((o) => o.input.key === 'bad')).toBe(true);
    expect(r.counterexample.partition).toBe(1);
  });

  it('accepts the empty history', () => {
    expect(checkLinearizable([], kvModel)).toEqual({ ok: true });
  });
});

describe('checkLinearizable: generated histories', () => {
  it('accepts histories generated from a sequential execution', () => {
    forEachSeed(30, (seed) => {
      const prng = new Prng(seed);
      const h = generateHistory(prng, 200, 1 + prng.int(4), prng.range(5, 40));
      expect(checkLinearizable(h, kvModel, { timeoutMs: 20_000 })).toEqual({ ok: true });
    });
  });

  it('rejects the same histories with one read answering a value never written', () => {
    forEachSeed(30, (seed) => {
      const prng = new Prng(seed);
      const h = generateHistory(prng, 200, 1 + prng.int(4), prng.range(5, 40));
      const reads = h.filter((o) => o.input.kind === 'get' && o.return !== INF);
      const victim = prng.pick(reads);
      victim.output = { kind: 'get', value: 'never-written' };
      const r = checkLinearizable(h, kvModel, { timeoutMs: 20_000 });
      expect(r.ok).toBe(false);
      if (r.ok === false) expect(r.counterexample.history).toContain(victim);
    });
  });

  it('decides histories where a third of the operations never returned', () => {
    forEachSeed(20, (seed) => {
      const prng = new Prng(seed);
      const h = generateKvHistory(prng, { opsCount: 300, keysCount: 2, spreadMs: 30, pendingRate: 0.3 });
      expect(checkLinearizable(h, kvModel, { timeoutMs: 20_000 })).toEqual({ ok: true });
      prng.pick(h.filter((o) => o.input.kind === 'get' && o.return !== INF)).output = { kind: 'get', value: 'never-written' };
      expect(checkLinearizable(h, kvModel, { timeoutMs: 20_000 }).ok).toBe(false);
    });
  });

  it('agrees with an exhaustive search on small random histories', () => {
    const value = fc.constantFrom<KvValue>(null, 'a', 'b');
    const interval = fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 10 }), fc.boolean());
    const op: fc.Arbitrary<KvOperation> = fc
      .tuple(fc.constantFrom('get', 'put', 'cas'), value, value, fc.boolean(), interval, fc.nat(3))
      .map(([kind, v1, v2, ok, [call, len, pending], clientId]) => {
        const ret = pending && kind !== 'get' ? INF : call + len;
        if (kind === 'get') return get(clientId, call, ret, v1);
        if (kind === 'put') return put(clientId, call, ret, v1);
        return cas(clientId, call, ret, v1, v2, ok);
      });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 7 }), (h) => {
        const fast = checkLinearizable(h, kvModel).ok;
        expect(fast).toBe(bruteForce(h, kvModel));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('checkLinearizable: pending operations and counterexamples', () => {
  const value = fc.constantFrom<KvValue>(null, 'a', 'b', 'c');
  const pendingHeavy: fc.Arbitrary<KvOperation> = fc
    .tuple(fc.constantFrom('get', 'put', 'put', 'cas'), value, value, fc.boolean(), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 8 }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([kind, v1, v2, ok, call, len, p]) => {
      const ret = kind !== 'get' && p < 0.6 ? INF : call + len;
      if (kind === 'get') return get(0, call, ret, v1);
      if (kind === 'put') return put(1, call, ret, v1);
      return cas(2, call, ret, v1, v2, ok);
    });

  it('agrees with an exhaustive search when most writes never returned', () => {
    fc.assert(
      fc.property(fc.array(pendingHeavy, { maxLength: 8 }), (h) => {
        expect(checkLinearizable(h, kvModel).ok).toBe(bruteForce(h, kvModel));
      }),
      { numRuns: 800 },
    );
  });

  it('a counterexample prefix is a valid linearization that respects real time', () => {
    fc.assert(
      fc.property(fc.array(pendingHeavy, { minLength: 1, maxLength: 10 }), (h) => {
        const r = checkLinearizable(h, kvModel);
        if (r.ok !== false) return;
        const { longestLinearization: order, candidates, history } = r.counterexample;
        let state = kvModel.init();
        for (const op of order) {
          const [ok, next] = kvModel.step(state, op.input, op.return === INF ? undefined : op.output);
          expect(ok).toBe(true);
          state = next;
        }
        for (let i = 0; i < order.length; i++) {
          for (let j = i + 1; j < order.length; j++) expect(order[j]!.return < order[i]!.call).toBe(false);
        }
        for (const c of candidates) expect(order).not.toContain(c);
        expect(history.length).toBeGreaterThan(order.length);
      }),
      { numRuns: 800 },
    );
  });
});

describe('checkLinearizable: bounds and bad input', () => {
  it('returns unknown, never hangs, when the step budget or the time budget runs out', () => {
    const h = generateHistory(new Prng(5), 300, 1, 40);
    expect(checkLinearizable(h, kvModel, { stepsMax: 10 }).ok).toBe('unknown');
    // A clock that jumps 1 s per look: the first look after the start is past the deadline.
    let t = 0;
    const r = checkLinearizable(generateHistory(new Prng(5), 300, 3, 40), kvModel, { timeoutMs: 5, now: () => (t += 1000) });
    expect(r).toMatchObject({ ok: 'unknown', reason: expect.stringContaining('timeoutMs') });
  });

  it('gives up on an exponential search instead of hanging', () => {
    // 60 concurrent writes, then a read of a value nobody wrote: every subset of writes is a
    // distinct (set, state) pair, so even the memoized search has 2^60 nodes.
    const h = [...Array.from({ length: 60 }, (_, i) => put(i, 0, 100, `v${i}`)), get(99, 101, 102, 'nobody')];
    expect(checkLinearizable(h, kvModel, { stepsMax: 200_000 })).toMatchObject({ ok: 'unknown', reason: expect.stringContaining('stepsMax exhausted') });
    expect(checkLinearizable(h, kvModel, { timeoutMs: 50 }).ok).toBe('unknown');
  });

  it('rejects malformed histories with a typed error', () => {
    const bad = [
      [{ ...put(1, 0, 1, 'a'), call: Number.NaN }],
      [{ ...put(1, 5, 1, 'a') }],
      [{ ...put(1, 0, 1, 'a'), return: Number.NaN }],
      [{ ...put(1, INF, INF, 'a') }],
    ];
    for (const h of bad) expect(() => checkLinearizable(h, kvModel)).toThrow(CheckerError);
    expect(() => checkLinearizable([], kvModel, { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'LIN_BAD_OPTIONS' }));
  });
});

describe('checkLinearizable with a structured state (FIFO queue)', () => {
  type QIn = { kind: 'enq'; v: number } | { kind: 'deq' };
  type QOut = { kind: 'enq' } | { kind: 'deq'; v: number | null };
  const queue: Model<readonly number[], QIn, QOut> = {
    init: () => [],
    step: (s, input, output) => {
      if (input.kind === 'enq') return [true, [...s, input.v]];
      const head = s[0] ?? null;
      if (output !== undefined && (output.kind !== 'deq' || output.v !== head)) return [false, s];
      return [true, s.slice(1)];
    },
    equal: (a, b) => a.length === b.length && a.every((x, i) => x === b[i]),
  };
  const op = (clientId: number, call: number, ret: number, input: QIn, output: QOut): Operation<QIn, QOut> => ({ clientId, input, output, call, return: ret });

  it('accepts concurrent enqueues dequeued in either order and rejects FIFO violations', () => {
    const enqs = [op(1, 0, 10, { kind: 'enq', v: 1 }, { kind: 'enq' }), op(2, 0, 10, { kind: 'enq', v: 2 }, { kind: 'enq' })];
    const deq = (t: number, v: number | null): Operation<QIn, QOut> => op(3, t, t + 1, { kind: 'deq' }, { kind: 'deq', v });
    expect(checkLinearizable([...enqs, deq(11, 2), deq(13, 1)], queue).ok).toBe(true);
    expect(checkLinearizable([...enqs, deq(11, 1), deq(13, 2)], queue).ok).toBe(true);
    const sequential = [op(1, 0, 1, { kind: 'enq', v: 1 }, { kind: 'enq' }), op(2, 2, 3, { kind: 'enq', v: 2 }, { kind: 'enq' })];
    expect(checkLinearizable([...sequential, deq(11, 2)], queue).ok).toBe(false);
    expect(checkLinearizable([...sequential, deq(11, 1), deq(13, null)], queue).ok).toBe(false);
  });
});
