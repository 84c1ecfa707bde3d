import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { render, renderFields, renderTable } from './format.js';
import { palette, useColor, type Io } from './io.js';

describe('renderTable', () => {
  it('pads columns to the widest cell and prints dashes for missing values', () => {
    const text = renderTable(['id', 'address', 'rack'], [
      [1, '127.0.0.1:9092', null],
      [10, 'h:1', 'r1'],
    ]);
    expect(text).toBe('ID  ADDRESS         RACK\n1   127.0.0.1:9092  -\n10  h:1             r1\n');
  });

  it('starts every column at the same position in every row', () => {
    const cell = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell), { minLength: 1, maxLength: 8 }), (rows) => {
        const out = renderTable(['a', 'b', 'c'], rows).trimEnd().split('\n');
        expect(out).toHaveLength(rows.length + 1);
        const starts = out.map((line, i) => {
          const row = i === 0 ? ['A', 'B', 'C'] : rows[i - 1]!;
          const second = line.indexOf(row[1]!, row[0]!.length);
          return second;
        });
        expect(new Set(starts).size).toBe(1);
      }),
    );
  });

  it('joins lists with commas and aligns key: value fields', () => {
    expect(renderTable(['isr'], [[[1, 2, 3]]])).toBe('ISR\n1,2,3\n');
    expect(renderFields([['a', 1], ['long key', 'x']])).toBe('a:        1\nlong key: x\n');
  });
});

describe('render', () => {
  const data = { name: 'orders', partitions: [{ partition: 0, isr: [1, 2] }], leader: null };

  it('json and yaml carry the whole document; table calls the human form', () => {
    expect(JSON.parse(render('json', data, () => 'unused'))).toEqual(data);
    expect(parseYaml(render('yaml', data, () => 'unused'))).toEqual(data);
    expect(render('table', data, () => 'human\n')).toBe('human\n');
  });
});

describe('color', () => {
  const io = (env: Record<string, string | undefined>): Io => ({ env }) as unknown as Io;

  it('colors only a terminal, and never with NO_COLOR or TERM=dumb', () => {
    expect(useColor(io({}), true)).toBe(true);
    expect(useColor(io({}), false)).toBe(false);
    expect(useColor(io({ NO_COLOR: '1' }), true)).toBe(false);
    expect(useColor(io({ NO_COLOR: '' }), true)).toBe(true);
    expect(useColor(io({ TERM: 'dumb' }), true)).toBe(false);
    expect(palette(false).red('x')).toBe('x');
    expect(palette(true).red('x')).toBe('\u001b[31mx\u001b[39m');
  });
});
