import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inflights, Progress, ProgressState } from './progress.js';

describe('Inflights', () => {
  it('is full at the message bound and frees acknowledged messages', () => {
    const f = new Inflights(3, 0);
    f.add(1, 10);
    f.add(2, 10);
    f.add(3, 10);
    expect(f.full()).toBe(true);
    f.freeLE(2);
    expect(f.count()).toBe(1);
    expect(f.full()).toBe(false);
  });

  it('is full at the byte bound', () => {
    const f = new Inflights(100, 25);
    f.add(1, 10);
    expect(f.full()).toBe(false);
    f.add(2, 20);
    expect(f.full()).toBe(true);
    f.freeFirst();
    expect(f.full()).toBe(false);
  });

  it('never holds more than its bound and frees exactly the acknowledged prefix', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5 })), { maxLength: 100 }), (ops) => {
        const f = new Inflights(8, 0);
        let next = 1;
        const model: number[] = [];
        for (const [isAdd, k] of ops) {
          if (isAdd && !f.full()) {
            f.add(next, 1);
            model.push(next);
            next += k;
          } else if (!isAdd) {
            const upTo = (model[0] ?? next) + k - 1;
            f.freeLE(upTo);
            while (model.length > 0 && model[0]! <= upTo) model.shift();
          }
          expect(f.count()).toBe(model.length);
          expect(f.count()).toBeLessThanOrEqual(8);
        }
      }),
    );
  });
});

describe('Progress', () => {
  it('probes one message at a time, then pipelines once the match is known', () => {
    const p = new Progress(10, 4, 0, false);
    expect(p.state).toBe(ProgressState.Probe);
    p.sentEntries(12, 2, 100);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(12)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(13);
    for (let i = 0; i < 4; i++) p.sentEntries(13 + i, 1, 10);
    expect(p.isPaused()).toBe(true);
    p.inflights.freeLE(14);
    expect(p.isPaused()).toBe(false);
  });

  it('ignores stale rejections and backs off to the hint', () => {
    const p = new Progress(11, 4, 0, false);
    expect(p.maybeDecrTo(5, 5)).toBe(false);
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(4);
    p.maybeUpdate(6);
    p.becomeReplicate();
    expect(p.maybeDecrTo(5, 5)).toBe(false);
  });

  it('leaves snapshot state for probing past the snapshot', () => {
    const p = new Progress(1, 4, 0, false);
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
  });
});
