import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordError } from './errors.js';
import { VarintReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

const reader = (hex: string): VarintReader => {
  const buf = Buffer.from(hex, 'hex');
  return new VarintReader(buf, 0, buf.length);
};

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof RecordError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('zig-zag varint (int32)', () => {
  it('encodes the values Kafka documents', () => {
    // zig-zag: 0→0, -1→1, 1→2, -2→3, 63→126, -64→127, 64→128 (two bytes)
    const cases: [number, string][] = [
      [0, '00'],
      [-1, '01'],
      [1, '02'],
      [-2, '03'],
      [63, '7e'],
      [-64, '7f'],
      [64, '8001'],
      [2147483647, 'feffffff0f'],
      [-2147483648, 'ffffffff0f'],
    ];
    for (const [value, hex] of cases) {
      const buf = Buffer.alloc(5);
      const end = writeVarint(buf, 0, value);
      expect(buf.subarray(0, end).toString('hex')).toBe(hex);
      expect(sizeOfVarint(value)).toBe(end);
      expect(reader(hex).readVarint()).toBe(value);
    }
  });

  it('round-trips every int32', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }), (value) => {
        const buf = Buffer.alloc(5);
        const end = writeVarint(buf, 0, value);
        expect(end).toBe(sizeOfVarint(value));
        const r = new VarintReader(buf, 0, end);
        expect(r.readVarint()).toBe(value);
        expect(r.position).toBe(end);
      }),
    );
  });

  it('rejects more than 5 bytes and values past 32 bits', () => {
    expect(codeOf(() => reader('ffffffffff01').readVarint())).toBe('VARINT_OVERFLOW');
    expect(codeOf(() => reader('ffffffff1f').readVarint())).toBe('VARINT_OVERFLOW');
  });

  it('reports a varint cut by the end of its range as TRUNCATED', () => {
    expect(codeOf(() => reader('ff').readVarint())).toBe('TRUNCATED');
    expect(codeOf(() => reader('').readVarint())).toBe('TRUNCATED');
  });
});

describe('zig-zag varlong (int64 within the safe-integer range)', () => {
  it('encodes the safe-integer extremes', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [-1, '01'],
      [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
      [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'],
      [1_700_000_000_000, '80a0abfef962'],
    ];
    for (const [value, hex] of cases) {
      const buf = Buffer.alloc(10);
      const end = writeVarlong(buf, 0, value);
      expect(buf.subarray(0, end).toString('hex')).toBe(hex);
      expect(sizeOfVarlong(value)).toBe(end);
      expect(reader(hex).readVarlong()).toBe(value);
    }
  });

  it('round-trips every safe integer', () => {
    fc.assert(
      // `0 - v` rather than `-v`: an int64 has no negative zero, so -0 is not an input.
      fc.property(fc.maxSafeInteger().chain((v) => fc.constantFrom(v, 0 - v, Math.floor(v / 1024))), (value) => {
        const buf = Buffer.alloc(10);
        const end = writeVarlong(buf, 0, value);
        expect(end).toBe(sizeOfVarlong(value));
        const r = new VarintReader(buf, 0, end);
        expect(r.readVarlong()).toBe(value);
        expect(r.position).toBe(end);
      }),
    );
  });

  it('rejects int64 values outside the safe range and more than 10 bytes', () => {
    // 2^53, zig-zag encoded
    expect(codeOf(() => reader('8080808080808020').readVarlong())).toBe('UNSAFE_INTEGER');
    // Long.MAX_VALUE
    expect(codeOf(() => reader('feffffffffffffffff01').readVarlong())).toBe('UNSAFE_INTEGER');
    expect(codeOf(() => reader('ffffffffffffffffff8101').readVarlong())).toBe('VARINT_OVERFLOW');
    expect(codeOf(() => reader('8080').readVarlong())).toBe('TRUNCATED');
  });
});
