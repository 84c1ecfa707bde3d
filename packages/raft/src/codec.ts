import { RaftError } from './errors.js';
import { type ConfState, type Entry, type HardState, type Message, type Snapshot, EntryType, MessageType } from './types.js';

/*
 * Compact big-endian binary codec for Raft messages, entries and hard state, so the broker
 * can carry messages as bytes (gRPC) and the driver can store entries in level. Layout in
 * docs: packages/raft/README.md ("Wire format"). Every number is a safe integer; u64 fields
 * above 2^53-1 are rejected with RaftError CODEC.
 */

const MESSAGE_VERSION = 1;
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const MAX_MESSAGE_TYPE: number = MessageType.TimeoutNow;
const ENTRY_TYPES: readonly number[] = [EntryType.Normal, EntryType.ConfChange];

class Writer {
  private buf: Uint8Array;
  private dv: DataView;
  pos = 0;
  constructor(initial: number) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.dv.setUint8(this.pos, v);
    this.pos += 1;
  }
  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RaftError('CODEC', `u32 out of range: ${v}`);
    this.ensure(4);
    this.dv.setUint32(this.pos, v);
    this.pos += 4;
  }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RaftError('CODEC', `u64 field not a non-negative safe integer: ${v}`);
    this.ensure(8);
    this.dv.setUint32(this.pos, Math.floor(v / 0x100000000));
    this.dv.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  finish(): Uint8Array {
    // Sizes are estimated up front; copy only when the estimate was far too generous.
    return this.pos * 2 >= this.buf.byteLength ? this.buf.subarray(0, this.pos) : this.buf.slice(0, this.pos);
  }
}

class Reader {
  private readonly dv: DataView;
  pos = 0;
  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw new RaftError('CODEC', `truncated input: need ${n} bytes at ${this.pos} of ${this.buf.byteLength}`);
  }
  remaining(): number {
    return this.buf.byteLength - this.pos;
  }
  u8(): number {
    this.need(1);
    return this.dv.getUint8(this.pos++);
  }
  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const hi = this.dv.getUint32(this.pos);
    const lo = this.dv.getUint32(this.pos + 4);
    this.pos += 8;
    if (hi > 0x1fffff) throw new RaftError('CODEC', 'u64 field beyond the safe integer range');
    return hi * 0x100000000 + lo;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A count of items each at least `minItemBytes` long must fit in what is left. */
  count(minItemBytes: number): number {
    const n = this.u32();
    if (n * minItemBytes > this.remaining()) throw new RaftError('CODEC', `count ${n} exceeds the remaining input`);
    return n;
  }
}

function writeEntry(w: Writer, e: Entry): void {
  w.u64(e.term);
  w.u64(e.index);
  w.u8(e.type);
  w.bytes(e.data);
}

function readEntry(r: Reader): Entry {
  const term = r.u64();
  const index = r.u64();
  const type = r.u8();
  if (!ENTRY_TYPES.includes(type)) throw new RaftError('CODEC', `unknown entry type ${type}`);
  const data = r.bytes();
  return { term, index, type, data };
}

function writeConfState(w: Writer, cs: ConfState): void {
  w.u32(cs.voters.length);
  for (const v of cs.voters) w.u32(v);
  w.u32(cs.learners.length);
  for (const l of cs.learners) w.u32(l);
}

function readConfState(r: Reader): ConfState {
  const voters: number[] = [];
  const nv = r.count(4);
  for (let i = 0; i < nv; i++) voters.push(r.u32());
  const learners: number[] = [];
  const nl = r.count(4);
  for (let i = 0; i < nl; i++) learners.push(r.u32());
  return { voters, learners };
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.u64(s.metadata.index);
  w.u64(s.metadata.term);
  writeConfState(w, s.metadata.confState);
  w.bytes(s.data);
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.u64();
  const term = r.u64();
  const confState = readConfState(r);
  const data = r.bytes();
  return { metadata: { index, term, confState }, data };
}

function decodeWhole<T>(what: string, bytes: Uint8Array, read: (r: Reader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new RaftError('CODEC', `${what}: input is not bytes`);
  const r = new Reader(bytes);
  const v = read(r);
  if (r.remaining() !== 0) throw new RaftError('CODEC', `${what}: ${r.remaining()} trailing bytes`);
  return v;
}

export function encodeMessage(m: Message): Uint8Array {
  let size = 64;
  for (const e of m.entries) size += e.data.byteLength + 21;
  if (m.snapshot !== undefined) size += m.snapshot.data.byteLength + 64;
  const w = new Writer(size);
  w.u8(MESSAGE_VERSION);
  w.u8(m.type);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot !== undefined ? FLAG_SNAPSHOT : 0));
  w.u32(m.from);
  w.u32(m.to);
  w.u64(m.term);
  w.u64(m.index);
  w.u64(m.logTerm);
  w.u64(m.commit);
  w.u64(m.rejectHint);
  w.u64(m.context);
  w.u32(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.snapshot !== undefined) writeSnapshot(w, m.snapshot);
  return w.finish();
}

export function decodeMessage(bytes: Uint8Array): Message {
  return decodeWhole('message', bytes, (r) => {
    const version = r.u8();
    if (version !== MESSAGE_VERSION) throw new RaftError('CODEC', `unknown message version ${version}`);
    const type = r.u8();
    if (type < 1 || type > MAX_MESSAGE_TYPE) throw new RaftError('CODEC', `unknown message type ${type}`);
    const flags = r.u8();
    if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) throw new RaftError('CODEC', `unknown flags ${flags}`);
    const from = r.u32();
    const to = r.u32();
    const term = r.u64();
    const index = r.u64();
    const logTerm = r.u64();
    const commit = r.u64();
    const rejectHint = r.u64();
    const context = r.u64();
    const n = r.count(21);
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) entries.push(readEntry(r));
    const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshot(r) : undefined;
    return { type, from, to, term, index, logTerm, commit, reject: (flags & FLAG_REJECT) !== 0, rejectHint, context, entries, snapshot };
  });
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer(e.data.byteLength + 21);
  writeEntry(w, e);
  return w.finish();
}

export function decodeEntry(bytes: Uint8Array): Entry {
  return decodeWhole('entry', bytes, readEntry);
}

/** A run of entries as one value: u32 count, then entries. Used for the driver's log chunks. */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  let size = 4;
  for (const e of entries) size += e.data.byteLength + 21;
  const w = new Writer(size);
  w.u32(entries.length);
  for (const e of entries) writeEntry(w, e);
  return w.finish();
}

export function decodeEntries(bytes: Uint8Array): Entry[] {
  return decodeWhole('entries', bytes, (r) => {
    const n = r.count(21);
    const out: Entry[] = [];
    for (let i = 0; i < n; i++) out.push(readEntry(r));
    return out;
  });
}

export function encodeHardState(hs: HardState): Uint8Array {
  const w = new Writer(24);
  w.u64(hs.term);
  w.u32(hs.vote);
  w.u64(hs.commit);
  return w.finish();
}

export function decodeHardState(bytes: Uint8Array): HardState {
  return decodeWhole('hard state', bytes, (r) => ({ term: r.u64(), vote: r.u32(), commit: r.u64() }));
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer(s.data.byteLength + 64);
  writeSnapshot(w, s);
  return w.finish();
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  return decodeWhole('snapshot', bytes, readSnapshot);
}
