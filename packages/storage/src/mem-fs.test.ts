import { describe, expect, it } from 'vitest';
import { MemFileSystem, seededRandom } from './mem-fs.js';

describe('MemFileSystem crash model', () => {
  it('keeps synced bytes and drops unsynced ones on crash', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/a');
    await fs.syncDir('/d');
    await f.append([Buffer.from('hello')]);
    await f.datasync();
    await f.append([Buffer.from(' world')]);
    fs.crash();
    expect((await fs.readFile('/d/a')).toString()).toBe('hello');
  });

  it('preallocates durable zeros, and a crash undoes (or tears) an unsynced overwrite of them', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const fs = new MemFileSystem({ random: seededRandom(seed) });
      await fs.mkdir('/d');
      await fs.preallocate('/d/s', 64);
      await fs.syncDir('/d');
      const f = await fs.openOverwrite('/d/s');
      expect(f.size).toBe(0);
      await f.append([Buffer.from('synced;')]);
      await f.datasync();
      await f.append([Buffer.from('unsynced')]);
      expect(f.size).toBe(15);
      fs.crash({ tornWrites: seed > 10 });
      const after = await fs.readFile('/d/s');
      expect(after.length).toBe(64);
      expect(after.subarray(0, 7).toString()).toBe('synced;');
      // Each byte of the unsynced run is either what was written or the old zero, as a prefix.
      const tail = after.subarray(7, 15).toString('latin1');
      const kept = tail.indexOf('\0') === -1 ? 8 : tail.indexOf('\0');
      expect(tail.slice(0, kept)).toBe('unsynced'.slice(0, kept));
      expect(after.subarray(7 + kept).every((b) => b === 0)).toBe(true);
      if (seed <= 10) expect(kept).toBe(0);
    }
  });

  it('forgets a created file whose directory was never synced', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/a');
    await f.append([Buffer.from('x')]);
    await f.datasync();
    fs.crash();
    expect(await fs.exists('/d/a')).toBe(false);
  });

  it('reverts an un-fsynced rename and keeps a synced one', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/tmp');
    await f.append([Buffer.from('v1')]);
    await f.datasync();
    await fs.syncDir('/d');
    await fs.rename('/d/tmp', '/d/final');
    fs.crash();
    expect(await fs.readdir('/d')).toEqual(['tmp']);
    await fs.rename('/d/tmp', '/d/final');
    await fs.syncDir('/d');
    fs.crash();
    expect(await fs.readdir('/d')).toEqual(['final']);
  });

  it('invalidates handles opened before a crash', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/a');
    fs.crash();
    await expect(f.append([Buffer.from('x')])).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('keeps a torn prefix of the unsynced tail when asked, deterministically per seed', async () => {
    const lengths: number[] = [];
    for (let run = 0; run < 2; run++) {
      const fs = new MemFileSystem({ random: seededRandom(42) });
      await fs.mkdir('/d');
      const f = await fs.openAppend('/d/a');
      await fs.syncDir('/d');
      await f.append([Buffer.alloc(10, 1)]);
      await f.datasync();
      await f.append([Buffer.alloc(1000, 2)]);
      fs.crash({ tornWrites: true });
      const bytes = await fs.readFile('/d/a');
      expect(bytes.length).toBeGreaterThanOrEqual(10);
      expect(bytes.subarray(0, 10).every((b) => b === 1)).toBe(true);
      lengths.push(bytes.length);
    }
    expect(lengths[0]).toBe(lengths[1]);
  });

  it('injects ENOSPC, EIO and fsync failures by rule', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/a');
    const remove = fs.injectFault({ op: 'write', code: 'ENOSPC', times: 1 });
    await expect(f.append([Buffer.from('x')])).rejects.toMatchObject({ code: 'ENOSPC' });
    await f.append([Buffer.from('y')]);
    remove();
    fs.injectFault({ op: 'datasync', code: 'EIO', pathIncludes: '/d/a' });
    await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
    fs.clearFaults();
    fs.capacityBytes = 3;
    await expect(f.append([Buffer.from('zzzz')])).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('flips a bit in durable content', async () => {
    const fs = new MemFileSystem();
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/a');
    await fs.syncDir('/d');
    await f.append([Buffer.from([0, 0, 0])]);
    await f.datasync();
    fs.flipBit('/d/a', 1, 3);
    fs.crash();
    expect([...(await fs.readFile('/d/a'))]).toEqual([0, 8, 0]);
  });
});
