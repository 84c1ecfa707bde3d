import { mkdtemp, rm, readdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSimpleBatch, StorageEngine } from '../src/index.js';
const value = Buffer.alloc(64 * 1024 - 100, 5);
const batch = encodeSimpleBatch([{ value }]);
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const e = await StorageEngine.open({ dir, maintenanceIntervalMs: 0, flush: 'interval' });
const ps = await Promise.all(Array.from({ length: 16 }, (_, i) => e.createPartition({ topic: 't', partition: i })));
await Promise.all(ps.map(async (p) => { for (let i = 0; i < 128; i++) await p.append(Buffer.from(batch)); }));
await e.flushAll();
await e.close();
const ssts = (await readdir(join(dir, 'sst'))).map((f) => join(dir, 'sst', f));
console.log('tables', ssts.length);
for (let rep = 0; rep < 3; rep++) {
  const buf = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  let t = performance.now();
  for (const f of ssts) { const fh = await open(f, 'r'); let pos = 0; for (;;) { const { bytesRead } = await fh.read(buf, 0, buf.length, pos); if (!bytesRead) break; pos += bytesRead; } bytes += pos; await fh.close(); }
  console.log('raw GB/s', bytes / 1e9 / ((performance.now() - t) / 1000));
  for (const verifyReads of [true, false]) {
    const r = await StorageEngine.open({ dir, maintenanceIntervalMs: 0, verifyReads });
    bytes = 0;
    t = performance.now();
    for (const tp of r.listPartitions()) {
      const q = r.partition(tp);
      let off = 0;
      while (off < q.logEndOffset) { const res = await q.read(off, 1 << 20); bytes += res.bytes; off += res.batches.length; }
    }
    console.log('verify', verifyReads, 'GB/s', bytes / 1e9 / ((performance.now() - t) / 1000));
    await r.close();
  }
}
await rm(dir, { recursive: true });
