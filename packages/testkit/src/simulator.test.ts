import { describe, expect, it } from 'vitest';
import { SimulationError } from './errors.js';
import { Simulator } from './simulator.js';

describe('Simulator', () => {
  it('runs events in (time, sequence) order and moves the clock to each event', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(10, () => log.push(`a@${sim.now}`));
    sim.schedule(5, () => log.push(`b@${sim.now}`));
    sim.schedule(10, () => log.push(`c@${sim.now}`));
    sim.schedule(0, () => log.push(`d@${sim.now}`));
    while (sim.step());
    expect(log).toEqual(['d@0', 'b@5', 'a@10', 'c@10']);
    expect(sim.now).toBe(10);
    expect(sim.clock.now()).toBe(10);
    expect(sim.eventsRun).toBe(4);
  });

  it('events scheduled from events run after same-time events already queued', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(1, () => {
      log.push('first');
      sim.schedule(0, () => log.push('nested'));
    });
    sim.schedule(1, () => log.push('second'));
    while (sim.step());
    expect(log).toEqual(['first', 'second', 'nested']);
  });

  it('cancel removes a pending event and reports whether it did', () => {
    const sim = new Simulator();
    const log: number[] = [];
    const id = sim.schedule(5, () => log.push(5));
    sim.schedule(6, () => log.push(6));
    expect(sim.pending).toBe(2);
    expect(sim.cancel(id)).toBe(true);
    expect(sim.cancel(id)).toBe(false);
    expect(sim.pending).toBe(1);
    while (sim.step());
    expect(log).toEqual([6]);
  });

  it('every re-arms until cancelled, also from inside its own handler', () => {
    const sim = new Simulator();
    const times: number[] = [];
    const id = sim.every(10, () => {
      times.push(sim.now);
      if (times.length === 3) sim.cancel(id);
    });
    sim.runFor(100);
    expect(times).toEqual([10, 20, 30]);
    expect(sim.pending).toBe(0);
  });

  it('runFor runs due events and leaves the clock at the deadline', () => {
    const sim = new Simulator({ startMs: 1000 });
    const log: number[] = [];
    sim.schedule(5, () => log.push(sim.now));
    sim.schedule(50, () => log.push(sim.now));
    sim.runFor(20);
    expect(log).toEqual([1005]);
    expect(sim.now).toBe(1020);
    sim.runFor(30);
    expect(log).toEqual([1005, 1050]);
    expect(sim.now).toBe(1050);
  });

  it('runUntil stops when the predicate holds, or at the timeout', () => {
    const sim = new Simulator();
    let count = 0;
    sim.every(7, () => count++);
    expect(sim.runUntil(() => count >= 3, { timeoutMs: 1000 })).toBe(true);
    expect(sim.now).toBe(21);
    expect(sim.runUntil(() => count >= 1000, { timeoutMs: 100 })).toBe(false);
    expect(sim.now).toBe(121);
    const idle = new Simulator();
    expect(idle.runUntil(() => false, { timeoutMs: 5 })).toBe(false);
    expect(idle.now).toBe(5);
  });

  it('throws SIM_EVENT_LIMIT instead of running a livelock forever', () => {
    const sim = new Simulator({ eventsMax: 100 });
    const loop = (): void => {
      sim.schedule(0, loop);
    };
    loop();
    let caught: unknown;
    try {
      sim.runFor(1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SimulationError);
    expect((caught as SimulationError).code).toBe('SIM_EVENT_LIMIT');
  });

  it('rejects step() from inside an event and bad delays', () => {
    const sim = new Simulator();
    sim.schedule(1, () => sim.step());
    expect(() => sim.step()).toThrow(expect.objectContaining({ code: 'SIM_REENTRANT_STEP' }));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => sim.schedule(bad, () => undefined)).toThrow(expect.objectContaining({ code: 'SIM_BAD_ARGUMENT' }));
    }
    expect(() => sim.every(0, () => undefined)).toThrow(SimulationError);
    expect(() => new Simulator({ eventsMax: 0 })).toThrow(SimulationError);
  });

  it('skewedClock is offset and drifts relative to virtual time', () => {
    const sim = new Simulator({ startMs: 100 });
    const fast = sim.skewedClock({ offsetMs: 5, driftRate: 0.5 });
    const slow = sim.skewedClock({ driftRate: -0.5 });
    expect(fast.now()).toBe(105);
    sim.runFor(100);
    expect(fast.now()).toBe(255);
    expect(slow.now()).toBe(150);
    expect(() => sim.skewedClock({ driftRate: -1 })).toThrow(SimulationError);
  });

  it('keeps a bounded trace of labelled events', () => {
    const sim = new Simulator({ traceLinesMax: 2 });
    sim.schedule(1, () => undefined, 'one');
    sim.schedule(2, () => undefined, 'two');
    sim.schedule(3, () => sim.trace('three'));
    while (sim.step());
    expect(sim.traceLog()).toEqual(['2 two', '3 three']);
  });
});
