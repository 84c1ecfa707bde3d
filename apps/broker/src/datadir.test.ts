import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataDir } from './datadir.js';
import { DataDirError } from './errors.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'streambus-datadir-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof DataDirError) return error.code;
    throw error;
  }
  throw new Error('expected a DataDirError');
}

function writeLock(dir: string, owner: { pid: number; startTicks: string | null; hostname?: string }): void {
  writeFileSync(join(dir, '.lock'), JSON.stringify({ hostname: hostname(), acquiredAt: '2020-01-01T00:00:00.000Z', ...owner }));
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('spawn failed');
  return child.pid;
}

const base = { brokerId: 1, clusterId: 'c1' };

describe('data dir lock', () => {
  it('creates the dir, locks it, and unlocks on release', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const handle = openDataDir({ ...base, dataDir: dir });
    const lock = JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    handle.release();
    handle.release();
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    openDataDir({ ...base, dataDir: dir }).release();
  });

  it('refuses a second claim while the first is held', () => {
    const dir = tempDir();
    const first = openDataDir({ ...base, dataDir: dir });
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_LOCKED');
    first.release();
  });

  it('refuses a lock held by another live process', () => {
    const dir = tempDir();
    writeLock(dir, { pid: process.ppid, startTicks: null });
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_LOCKED');
  });

  it('refuses a lock from another host, which it cannot check', () => {
    const dir = tempDir();
    writeLock(dir, { pid: deadPid(), startTicks: null, hostname: `${hostname()}-other` });
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_LOCKED');
  });

  it('takes over the lock of a dead process (crash, SIGKILL)', () => {
    const dir = tempDir();
    writeLock(dir, { pid: deadPid(), startTicks: '12345' });
    openDataDir({ ...base, dataDir: dir }).release();
  });

  it('takes over a lock carrying its own pid (a previous incarnation, e.g. pid 1 in a container)', () => {
    const dir = tempDir();
    writeLock(dir, { pid: process.pid, startTicks: '1' });
    openDataDir({ ...base, dataDir: dir }).release();
  });

  it('takes over a lock whose pid was recycled by another process (Linux start-time check)', () => {
    const dir = tempDir();
    writeLock(dir, { pid: process.ppid, startTicks: 'not-the-start-time' });
    // Off Linux the start time is unknown, so a live pid must be assumed to hold the lock.
    if (process.platform === 'linux') openDataDir({ ...base, dataDir: dir }).release();
    else expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_LOCKED');
  });

  it('refuses an unreadable lock file rather than guessing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.lock'), '{not json');
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_LOCKED');
  });

  it('never deletes a lock another process took over', () => {
    const dir = tempDir();
    const handle = openDataDir({ ...base, dataDir: dir });
    writeLock(dir, { pid: process.ppid, startTicks: null });
    handle.release();
    expect(existsSync(join(dir, '.lock'))).toBe(true);
  });

  it('reports a data dir that cannot be created as DATA_DIR_IO', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    expect(codeOf(() => openDataDir({ ...base, dataDir: join(file, 'data') }))).toBe('DATA_DIR_IO');
  });
});

describe('data dir identity (meta.json)', () => {
  it('records the ids on first start and accepts them later', () => {
    const dir = tempDir();
    openDataDir({ ...base, dataDir: dir }).release();
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))).toEqual({ formatVersion: 1, clusterId: 'c1', brokerId: 1 });
    openDataDir({ ...base, dataDir: dir }).release();
  });

  it('refuses another broker id or cluster id, and releases the lock', () => {
    const dir = tempDir();
    openDataDir({ ...base, dataDir: dir }).release();
    expect(codeOf(() => openDataDir({ ...base, brokerId: 2, dataDir: dir }))).toBe('DATA_DIR_MISMATCH');
    expect(codeOf(() => openDataDir({ ...base, clusterId: 'c2', dataDir: dir }))).toBe('DATA_DIR_MISMATCH');
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('refuses a corrupt or foreign meta.json', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'meta.json'), 'garbage');
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_MISMATCH');
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ formatVersion: 99, clusterId: 'c1', brokerId: 1 }));
    expect(codeOf(() => openDataDir({ ...base, dataDir: dir }))).toBe('DATA_DIR_MISMATCH');
  });
});
