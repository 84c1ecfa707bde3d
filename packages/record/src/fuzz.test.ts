import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchView, RecordError, decodeRecords, encodeBatch, splitBatches } from './index.js';
import { COMPRESSIONS, recordInputArb } from './testing/arbitraries.js';
import { resealCrc } from './testing/util.js';

// Long mode multiplies the runs; the default keeps the file well under the suite budget.
const RUNS = process.env.STREAMBUS_LONG === '1' ? 2000 : 150;
const SEED = process.env.SEED === undefined ? undefined : Number(process.env.SEED);
const params = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

/** Everything a reader might do to untrusted bytes; only RecordError may escape. */
async function readEverything(bytes: Buffer): Promise<void> {
  try {
    for (const view of splitBatches(bytes)) {
      void view.baseOffset;
      void view.compression;
      view.verifyCrc();
      // With the CRC check off the record parser sees the mutated bytes, which is the point.
      await decodeRecords(view, { verifyCrc: false, decompressedBytesMax: 1024 * 1024 });
      view.validate();
      await decodeRecords(view);
    }
  } catch (err) {
    if (!(err instanceof RecordError)) throw err;
    expect(err.retriable).toBe(false);
    expect(typeof err.code).toBe('string');
  }
}

const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutate(input: Buffer, mutations: Mutation[], skipHeader: boolean): Buffer {
  let out = Buffer.from(input);
  const from = skipHeader ? Math.min(61, out.length) : 0;
  for (const m of mutations) {
    if (out.length === 0) break;
    const span = Math.max(1, out.length - from);
    const at = from + (m.at % span);
    if (m.kind === 'flip' && at < out.length) out[at] = out[at]! ^ (1 << m.bit);
    else if (m.kind === 'set' && at < out.length) out[at] = m.value;
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
  }
  return out;
}

describe('untrusted bytes only ever raise RecordError, and never hang', () => {
  it('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        await readEverything(Buffer.from(bytes));
      }),
      params,
    );
  });

  it('random bytes behind a plausible v2 header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: -2, max: 50 }), async (tail, codec, count) => {
        const bytes = Buffer.concat([Buffer.alloc(61), Buffer.from(tail)]);
        bytes.writeInt32BE(bytes.length - 12, 8);
        bytes.writeInt8(2, 16);
        bytes.writeInt16BE(codec, 21);
        bytes.writeInt32BE(Math.max(0, count - 1), 23);
        bytes.writeInt32BE(count, 57);
        await readEverything(resealCrc(bytes));
      }),
      params,
    );
  });

  for (const compression of COMPRESSIONS) {
    it(`mutated ${compression} batches (CRC resealed so the parser sees the damage)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(recordInputArb, { minLength: 1, maxLength: 8 }),
          fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          async (records, mutations, skipHeader) => {
            const batch = await encodeBatch(records, { compression });
            const mutated = mutate(batch, mutations, skipHeader);
            if (mutated.length >= 61) resealCrc(mutated);
            await readEverything(mutated);
            await readEverything(Buffer.concat([batch, mutated]));
          },
        ),
        { ...params, numRuns: Math.ceil(RUNS / 2) },
      );
    });
  }

  it('header fields set to extremes', async () => {
    const batch = await encodeBatch([{ value: Buffer.from('x'), timestamp: 5 }]);
    const extremes = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff_ffff, -0x8000_0000];
    for (const at of [8, 12, 23, 57]) {
      for (const value of extremes) {
        const copy = Buffer.from(batch);
        copy.writeInt32BE(value | 0, at);
        await readEverything(at >= 21 ? resealCrc(copy) : copy);
      }
    }
    for (const at of [0, 27, 35, 43]) {
      for (const value of [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, -1n]) {
        const copy = Buffer.from(batch);
        copy.writeBigInt64BE(value, at);
        await readEverything(at >= 21 ? resealCrc(copy) : copy);
      }
    }
    expect(BatchView.parse(batch).recordCount).toBe(1);
  });
});
