import fc from 'fast-check';
import { encodeBatch } from '@streambus/record';
import { describe, expect, it } from 'vitest';
import { FrameType, frame, parseLog, walFrame } from './log-format.js';

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
          values.map(async (v, i) => {
            const head = Buffer.alloc(4);
            head.writeUInt32LE(i, 0);
            return Buffer.concat(walFrame(head, [await encodeBatch([{ value: Buffer.from(v) }], { now: () => 0 })]));
          }),
        );
        const full = Buffer.concat(frames);
        expect(parseLog(full, 1 << 20).frames).toHaveLength(values.length);
        const pos = at % (full.length - (frames.at(-1)?.length ?? 0));
        full[pos] = (full[pos] ?? 0) ^ (1 << bit);
        expect(parseLog(full, 1 << 20).tail.kind).toBe('corrupt');
      }),
    );
  });
});
