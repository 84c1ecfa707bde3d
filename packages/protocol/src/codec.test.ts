import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FetchPartitionResponse, FetchResponse, ProduceRequest, ReplicaFetchResponse } from './gen/index.js';

const partitionData = fc.record({
  topic: fc.string({ maxLength: 40 }),
  partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  currentLeaderEpoch: fc.option(fc.integer({ min: 0, max: 2 ** 31 - 1 }), {
    nil: undefined,
  }),
  records: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
});

const produceRequest = fc.record({
  acks: fc.option(fc.constantFrom(0, 1, -1), { nil: undefined }),
  timeoutMs: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  partitions: fc.array(partitionData, { maxLength: 8 }),
});

describe('generated codecs', () => {
  it('ProduceRequest round-trips, including absent optional fields', () => {
    fc.assert(
      fc.property(produceRequest, (request) => {
        const decoded = ProduceRequest.decode(ProduceRequest.encode(request).finish());
        expect(decoded).toEqual(request);
      }),
    );
  });

  it('decodes bytes fields as Buffer views into the received frame (no copy)', () => {
    const records = Buffer.alloc(256 * 1024, 7);
    const frame = Buffer.from(
      ProduceRequest.encode({
        timeoutMs: 1000,
        partitions: [{ topic: 't', partition: 0, records }],
      }).finish(),
    );
    const decoded = ProduceRequest.decode(frame);
    const got = decoded.partitions[0]!.records;
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(got.equals(records)).toBe(true);
    expect(got.buffer).toBe(frame.buffer);
    expect(got.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
  });

  it('offsets are numbers and round-trip up to Number.MAX_SAFE_INTEGER', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }), (offset) => {
        const partition = FetchPartitionResponse.fromPartial({
          topic: 't',
          highWatermark: offset,
          logStartOffset: offset,
        });
        const back = FetchPartitionResponse.decode(FetchPartitionResponse.encode(partition).finish());
        expect(back.highWatermark).toBe(offset);
        expect(back.logStartOffset).toBe(offset);
      }),
    );
  });

  it('rejects an int64 outside the safe range instead of rounding it', () => {
    // field 5 (high_watermark), varint 2^53 + 1: 0x20000000000001
    const frame = Buffer.from([0x28, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(() => FetchPartitionResponse.decode(frame)).toThrow(/MAX_SAFE_INTEGER/);
  });

  it('random and truncated frames decode or throw an Error, never anything else', () => {
    const valid = Buffer.from(
      FetchResponse.encode({
        throttleTimeMs: 0,
        partitions: [
          FetchPartitionResponse.fromPartial({
            topic: 'orders',
            partition: 3,
            highWatermark: 99,
            records: Buffer.alloc(64, 1),
          }),
        ],
      }).finish(),
    );
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
    );
    fc.assert(
      fc.property(frames, (frame) => {
        for (const codec of [FetchResponse, ReplicaFetchResponse, ProduceRequest]) {
          try {
            codec.decode(frame);
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
          }
        }
      }),
    );
  });
});
