import { CheckerError } from './errors.js';

// A linearizability checker: Wing & Gong's backtracking search with Lowe's memoization, in
// the manner of Porcupine (Athalye). Call and return events are sorted by time into a doubly
// linked list; the search repeatedly picks a call that is minimal (no return precedes it),
// applies it to the model, and lifts the call and its return out of the list. When a return
// is reached before its call was linearized, it backtracks. A cache of (set of linearized
// operations, model state) pairs already explored prunes the search; histories that split
// into independent parts (per key) are checked part by part (P-compositionality).

export type ClientId = string | number;

export interface Operation<I, O> {
  clientId: ClientId;
  input: I;
  /** Ignored (passed to the model as undefined) when the operation never returned. */
  output: O | undefined;
  /** Invocation time. */
  call: number;
  /** Completion time; Infinity when the client never saw a reply (it may or may not have taken effect). */
  return: number;
}

export interface Model<S, I, O> {
  init: () => S;
  /**
   * Apply `input` to `state`; ok when `output` is what a correct system could have answered.
   * `output` is undefined for an operation that never returned: accept any outcome then.
   * Must not mutate `state`.
   */
  step: (state: S, input: I, output: O | undefined) => [ok: boolean, newState: S];
  /** State equality for the cache; Object.is when absent (fine for primitive states). */
  equal?: (a: S, b: S) => boolean;
  /** Split a history into independent sub-histories (e.g. per key), each checked alone. */
  partition?: (history: readonly Operation<I, O>[]) => Operation<I, O>[][];
  describe?: (input: I, output: O | undefined) => string;
  describeState?: (state: S) => string;
}

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is 'unknown'. */
  timeoutMs?: number;
  /** Budget of search steps (deterministic, unlike timeoutMs); past it the verdict is 'unknown'. */
  stepsMax?: number;
  /** Wall clock used for timeoutMs (injectable for tests). */
  now?: () => number;
}

export interface Counterexample<I, O> {
  /** Index of the failing part in the model's partition (0 without partition). */
  partition: number;
  /** The operations of the failing part, sorted by call time. */
  history: Operation<I, O>[];
  /** The longest linearization found, in order: everything up to the point of failure. */
  longestLinearization: Operation<I, O>[];
  /** The operations that could have come next at that point; none of them fits the model. */
  candidates: Operation<I, O>[];
  message: string;
}

export type CheckResult<I, O> =
  | { ok: true }
  | { ok: false; counterexample: Counterexample<I, O> }
  | { ok: 'unknown'; reason: string };

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_STEPS_MAX = Number.MAX_SAFE_INTEGER;
/** How many search steps run between two looks at the wall clock. */
const CLOCK_CHECK_INTERVAL = 1024;

interface ListNode {
  id: number;
  isCall: boolean;
  time: number;
  match: ListNode | null;
  prev: ListNode | null;
  next: ListNode | null;
}

interface CacheEntry<S> {
  /** Offset of this entry's linearized-set bitset in the arena. */
  at: number;
  state: S;
}

/** Bitsets of cache entries, packed in one growable array: thousands of tiny typed arrays cost more in GC than the search itself. */
class BitsetArena {
  words = new Uint32Array(1024);
  used = 0;

  store(bits: Uint32Array): number {
    if (this.used + bits.length > this.words.length) {
      const grown = new Uint32Array(Math.max(this.words.length * 2, this.used + bits.length));
      grown.set(this.words);
      this.words = grown;
    }
    const at = this.used;
    this.words.set(bits, at);
    this.used += bits.length;
    return at;
  }
}

interface Budget {
  deadline: number;
  stepsLeft: number;
  now: () => number;
}

type PartResult = { kind: 'ok' } | { kind: 'unknown'; reason: string } | { kind: 'fail'; longest: number[]; candidates: number[] };

export function checkLinearizable<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  options: CheckOptions = {},
): CheckResult<I, O> {
  validateHistory(history);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const stepsMax = options.stepsMax ?? DEFAULT_STEPS_MAX;
  if (!(timeoutMs >= 0) || !(stepsMax >= 0)) {
    throw new CheckerError('LIN_BAD_OPTIONS', `timeoutMs and stepsMax must be >= 0, got ${timeoutMs}, ${stepsMax}`);
  }
  const now = options.now ?? (() => performance.now());
  const budget: Budget = { deadline: now() + timeoutMs, stepsLeft: stepsMax, now };
  const parts = model.partition ? model.partition(history) : [history.slice()];
  let unknown: string | undefined;
  for (let p = 0; p < parts.length; p++) {
    const ops = [...(parts[p] ?? [])].sort((a, b) => a.call - b.call);
    if (budget.now() > budget.deadline) {
      unknown ??= `timeoutMs exceeded before part ${p}`;
      continue;
    }
    const r = checkPart(ops, model, budget);
    if (r.kind === 'fail') return { ok: false, counterexample: counterexample(p, ops, r, model) };
    // Keep going: a definite violation in a later part beats 'unknown'.
    if (r.kind === 'unknown') unknown ??= `part ${p} (${ops.length} ops): ${r.reason}`;
  }
  return unknown === undefined ? { ok: true } : { ok: 'unknown', reason: unknown };
}

