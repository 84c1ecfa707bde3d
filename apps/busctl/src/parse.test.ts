import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BusctlError } from './errors.js';
import { parseAcks, parseLine, parsePairs, parseStart, toJsonRecord, unescapeSeparator } from './parse.js';

describe('parseStart', () => {
  it('reads the named positions, offsets and timestamps', () => {
    expect(parseStart('earliest')).toEqual({ kind: 'earliest' });
    expect(parseStart('latest')).toEqual({ kind: 'latest' });
    expect(parseStart('42')).toEqual({ kind: 'offset', offset: 42 });
    expect(parseStart('@1700000000000')).toEqual({ kind: 'timestamp', timestamp: 1_700_000_000_000 });
    expect(parseStart('@2024-01-02T03:04:05Z')).toEqual({ kind: 'timestamp', timestamp: Date.UTC(2024, 0, 2, 3, 4, 5) });
  });

  it('rejects anything else as a usage error', () => {
    for (const bad of ['', 'yesterday', '-1', '1.5', '@', '@not-a-date', '99999999999999999999']) {
      expect(() => parseStart(bad), bad).toThrow(BusctlError);
      try {
        parseStart(bad);
      } catch (err) {
        expect((err as BusctlError).code).toBe('USAGE');
      }
    }
  });

  it('round-trips every safe offset and every ISO time', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        expect(parseStart(String(n))).toEqual({ kind: 'offset', offset: n });
      }),
    );
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(Date.UTC(2200, 0, 1)), noInvalidDate: true }), (d) => {
        expect(parseStart(`@${d.toISOString()}`)).toEqual({ kind: 'timestamp', timestamp: d.getTime() });
      }),
    );
  });
});

describe('produce input', () => {
  it('splits a line at the first separator; without one the line is the value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 3 }), fc.string(), fc.string(), (sep, key, value) => {
        fc.pre(!key.includes(sep));
        expect(parseLine(`${key}${sep}${value}`, sep, 1)).toEqual({ key, value });
        expect(parseLine(`${key}${sep}${value}`, undefined, 1)).toEqual({ key: null, value: `${key}${sep}${value}` });
      }),
    );
  });

  it('names the line that lacks the separator', () => {
    expect(() => parseLine('no separator', ':', 7)).toThrow(/line 7 has no key separator ':'/);
  });

  it('parses key=value pairs, keeping later = in the value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((k) => !k.includes('=')), fc.string(), (key, value) => {
        expect(parsePairs([`${key}=${value}`], '--header')).toEqual([{ key, value }]);
      }),
    );
    expect(() => parsePairs(['novalue'], '--header')).toThrow(/--header expects key=value/);
    expect(() => parsePairs(['=v'], '--config')).toThrow(BusctlError);
  });

  it('decodes shell escapes in separators and acks names', () => {
    expect(unescapeSeparator('\\t')).toBe('\t');
    expect(unescapeSeparator('a\\nb\\\\')).toBe('a\nb\\');
    expect(unescapeSeparator('::')).toBe('::');
    expect([parseAcks('0'), parseAcks('1'), parseAcks('all'), parseAcks('-1')]).toEqual([0, 1, 'all', 'all']);
    expect(() => parseAcks('2')).toThrow(/--acks must be 0, 1 or all/);
  });
});

describe('toJsonRecord', () => {
  const record = { topic: 't', partition: 1, offset: 5, timestamp: 1000, key: Buffer.from('k'), value: Buffer.from([0xff, 0x00]), headers: [{ key: 'h', value: Buffer.from('v') }, { key: 'n', value: null }] };

  it('prints utf8 text by default and base64 with --binary, nulls as null', () => {
    expect(toJsonRecord(record, false)).toEqual({ topic: 't', partition: 1, offset: 5, timestamp: 1000, key: 'k', value: Buffer.from([0xff, 0x00]).toString('utf8'), headers: { h: 'v', n: null }, encoding: 'utf8' });
    const bin = toJsonRecord({ ...record, key: null }, true);
    expect(bin.key).toBeNull();
    expect(Buffer.from(bin.value!, 'base64')).toEqual(Buffer.from([0xff, 0x00]));
    expect(bin.headers.h).toBe(Buffer.from('v').toString('base64'));
  });

  it('survives a JSON round trip for any bytes in binary mode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const line = JSON.stringify(toJsonRecord({ ...record, value: Buffer.from(bytes) }, true));
        const back = JSON.parse(line) as { value: string };
        expect(new Uint8Array(Buffer.from(back.value, 'base64'))).toEqual(bytes);
      }),
    );
  });
});
