import fc from 'fast-check';
import { encodeBatch } from '@streambus/record';
import { describe, expect, it } from 'vitest';
import { crc32c } from './bytes.js';
import { FRAME_HEADER_BYTES, FrameType, frame, parseLog, walFrame, walSegmentEnd } from './log-format.js';

function log(payloads: readonly Buffer[]): Buffer {
  return Buffer.concat(payloads.flatMap((p) => frame(FrameType.manifestEdit, [p])));
}

const payloads = fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)), { minLength: 1, maxLength: 20 });

describe('framed log', () => {
  it('reads back every frame of an intact log', () => {
    fc.assert(
      fc.property(payloads, (ps) => {
        const parsed = parseLog(log(ps), 1 << 20);
        expect(parsed.tail.kind).toBe('clean');
        expect(parsed.frames.map((f) => Buffer.from(f.payload))).toEqual(ps);
      }),
    );
  });

  it('treats any cut as a torn tail and keeps every complete frame before it', () => {
    fc.assert(
      fc.property(payloads, fc.nat(), (ps, cutSeed) => {
        const full = log(ps);
        const cut = cutSeed % full.length;
        const parsed = parseLog(full.subarray(0, cut), 1 << 20);
        const complete = ps.filter((_, i) => ps.slice(0, i + 1).reduce((n, p) => n + p.length + 9, 0) <= cut);
        expect(parsed.frames.length).toBe(complete.length);
        expect(parsed.tail.kind === 'corrupt').toBe(false);
      }),
    );
  });

  it('reports a damaged frame followed by valid frames as corruption, never skipping it', () => {
    fc.assert(
      fc.property(payloads, fc.nat(), fc.integer({ min: 0, max: 7 }), (ps, at, bit) => {
        fc.pre(ps.length >= 2);
        const full = log(ps);
        const lastStart = full.length - (ps.at(-1)?.length ?? 0) - 9;
        const pos = at % lastStart;
        full[pos] = (full[pos] ?? 0) ^ (1 << bit);
        const parsed = parseLog(full, 1 << 20);
        expect(parsed.tail.kind).toBe('corrupt');
        expect(parsed.frames.length).toBeLessThan(ps.length);
      }),
    );
  });

  it('checks every byte of a WAL append frame once: headers by the frame CRC, bodies by batch CRCs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 2, maxLength: 8 }), fc.nat(), fc.integer({ min: 0, max: 7 }), async (values, at, bit) => {
        const frames = await Promise.all(
          values.map(async (v, i) => Buffer.concat(walFrame(7, i, [await batch(v)]))),
        );
        const full = Buffer.concat(frames);
        expect(parseLog(full, 1 << 20, 7).frames).toHaveLength(values.length);
        const pos = at % (full.length - (frames.at(-1)?.length ?? 0));
        full[pos] = (full[pos] ?? 0) ^ (1 << bit);
        expect(parseLog(full, 1 << 20, 7).tail.kind).toBe('corrupt');
      }),
    );
  });
});

const batch = (v: string): Promise<Buffer> => encodeBatch([{ value: Buffer.from(v) }], { now: () => 0 });

/** An untagged WAL append frame, as written before ADR 0010 (payload: partition id + batches). */
function untaggedFrame(partitionId: number, b: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(4 + b.length, 4);
  header.writeUInt8(FrameType.walAppend, 8);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(partitionId, 0);
  const crc = crc32c(b.subarray(0, 21), crc32c(head, crc32c(header.subarray(4))));
  header.writeUInt32LE(crc, 0);
  return Buffer.concat([header, head, b]);
}

