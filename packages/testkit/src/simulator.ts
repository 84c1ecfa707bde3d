import { SimulationError } from './errors.js';
import { Prng } from './prng.js';

/** A handle for a scheduled event; pass it to `cancel`. */
export type TimerId = number;

/** The clock seam: production code takes one of these instead of calling Date.now(). */
export interface Clock {
  now(): number;
}

export interface SimulatorOptions {
  /** Seed of `sim.prng`; components should take `sim.prng.fork()` for their own stream. */
  seed?: number;
  /** Virtual time at the start, ms. */
  startMs?: number;
  /** Guard against livelock: running more events than this throws SIM_EVENT_LIMIT. */
  eventsMax?: number;
  /** Keep the last N trace lines (see `trace`); 0 disables tracing. */
  traceLinesMax?: number;
}

interface SimEvent {
  time: number;
  seq: number;
  id: TimerId;
  fn: () => void;
  /** For `every`: the period to re-arm with after firing; 0 for one-shot events. */
  intervalMs: number;
  label: string | undefined;
  /** Set by cancel(); the heap entry is skipped when it surfaces (lazy deletion). */
  cancelled: boolean;
}

const DEFAULT_EVENTS_MAX = 10_000_000;

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * A discrete-event simulator. Events run in (virtual time, sequence) order; equal times run
 * in scheduling order, so a run depends only on the seed and the code under test. Time never
 * moves by itself: it jumps to the next event.
 */
export class Simulator {
  readonly prng: Prng;
  readonly clock: Clock;
  readonly eventsMax: number;
  private nowMs: number;
  private seq = 0;
  private nextId = 1;
  private heap: SimEvent[] = [];
  private live = new Map<TimerId, SimEvent>();
  private running = false;
  private executed = 0;
  private readonly traceLinesMax: number;
  private readonly traceLines: string[] = [];

  constructor(options: SimulatorOptions = {}) {
    const startMs = options.startMs ?? 0;
    const eventsMax = options.eventsMax ?? DEFAULT_EVENTS_MAX;
    assertTime(startMs, 'startMs');
    if (!Number.isSafeInteger(eventsMax) || eventsMax <= 0) {
      throw new SimulationError('SIM_BAD_ARGUMENT', `eventsMax must be a positive safe integer, got ${eventsMax}`);
    }
    this.nowMs = startMs;
    this.eventsMax = eventsMax;
    this.traceLinesMax = options.traceLinesMax ?? 0;
    this.prng = new Prng(options.seed ?? 0);
    this.clock = { now: () => this.nowMs };
  }

  /** Virtual time in ms. */
  get now(): number {
    return this.nowMs;
  }

  /** Events scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.live.size;
  }

  /** Events run so far. */
  get eventsRun(): number {
    return this.executed;
  }

  /** Run `fn` once, `delayMs` (>= 0) after now. */
  schedule(delayMs: number, fn: () => void, label?: string): TimerId {
    assertDelay(delayMs, 'delayMs');
    const id = this.nextId++;
    this.push({ time: this.nowMs + delayMs, seq: this.seq++, id, fn, intervalMs: 0, label, cancelled: false });
    return id;
  }

  /** Run `fn` every `intervalMs` (> 0), first after `intervalMs`; one id cancels all. */
  every(intervalMs: number, fn: () => void, label?: string): TimerId {
    assertDelay(intervalMs, 'intervalMs');
    if (intervalMs === 0) throw new SimulationError('SIM_BAD_ARGUMENT', 'every() needs intervalMs > 0');
    const id = this.nextId++;
    this.push({ time: this.nowMs + intervalMs, seq: this.seq++, id, fn, intervalMs, label, cancelled: false });
    return id;
  }

  /** Cancel a pending event; returns false when it already ran or was cancelled. */
  cancel(id: TimerId): boolean {
    const ev = this.live.get(id);
    if (ev === undefined) return false;
    ev.cancelled = true;
    this.live.delete(id);
    return true;
  }

