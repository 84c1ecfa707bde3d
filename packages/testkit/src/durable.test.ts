import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimDurableCell, SimDurableLog } from './durable.js';
import { type SimDiskError } from './errors.js';
import { Prng } from './prng.js';
import { Simulator } from './simulator.js';

describe('SimDurableLog', () => {
  it('loses writes not yet synced on crash and keeps synced ones', () => {
    const log = new SimDurableLog<string>();
    log.append(['a', 'b']);
    log.syncNow();
    log.append(['c']);
    expect(log.entries()).toEqual(['a', 'b', 'c']);
    log.crash();
    expect(log.entries()).toEqual(['a', 'b']);
    expect(log.stats).toMatchObject({ crashes: 1, lost: 1 });
  });

  it('a sync becomes durable only after syncDelayMs, and crash cancels it', () => {
    const sim = new Simulator();
    const log = new SimDurableLog<number>({ sim, syncDelayMs: 5 });
    log.append([1, 2, 3]);
    const done: number[] = [];
    log.sync((err) => {
      expect(err).toBeUndefined();
      done.push(sim.now);
    });
    expect(log.durableLength).toBe(0);
    sim.runFor(4);
    log.crash();
    sim.runFor(10);
    expect(done).toEqual([]);
    expect(log.entries()).toEqual([]);
    log.append([7]);
    log.sync(() => done.push(sim.now));
    sim.runFor(10);
    expect(done).toEqual([19]);
    expect(log.durableEntries()).toEqual([7]);
  });

  it('a sync persists the view as it was at the call, not at completion', () => {
    const sim = new Simulator();
    const log = new SimDurableLog<string>({ sim, syncDelayMs: 5 });
    log.append(['a', 'b']);
    log.sync();
    log.truncate(1);
    log.append(['x']);
    sim.runFor(5);
    expect(log.durableEntries()).toEqual(['a', 'b']);
    log.crash();
    expect(log.entries()).toEqual(['a', 'b']);
  });

  it('truncation is a write like any other: lost on crash unless synced', () => {
    const log = new SimDurableLog<string>();
    log.append(['a', 'b', 'c']);
    log.syncNow();
    log.truncate(1);
    log.append(['z']);
    log.crash();
    expect(log.entries()).toEqual(['a', 'b', 'c']);
    log.truncate(1);
    log.append(['z']);
    log.syncNow();
    log.crash();
    expect(log.entries()).toEqual(['a', 'z']);
  });

  it('matches a model under random appends, truncates, syncs and crashes', () => {
    type Op = { kind: 'append'; n: number } | { kind: 'truncate'; at: number } | { kind: 'sync' } | { kind: 'crash' } | { kind: 'run'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(10) }),
      fc.constant({ kind: 'sync' as const }),
      fc.constant({ kind: 'crash' as const }),
      fc.record({ kind: fc.constant('run' as const), ms: fc.integer({ min: 0, max: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const sim = new Simulator();
        const log = new SimDurableLog<number>({ sim, syncDelayMs: 3 });
        // Model: the volatile view, and the snapshots each pending sync will install in order.
        let view: number[] = [];
        let durable: number[] = [];
        const pending: { due: number; snap: number[] }[] = [];
        let next = 0;
        const settle = (until: number): void => {
          while (pending.length > 0 && pending[0]!.due <= until) durable = pending.shift()!.snap;
        };
        for (const o of ops) {
          if (o.kind === 'append') {
            const es = Array.from({ length: o.n }, () => next++);
            log.append(es);
            view.push(...es);
          } else if (o.kind === 'truncate') {
            log.truncate(o.at);
            view = view.slice(0, o.at);
          } else if (o.kind === 'sync') {
            log.sync();
            pending.push({ due: sim.now + 3, snap: [...view] });
          } else if (o.kind === 'crash') {
            settle(sim.now - 1);
            log.crash();
            pending.length = 0;
            view = [...durable];
          } else {
            sim.runFor(o.ms);
            settle(sim.now);
          }
          expect(log.entries()).toEqual(view);
        }
        sim.runFor(10);
        settle(sim.now);
        expect(log.durableEntries()).toEqual(durable);
      }),
      { numRuns: 300 },
    );
  });

  it('a torn tail keeps the synced prefix plus an in-order prefix of unsynced writes', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), (seed, synced, unsynced) => {
        const log = new SimDurableLog<number>();
        const all = Array.from({ length: synced + unsynced }, (_, i) => i);
        log.append(all.slice(0, synced));
        log.syncNow();
        log.append(all.slice(synced));
        log.crash({ tornTail: new Prng(seed) });
        const kept = log.entries();
        expect(kept.length).toBeGreaterThanOrEqual(synced);
        expect(kept).toEqual(all.slice(0, kept.length));
        expect(log.durableEntries()).toEqual(kept);
      }),
    );
  });

  it('ENOSPC from the switch and from entriesMax; nothing is written', () => {
    const log = new SimDurableLog<number>({ entriesMax: 3 });
    log.append([1, 2]);
    expect(() => log.append([3, 4])).toThrow(expect.objectContaining({ code: 'ENOSPC', retriable: false }));
    expect(log.entries()).toEqual([1, 2]);
    log.diskFull = true;
    expect(() => log.append([3])).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    log.diskFull = false;
    log.append([3]);
    expect(log.length).toBe(3);
  });

  it('an injected EIO fails the sync and makes the log fail-stop until crash', () => {
    const sim = new Simulator();
    const log = new SimDurableLog<number>({ sim, syncDelayMs: 1 });
    log.append([1]);
    log.failNextSync();
    const errors: (SimDiskError | undefined)[] = [];
    log.sync((err) => errors.push(err));
    log.sync((err) => errors.push(err));
    sim.runFor(5);
    expect(errors.map((e) => e?.code)).toEqual(['EIO', 'EIO']);
    expect(() => log.append([2])).toThrow(expect.objectContaining({ code: 'EIO' }));
    log.crash();
    expect(log.entries()).toEqual([]);
    log.append([3]);
    log.sync((err) => errors.push(err));
    sim.runFor(5);
    expect(errors[2]).toBeUndefined();
    expect(log.durableEntries()).toEqual([3]);
  });
});

describe('SimDurableCell', () => {
  it('keeps the last synced value across a crash', () => {
    const sim = new Simulator();
    const cell = new SimDurableCell({ term: 0, vote: null as number | null }, { sim, syncDelayMs: 2 });
    cell.set({ term: 1, vote: 3 });
    cell.sync();
    sim.runFor(2);
    cell.set({ term: 2, vote: null });
    cell.crash();
    expect(cell.get()).toEqual({ term: 1, vote: 3 });
    expect(cell.stats.lost).toBe(1);
  });

  it('with a torn tail the value is either the old or the new one, never other', () => {
    const outcomes = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const cell = new SimDurableCell(1);
      cell.set(2);
      cell.crash({ tornTail: new Prng(seed) });
      outcomes.add(cell.get());
      expect(cell.getDurable()).toBe(cell.get());
    }
    expect([...outcomes].sort()).toEqual([1, 2]);
  });

  it('refuses writes when the disk is full', () => {
    const cell = new SimDurableCell('x');
    cell.diskFull = true;
    expect(() => cell.set('y')).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(cell.get()).toBe('x');
  });
});