describe('WAL segments: preallocated and recycled (ADR 0010)', () => {
  const segment = async (seq: number, values: readonly string[]): Promise<Buffer[]> =>
    Promise.all(values.map(async (v, i) => Buffer.concat(walFrame(seq, i, [await batch(v)]))));

  it('ends a sealed segment at its end frame, whatever the preallocated file holds after it', async () => {
    const frames = await segment(3, ['a', 'bb', 'ccc']);
    const seal = Buffer.concat(walSegmentEnd(3));
    const stale = Buffer.concat(await segment(1, ['left', 'over', 'from', 'before']));
    for (const rest of [Buffer.alloc(100_000), stale]) {
      const parsed = parseLog(Buffer.concat([...frames, seal, rest]), 1 << 20, 3);
      expect(parsed.frames.map((f) => f.type)).toEqual([FrameType.walSegmentAppend, FrameType.walSegmentAppend, FrameType.walSegmentAppend, FrameType.walSegmentEnd]);
      expect(parsed.tail).toEqual({ kind: 'clean' });
    }
    // Another segment's end frame does not seal this one.
    expect(parseLog(Buffer.concat([...frames, Buffer.concat(walSegmentEnd(2)), Buffer.alloc(100)]), 1 << 20, 3).tail.kind).toBe('torn');
  });

  it('never reads what an earlier use of a recycled file left: an unsealed segment ends in a torn tail there', async () => {
    const stale = Buffer.concat(await segment(4, ['old-1', 'old-2', 'old-3', 'old-4', 'old-5', 'old-6']));
    const fresh = Buffer.concat(await segment(9, ['new-one', 'new-two']));
    const file = Buffer.from(stale);
    fresh.copy(file, 0);
    const parsed = parseLog(file, 1 << 20, 9);
    expect(parsed.frames).toHaveLength(2);
    expect(parsed.tail).toEqual({ kind: 'torn', validEnd: fresh.length });
    // Read as the old segment, nothing matches either: the seq is in every frame.
    expect(parseLog(file, 1 << 20, 4).frames).toHaveLength(0);
  });

  it('ends an unsealed preallocated file where the zeros start', async () => {
    const frames = await segment(3, ['a', 'bb']);
    const written = Buffer.concat(frames);
    expect(parseLog(Buffer.concat([written, Buffer.alloc(1 << 20)]), 1 << 20, 3).tail).toEqual({ kind: 'torn', validEnd: written.length });
  });

  it('cuts a torn write into a preallocated or recycled file as a torn tail', async () => {
    const frames = await segment(5, ['a', 'bb', 'ccc']);
    const written = Buffer.concat(frames);
    const keep = written.length - 5; // the last frame only partly reached the disk
    for (const rest of [Buffer.alloc(50_000), Buffer.concat(await segment(2, ['x', 'y', 'z', 'w', 'v', 'u', 't']))]) {
      const file = Buffer.concat([written.subarray(0, keep), rest]);
      const parsed = parseLog(file, 1 << 20, 5);
      expect(parsed.frames).toHaveLength(2);
      expect(parsed.tail).toEqual({ kind: 'torn', validEnd: (frames[0]?.length ?? 0) + (frames[1]?.length ?? 0) });
    }
  });

  it('reports damage followed by frames of the same segment as corruption, zeros or stale frames after', async () => {
    const frames = await segment(6, ['a', 'bb', 'ccc', 'dddd']);
    const file = Buffer.concat([...frames, Buffer.alloc(10_000)]);
    const at = (frames[0]?.length ?? 0) + 12; // inside the second frame
    file[at] = (file[at] ?? 0) ^ 0x10;
    const parsed = parseLog(file, 1 << 20, 6);
    expect(parsed.tail.kind).toBe('corrupt');
    expect(parsed.frames).toHaveLength(1);
  });

  it('still reads an untagged file written before segments were tagged, and only its own frames', async () => {
    const file = Buffer.concat([untaggedFrame(1, await batch('a')), untaggedFrame(2, await batch('b'))]);
    expect(parseLog(file, 1 << 20, 8).frames.map((f) => f.type)).toEqual([FrameType.walAppend, FrameType.walAppend]);
    // Recycled: tagged frames over untagged ones; what is left of the old frames is not read.
    const recycled = Buffer.concat([file, untaggedFrame(3, await batch('c'))]);
    const fresh = Buffer.concat([...walFrame(12, 1, [await batch('zz')]), ...walSegmentEnd(12)]);
    fresh.copy(recycled, 0);
    const parsed = parseLog(recycled, 1 << 20, 12);
    expect(parsed.frames.map((f) => f.type)).toEqual([FrameType.walSegmentAppend, FrameType.walSegmentEnd]);
    expect(parsed.tail.kind).toBe('clean');
  });
});