  /** Run the next event. Returns false when nothing is pending. */
  step(): boolean {
    if (this.running) {
      throw new SimulationError('SIM_REENTRANT_STEP', 'step() called from inside an event; schedule instead');
    }
    const ev = this.peekLive();
    if (ev === undefined) return false;
    if (this.executed >= this.eventsMax) {
      throw new SimulationError(
        'SIM_EVENT_LIMIT',
        `simulation ran ${this.executed} events (eventsMax) at t=${this.nowMs}ms; a livelock or an unbounded timer`,
      );
    }
    this.popHeap();
    this.runEvent(ev);
    return true;
  }

  /** Run every event due within the next `ms`, then set the clock to now + ms. */
  runFor(ms: number): void {
    assertDelay(ms, 'ms');
    const deadline = this.nowMs + ms;
    for (;;) {
      const ev = this.peekLive();
      if (ev === undefined || ev.time > deadline) break;
      this.step();
    }
    this.nowMs = deadline;
  }

  /**
   * Run events until `pred()` holds (checked before each event) or `timeoutMs` of virtual
   * time has passed. Returns whether `pred` held. On timeout the clock is at the deadline.
   */
  runUntil(pred: () => boolean, options: { timeoutMs: number }): boolean {
    assertDelay(options.timeoutMs, 'timeoutMs');
    const deadline = this.nowMs + options.timeoutMs;
    for (;;) {
      if (pred()) return true;
      const ev = this.peekLive();
      if (ev === undefined || ev.time > deadline) {
        this.nowMs = deadline;
        return pred();
      }
      this.step();
    }
  }

  /**
   * A node-local clock that is off by `offsetMs` and runs `driftRate` faster (0.01 = 1% fast,
   * negative = slow) than virtual time: for lease and timeout logic that must tolerate skew.
   */
  skewedClock(options: { offsetMs?: number; driftRate?: number }): Clock {
    const offsetMs = options.offsetMs ?? 0;
    const driftRate = options.driftRate ?? 0;
    assertTime(offsetMs, 'offsetMs');
    if (!(driftRate > -1 && driftRate < 1)) throw new SimulationError('SIM_BAD_ARGUMENT', `driftRate must be in (-1, 1), got ${driftRate}`);
    const base = this.nowMs;
    return { now: () => base + offsetMs + (this.nowMs - base) * (1 + driftRate) };
  }

  /** Record a line in the bounded trace (no-op when traceLinesMax is 0). */
  trace(line: string): void {
    if (this.traceLinesMax === 0) return;
    if (this.traceLines.length >= this.traceLinesMax) this.traceLines.shift();
    this.traceLines.push(`${this.nowMs} ${line}`);
  }

  /** The kept trace lines, oldest first, each prefixed with its virtual time. */
  traceLog(): readonly string[] {
    return this.traceLines;
  }

  private runEvent(ev: SimEvent): void {
    this.executed++;
    if (ev.time < this.nowMs) throw new SimulationError('SIM_BAD_ARGUMENT', 'invariant: time went backwards');
    this.nowMs = ev.time;
    if (ev.intervalMs > 0) {
      // Re-arm before running so the handler can cancel its own periodic timer.
      ev.time += ev.intervalMs;
      ev.seq = this.seq++;
      this.push(ev);
    } else {
      this.live.delete(ev.id);
    }
    if (ev.label !== undefined) this.trace(ev.label);
    this.running = true;
    try {
      ev.fn();
    } finally {
      this.running = false;
    }
  }

  private push(ev: SimEvent): void {
    this.live.set(ev.id, ev);
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as SimEvent;
      if (!before(ev, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = ev;
  }

  private popHeap(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(h[r] as SimEvent, h[l] as SimEvent)) c = r;
      const child = h[c] as SimEvent;
      if (!before(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }

  private peekLive(): SimEvent | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || !top.cancelled) return top;
      this.popHeap();
    }
  }

}

function assertTime(v: number, name: string): void {
  if (!Number.isFinite(v)) throw new SimulationError('SIM_BAD_ARGUMENT', `${name} must be finite, got ${v}`);
}

function assertDelay(v: number, name: string): void {
  if (!Number.isFinite(v) || v < 0) {
    throw new SimulationError('SIM_BAD_ARGUMENT', `${name} must be a finite number >= 0, got ${v}`);
  }
}
