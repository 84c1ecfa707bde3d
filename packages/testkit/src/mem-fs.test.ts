import { describe, expect, it } from 'vitest';
import { MemFileSystem, Prng, simFileSystem } from './index.js';

async function crashWithTornTail(seed: number): Promise<Buffer> {
  const fs = simFileSystem(new Prng(seed));
  await fs.mkdir('/d');
  const f = await fs.openAppend('/d/wal');
  await f.append([Buffer.from('synced|')]);
  await f.datasync();
  await fs.syncDir('/d');
  await f.append([Buffer.from('unsynced-tail-bytes')]);
  fs.crash({ tornWrites: true });
  return fs.readFile('/d/wal');
}

describe('simFileSystem (MemFileSystem from @streambus/storage, driven by a Prng)', () => {
  it('is the storage MemFileSystem and loses unsynced bytes on crash', async () => {
    const fs = simFileSystem(new Prng(1));
    expect(fs).toBeInstanceOf(MemFileSystem);
    await fs.mkdir('/d');
    const f = await fs.openAppend('/d/log');
    await f.append([Buffer.from('abc')]);
    await f.datasync();
    await fs.syncDir('/d');
    await f.append([Buffer.from('def')]);
    fs.crash();
    expect((await fs.readFile('/d/log')).toString()).toBe('abc');
  });

  it('the same seed tears the tail the same way; the synced prefix always survives', async () => {
    const tails = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const a = await crashWithTornTail(seed);
      expect((await crashWithTornTail(seed)).equals(a)).toBe(true);
      expect(a.subarray(0, 7).toString()).toBe('synced|');
      tails.add(a.toString());
    }
    expect(tails.size).toBeGreaterThan(1);
  });
});