function validateHistory<I, O>(history: readonly Operation<I, O>[]): void {
  for (let i = 0; i < history.length; i++) {
    const op = history[i];
    if (op === undefined || typeof op !== 'object') throw new CheckerError('LIN_BAD_HISTORY', `operation ${i} is not an object`);
    if (!Number.isFinite(op.call)) throw new CheckerError('LIN_BAD_HISTORY', `operation ${i}: call must be a finite time, got ${op.call}`);
    if (Number.isNaN(op.return) || op.return < op.call) {
      throw new CheckerError('LIN_BAD_HISTORY', `operation ${i}: return (${op.return}) must be >= call (${op.call}) or Infinity`);
    }
  }
}

function buildList(ops: readonly Operation<unknown, unknown>[]): ListNode {
  const events: ListNode[] = [];
  for (let id = 0; id < ops.length; id++) {
    const op = ops[id] as Operation<unknown, unknown>;
    const call: ListNode = { id, isCall: true, time: op.call, match: null, prev: null, next: null };
    const ret: ListNode = { id, isCall: false, time: op.return, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  }
  // Calls before returns at equal times: operations that touch at an instant count as
  // concurrent, the permissive reading, so a coarse clock cannot produce a false alarm.
  events.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: ListNode = { id: -1, isCall: false, time: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift(call: ListNode): void {
  // A call always precedes its return, so call.next is never null.
  const ret = call.match as ListNode;
  (call.prev as ListNode).next = call.next;
  (call.next as ListNode).prev = call.prev;
  (ret.prev as ListNode).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: ListNode): void {
  const ret = call.match as ListNode;
  (ret.prev as ListNode).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as ListNode).next = call;
  (call.next as ListNode).prev = call;
}

function zobrist(n: number): Uint32Array {
  // Deterministic per-operation hash words (splitmix32); the set hash is their XOR.
  const z = new Uint32Array(n);
  let s = 0x2545f491;
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b9) | 0;
    let x = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    z[i] = (x ^ (x >>> 16)) >>> 0;
  }
  return z;
}

/**
 * Whether an explored configuration `seen` makes `cur` redundant: `seen` linearized a subset
 * of what `cur` did, and everything `cur` has in addition never returned. Operations that never
 * returned need not be linearized at all and block no other operation, so any way to finish
 * from `cur` also finishes from `seen` (same state), which has been or is being explored.
 * Without such operations this is plain equality, as in Lowe's cache.
 */
function dominates(arena: Uint32Array, at: number, cur: Uint32Array, pendingMask: Uint32Array): boolean {
  for (let i = 0; i < cur.length; i++) {
    const c = arena[at + i]!;
    const b = cur[i]!;
    if ((c & ~b) !== 0 || (b & ~c & ~pendingMask[i]!) !== 0) return false;
  }
  return true;
}

