// Run in a child process by src/flush-drivers.test.ts: maintenance flushes a partition (held at
// its SSTable's creation) while appends queue the same partition for the background flusher.
// Two flush drivers once made the flusher restart on a queue whose only entry was busy, spinning
// in microtasks and starving the event loop for good, so no in-process timeout could report it.
// Prints "ok" and exits 0 when every append is acknowledged and read back.
import { MemFileSystem, seededRandom, StorageEngine, type FileSystem } from '../src/index.js';
import { batchOf, ManualClock, memEngineOptions, valuesOf } from './helpers.js';

const fs = new MemFileSystem({ random: seededRandom(7) });
let armed = false;
let held = false;
let release!: () => void;
const gate = new Promise<void>((resolve) => (release = resolve));
const openAppend = fs.openAppend.bind(fs);
(fs as { openAppend: FileSystem['openAppend'] }).openAppend = async (path, options) => {
  if (armed && path.endsWith('.sst.tmp')) {
    held = true;
    await gate;
  }
  return openAppend(path, options);
};
const clock = new ManualClock();
const engine = await StorageEngine.open(memEngineOptions(fs, clock, { memtableAgeMsMax: 1_000, memtableFlushBytes: 4_096 }));
const log = await engine.createPartition({ topic: 't', partition: 0 });
const expected: string[] = [];
const append = async (tag: string, count: number): Promise<void> => {
  await log.append(await batchOf(tag, count));
  for (let i = 0; i < count; i++) expected.push(`${tag}#${i}`);
};

await append('old', 3);
clock.ms += 2_000;
armed = true;
const maintenance = engine.maintain();
for (let i = 0; i < 1_000 && !held; i++) await new Promise((resolve) => setImmediate(resolve));
if (!held) throw new Error('maintenance never started the age-based flush');
// Past memtableFlushBytes: each append queues the partition being flushed.
for (let i = 0; i < 40; i++) await append(`new-${i}`, 10);
// The event loop still turns (a timer fires) while the maintenance flush is held.
await new Promise((resolve) => setTimeout(resolve, 20));
release();
await maintenance;
await engine.flushAll();
const got = valuesOf((await log.read(0, 1 << 24)).batches);
await engine.close();
if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`read back ${got.length} records, expected ${expected.length}`);
process.stdout.write('ok\n');
