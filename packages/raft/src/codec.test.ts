import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEntries,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeEntries,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from './codec.js';
import { RaftError } from './errors.js';
import { type Entry, type Message, type Snapshot, EntryType, MessageType } from './types.js';

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 64 });
const entry: fc.Arbitrary<Entry> = fc.record({
  term: u64,
  index: u64,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
  data: bytes,
});
const snapshot: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: u64,
    term: u64,
    confState: fc.record({ voters: fc.array(u32, { maxLength: 5 }), learners: fc.array(u32, { maxLength: 5 }) }),
  }),
  data: bytes,
});
const message: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...(Object.values(MessageType).filter((v) => typeof v === 'number') as MessageType[])),
  from: u32,
  to: u32,
  term: u64,
  index: u64,
  logTerm: u64,
  commit: u64,
  reject: fc.boolean(),
  rejectHint: u64,
  context: u64,
  entries: fc.array(entry, { maxLength: 5 }),
  snapshot: fc.option(snapshot, { nil: undefined }),
});

function expectCodecError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RaftError);
    expect((e as RaftError).code).toBe('CODEC');
    return;
  }
  throw new Error('expected a CODEC error');
}

describe('message codec', () => {
  it('round-trips every message', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
    );
  });

  it('round-trips entries, hard states and snapshots', () => {
    fc.assert(
      fc.property(entry, snapshot, u64, u32, u64, (e, s, term, vote, commit) => {
        expect(decodeEntry(encodeEntry(e))).toEqual(e);
        expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
        expect(decodeHardState(encodeHardState({ term, vote, commit }))).toEqual({ term, vote, commit });
      }),
    );
  });

  it('round-trips entry runs and rejects their truncations', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), fc.nat(), (es, cut) => {
        const b = encodeEntries(es);
        expect(decodeEntries(b)).toEqual(es);
        expectCodecError(() => decodeEntries(b.subarray(0, cut % b.byteLength)));
      }),
    );
  });

  it('rejects every truncation with a CODEC error', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const b = encodeMessage(m);
        const n = cut % b.byteLength;
        expectCodecError(() => decodeMessage(b.subarray(0, n)));
      }),
    );
  });

  it('returns a message or a CODEC error for random bytes, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeMessage(b);
        } catch (e) {
          expect((e as RaftError).code).toBe('CODEC');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a huge claimed entry count without allocating for it', () => {
    const m = encodeMessage({ type: MessageType.App, from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0, context: 0, entries: [], snapshot: undefined });
    const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
    view.setUint32(m.byteLength - 4, 0xffffffff);
    expectCodecError(() => decodeMessage(m));
  });

  it('refuses to encode numbers outside the safe integer range', () => {
    const bad = { type: MessageType.Heartbeat, from: 1, to: 2, term: 2 ** 53, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0, context: 0, entries: [], snapshot: undefined };
    expectCodecError(() => encodeMessage(bad));
    expectCodecError(() => encodeMessage({ ...bad, term: -1 }));
    expectCodecError(() => encodeMessage({ ...bad, term: 1, from: 2 ** 32 }));
  });

  it('rejects u64 fields beyond 2^53-1 on decode', () => {
    const b = encodeMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0, context: 0, entries: [], snapshot: undefined });
    b[11] = 0xff; // high byte of term
    expectCodecError(() => decodeMessage(b));
  });
});
