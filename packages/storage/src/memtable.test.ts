import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { type BatchInfo } from './batch.js';
import { Memtable, type MemBatch } from './memtable.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function entry(baseOffset: number, bytes: number): MemBatch {
  const info = { baseOffset, lastOffsetDelta: 0 } as BatchInfo;
  return { bytes: Buffer.alloc(bytes, baseOffset), info, baseOffset, nextOffset: baseOffset + 1, wal: { seq: 1, offset: baseOffset } };
}

describe('Memtable', () => {
  it('tracks bytes and serves reads by offset across adds, drops and truncation', () => {
    const m = new Memtable();
    for (let o = 0; o < 10; o++) m.add(entry(o, 100), 1_000 + o);
    expect(m.size).toBe(10);
    expect(m.bytes).toBe(1_000);
    expect(m.oldestAtMs).toBe(1_000);
    m.dropPrefix(4, 2_000);
    expect([m.size, m.bytes, m.firstOffset, m.oldestAtMs]).toEqual([6, 600, 4, 2_000]);
    expect(m.read(6, 250).map((e) => e.baseOffset)).toEqual([6, 7]);
    expect(m.read(0, 1).map((e) => e.baseOffset)).toEqual([4]);
    m.truncateTo(8);
    expect([m.size, m.bytes, m.last?.baseOffset]).toEqual([4, 400, 7]);
    expect(m.snapshot().map((e) => e.baseOffset)).toEqual([4, 5, 6, 7]);
    m.clear();
    expect([m.size, m.bytes, m.first]).toEqual([0, 0, undefined]);
  });

  it('keeps no reference to a dropped batch, so its buffer can be collected', async () => {
    const m = new Memtable();
    const refs: WeakRef<Buffer>[] = [];
    for (let o = 0; o < 1_000; o++) {
      const e = entry(o, 64);
      refs.push(new WeakRef(e.bytes));
      m.add(e, 0);
    }
    m.dropPrefix(999, 0);
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.slice(0, 999).filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(refs[999]?.deref()).toBeDefined();
  });
});
