import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Entry, EntryType, LevelStorage } from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'raft-level-'));
  dirs.push(d);
  return d;
}

const ent = (term: number, index: number): Entry => ({ term, index, type: EntryType.Normal, data: new TextEncoder().encode(`${term}/${index}`) });
const range = (term: number, lo: number, hi: number): Entry[] => Array.from({ length: hi - lo + 1 }, (_, i) => ent(term, lo + i));
const terms = (s: LevelStorage): string =>
  s.cache
    .entries(s.cache.firstIndex(), s.cache.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
    .map((e) => `${e.term}/${e.index}`)
    .join(' ');

describe('LevelStorage', () => {
  it('bootstraps the initial membership as committed conf entries and reloads it', async () => {
    const dir = tempDir();
    const a = await LevelStorage.open(dir, { voters: [1, 2, 3], learners: [4] });
    expect(a.cache.lastIndex()).toBe(4);
    expect(a.cache.initialState().hardState).toEqual({ term: 1, vote: 0, commit: 4 });
    await a.close();
    const b = await LevelStorage.open(dir, { voters: [9], learners: [] });
    expect(b.cache.lastIndex()).toBe(4);
    await b.close();
  });

  it('reloads exactly the log after a conflicting suffix was replaced', async () => {
    const dir = tempDir();
    const a = await LevelStorage.open(dir, { voters: [], learners: [] });
    await a.persist({ term: 2, vote: 1, commit: 0 }, range(1, 1, 5), undefined, true);
    await a.persist(undefined, range(1, 6, 9), undefined, true);
    await a.persist({ term: 3, vote: 2, commit: 2 }, range(3, 4, 6), undefined, true);
    const before = terms(a);
    expect(before).toBe('1/1 1/2 1/3 3/4 3/5 3/6');
    await a.close();
    const b = await LevelStorage.open(dir, { voters: [], learners: [] });
    expect(terms(b)).toBe(before);
    expect(b.cache.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 2 });
    await b.close();
  });

  it('reloads a compacted log from its snapshot and the chunks after it', async () => {
    const dir = tempDir();
    const a = await LevelStorage.open(dir, { voters: [], learners: [] });
    await a.persist({ term: 1, vote: 0, commit: 12 }, range(1, 1, 6), undefined, true);
    await a.persist(undefined, range(1, 7, 12), undefined, true);
    await a.compact(8, { voters: [1], learners: [] }, new Uint8Array([42]));
    await a.close();
    const b = await LevelStorage.open(dir, { voters: [], learners: [] });
    expect(b.cache.firstIndex()).toBe(9);
    expect(terms(b)).toBe('1/9 1/10 1/11 1/12');
    expect(b.cache.snapshot().metadata).toEqual({ index: 8, term: 1, confState: { voters: [1], learners: [] } });
    expect([...b.cache.snapshot().data]).toEqual([42]);
    await b.close();
  });

  it('writes a commit-only move with the next batch, a compaction or the clean close, not on its own', async () => {
    const dir = tempDir();
    const a = await LevelStorage.open(dir, { voters: [], learners: [] });
    await a.persist({ term: 2, vote: 1, commit: 0 }, range(2, 1, 6), undefined, true);
    const writes = a.syncedWrites + a.unsyncedWrites;
    await a.persist({ term: 2, vote: 1, commit: 3 }, [], undefined, false);
    expect(a.syncedWrites + a.unsyncedWrites).toBe(writes);
    expect(a.cache.initialState().hardState.commit).toBe(3);
    // Not on disk yet: a copy of the database taken now (a crash) still says commit 0.
    const crashed = tempDir();
    cpSync(dir, crashed, { recursive: true });
    // It rides along with the next batch, whose Ready carries no hard state of its own.
    await a.persist(undefined, range(2, 7, 8), undefined, true);
    const afterBatch = tempDir();
    cpSync(dir, afterBatch, { recursive: true });
    await a.persist({ term: 2, vote: 1, commit: 8 }, [], undefined, false);
    await a.compact(7, { voters: [1], learners: [] }, new Uint8Array([1]));
    const afterCompact = tempDir();
    cpSync(dir, afterCompact, { recursive: true });
    await a.persist({ term: 2, vote: 1, commit: 8 }, [], undefined, false);
    await a.close();
    const commitIn = async (d: string): Promise<number> => {
      const s = await LevelStorage.open(d, { voters: [], learners: [] });
      const commit = s.cache.initialState().hardState.commit;
      await s.close();
      return commit;
    };
    expect(await commitIn(crashed)).toBe(0);
    expect(await commitIn(afterBatch)).toBe(3);
    expect(await commitIn(afterCompact)).toBe(8);
    expect(await commitIn(dir)).toBe(8);
  });

  it('replaces the whole log when a snapshot is installed', async () => {
    const dir = tempDir();
    const a = await LevelStorage.open(dir, { voters: [1], learners: [] });
    await a.persist({ term: 5, vote: 0, commit: 20 }, [], { metadata: { index: 20, term: 5, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array([1]) }, true);
    await a.persist(undefined, range(5, 21, 22), undefined, true);
    await a.close();
    const b = await LevelStorage.open(dir, { voters: [], learners: [] });
    expect(b.cache.firstIndex()).toBe(21);
    expect(terms(b)).toBe('5/21 5/22');
    await b.close();
  });
});