function checkPart<S, I, O>(ops: readonly Operation<I, O>[], model: Model<S, I, O>, budget: Budget): PartResult {
  const n = ops.length;
  const head = buildList(ops);
  const z = zobrist(n);
  const bits = new Uint32Array(Math.ceil(n / 32));
  const pendingMask = new Uint32Array(bits.length);
  let completedLeft = 0;
  for (let id = 0; id < n; id++) {
    if ((ops[id] as Operation<I, O>).return === Number.POSITIVE_INFINITY) {
      pendingMask[id >>> 5] = pendingMask[id >>> 5]! | (1 << (id & 31));
      // The hash covers completed operations only, so dominated configurations share a bucket.
      z[id] = 0;
    } else {
      completedLeft++;
    }
  }
  const cache = new Map<number, CacheEntry<S>[]>();
  const arena = new BitsetArena();
  const equal = model.equal ?? ((a: S, b: S) => Object.is(a, b));
  // phase: 0 while trying operations that returned, 1 while trying those that never did.
  // Trying completed ones first means configurations without pending operations are cached
  // first, and those dominate (see `dominates`) the ones reached through pending operations.
  const calls: { node: ListNode; state: S; phase: 0 | 1 }[] = [];
  let phase: 0 | 1 = 0;
  let state = model.init();
  let hash = 0;
  let entry = head.next;
  const longest: number[] = [];
  let bestShared = 0;
  let candidates: number[] = [];
  let bestDepth = -1;
  let steps = 0;

  if (completedLeft === 0) return { kind: 'ok' };
  for (;;) {
    if (entry === null) throw new CheckerError('LIN_BAD_HISTORY', 'invariant: a call without its return in the event list');
    if (entry.isCall) {
      const op = ops[entry.id] as Operation<I, O>;
      const pending = op.return === Number.POSITIVE_INFINITY;
      if (pending !== (phase === 1)) {
        entry = entry.next;
        continue;
      }
      if (budget.stepsLeft-- <= 0) return { kind: 'unknown', reason: 'stepsMax exhausted' };
      if (++steps % CLOCK_CHECK_INTERVAL === 0 && budget.now() > budget.deadline) return { kind: 'unknown', reason: 'timeoutMs exceeded' };
      const [ok, next] = model.step(state, op.input, pending ? undefined : op.output);
      if (ok && !(pending && overwritesPending(calls, ops, model, op, next, equal))) {
        const id = entry.id;
        const w = id >>> 5;
        const bit = 1 << (id & 31);
        bits[w] = bits[w]! | bit;
        const h = (hash ^ z[id]!) >>> 0;
        let bucket = cache.get(h);
        const seen = bucket?.some((c) => equal(c.state, next) && dominates(arena.words, c.at, bits, pendingMask)) ?? false;
        if (!seen) {
          if (bucket === undefined) {
            bucket = [];
            cache.set(h, bucket);
          }
          bucket.push({ at: arena.store(bits), state: next });
          calls.push({ node: entry, state, phase });
          state = next;
          hash = h;
          lift(entry);
          if (!pending && --completedLeft === 0) return { kind: 'ok' };
          entry = head.next;
          phase = 0;
          continue;
        }
        bits[w] = bits[w] & ~bit;
      }
      entry = entry.next;
      continue;
    }
    // A return: no call after it may be linearized before it.
    if (phase === 0) {
      phase = 1;
      entry = head.next;
      continue;
    }
    if (calls.length > bestDepth) {
      // The deepest point reached so far is the most useful failure report. `longest` still
      // agrees with the stack below `bestShared`, so only the part above it is copied.
      bestDepth = calls.length;
      longest.length = bestShared;
      for (let i = bestShared; i < calls.length; i++) longest.push(calls[i]!.node.id);
      bestShared = calls.length;
      candidates = minimalCalls(head);
    }
    const top = calls.pop();
    bestShared = Math.min(bestShared, calls.length);
    if (top === undefined) return { kind: 'fail', longest, candidates };
    state = top.state;
    const id = top.node.id;
    bits[id >>> 5] = bits[id >>> 5]! & ~(1 << (id & 31));
    hash = (hash ^ z[id]!) >>> 0;
    unlift(top.node);
    if (!isPending(pendingMask, id)) completedLeft++;
    entry = top.node.next;
    phase = top.phase;
  }
}

/**
 * Whether linearizing the pending `op` right after the pending operation on top of the stack
 * is redundant: when `op` from the state before that one gives the same state (a blind write
 * overwriting another), the configuration without the earlier pending operation is reached
 * directly from the parent, and it dominates this one. Keeps runs of never-returned writes
 * from multiplying the search.
 */
function overwritesPending<S, I, O>(
  calls: readonly { node: ListNode; state: S }[],
  ops: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  op: Operation<I, O>,
  next: S,
  equal: (a: S, b: S) => boolean,
): boolean {
  const top = calls[calls.length - 1];
  if (top === undefined || (ops[top.node.id] as Operation<I, O>).return !== Number.POSITIVE_INFINITY) return false;
  const [ok, direct] = model.step(top.state, op.input, undefined);
  return ok && equal(direct, next);
}

function isPending(pendingMask: Uint32Array, id: number): boolean {
  return (pendingMask[id >>> 5]! & (1 << (id & 31))) !== 0;
}

/** Calls that appear before the first return: the operations that may be linearized next. */
function minimalCalls(head: ListNode): number[] {
  const ids: number[] = [];
  for (let e = head.next; e !== null && e.isCall; e = e.next) ids.push(e.id);
  return ids;
}

function counterexample<S, I, O>(
  partition: number,
  ops: Operation<I, O>[],
  r: { longest: number[]; candidates: number[] },
  model: Model<S, I, O>,
): Counterexample<I, O> {
  const describe = (op: Operation<I, O>): string => {
    const what = model.describe ? model.describe(op.input, op.return === Number.POSITIVE_INFINITY ? undefined : op.output) : JSON.stringify({ input: op.input, output: op.output });
    return `client ${String(op.clientId)} [${op.call}, ${op.return}] ${what}`;
  };
  const longestLinearization = r.longest.map((id) => ops[id] as Operation<I, O>);
  const candidates = r.candidates.map((id) => ops[id] as Operation<I, O>);
  let state = model.init();
  for (const op of longestLinearization) state = model.step(state, op.input, op.return === Number.POSITIVE_INFINITY ? undefined : op.output)[1];
  const stateText = model.describeState ? model.describeState(state) : JSON.stringify(state);
  const lines = [
    `not linearizable (part ${partition}, ${ops.length} ops): linearized ${longestLinearization.length} ops, then stuck in state ${stateText}`,
    ...longestLinearization.map((op, i) => `  ${i + 1}. ${describe(op)}`),
    'no order of the remaining operations fits; the candidates at that point were:',
    ...candidates.map((op) => `  - ${describe(op)}`),
  ];
  return { partition, history: ops, longestLinearization, candidates, message: lines.join('\n') };
}
