import { describe, expect, it } from 'vitest';
import { RaftError } from './errors.js';
import { RaftLog } from './log.js';
import { MemoryStorage } from './storage.js';
import { type Entry, EntryType } from './types.js';

const ent = (term: number, index: number, s = ''): Entry => ({ term, index, type: EntryType.Normal, data: new TextEncoder().encode(s) });

function logWith(stored: Entry[], unstable: Entry[] = []): RaftLog {
  const st = new MemoryStorage();
  st.append(stored);
  const log = new RaftLog(st, 1 << 20);
  log.append(unstable);
  return log;
}

describe('RaftLog', () => {
  it('appends only after a matching previous entry (log matching)', () => {
    const log = logWith([ent(1, 1), ent(1, 2), ent(2, 3)]);
    expect(log.maybeAppend(3, 1, 0, [ent(2, 4)])).toBeUndefined();
    expect(log.maybeAppend(3, 2, 0, [ent(2, 4)])).toBe(4);
    expect(log.lastIndex()).toBe(4);
  });

  it('replaces a conflicting suffix and keeps matching entries', () => {
    const log = logWith([ent(1, 1), ent(1, 2), ent(1, 3)]);
    expect(log.maybeAppend(1, 1, 0, [ent(1, 2), ent(3, 3), ent(3, 4)])).toBe(4);
    expect(log.term(3)).toBe(3);
    expect(log.unstableEntries().map((e) => e.index)).toEqual([3, 4]);
  });

  it('never truncates a committed entry', () => {
    const log = logWith([ent(1, 1), ent(1, 2)]);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 2, [ent(2, 2)])).toThrow(RaftError);
  });

  it('commits only an entry of the current term by counting (§5.4.2)', () => {
    const log = logWith([ent(1, 1), ent(1, 2)], [ent(2, 3)]);
    expect(log.maybeCommit(2, 2)).toBe(false);
    expect(log.committed).toBe(0);
    expect(log.maybeCommit(3, 2)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('never moves the commit index backwards', () => {
    const log = logWith([ent(1, 1), ent(1, 2)]);
    log.commitTo(2);
    log.commitTo(1);
    expect(log.committed).toBe(2);
  });

  it('finds the last index of a term no greater than the given one', () => {
    const log = logWith([ent(1, 1), ent(1, 2), ent(4, 3), ent(4, 4), ent(5, 5)]);
    expect(log.findConflictByTerm(5, 4)).toBe(4);
    expect(log.findConflictByTerm(5, 2)).toBe(2);
    expect(log.findConflictByTerm(5, 0)).toBe(0);
  });

  it('slices across storage and unstable entries under a byte limit', () => {
    const log = logWith([ent(1, 1, 'aaaa'), ent(1, 2, 'bbbb')], [ent(1, 3, 'cccc')]);
    expect(log.slice(1, 4, Number.MAX_SAFE_INTEGER).map((e) => e.index)).toEqual([1, 2, 3]);
    expect(log.slice(1, 4, 30).map((e) => e.index)).toEqual([1]);
    expect(log.slice(2, 4, 1).map((e) => e.index)).toEqual([2]);
  });

  it('reports compacted entries', () => {
    const st = new MemoryStorage();
    st.append([ent(1, 1), ent(1, 2), ent(1, 3)]);
    st.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array(0));
    st.compact(2);
    const log = new RaftLog(st, 1 << 20);
    expect(log.firstIndex()).toBe(3);
    expect(log.term(2)).toBe(1);
    expect(log.term(1)).toBeUndefined();
    expect(() => log.slice(1, 3, 100)).toThrow(RaftError);
  });
});
