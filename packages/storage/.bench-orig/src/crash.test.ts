import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { StorageEngine } from './engine.js';
import { seededRandom } from './mem-fs.js';

/**
 * Real processes, real disk: a child appends under flush=always and is SIGKILLed at random
 * moments; after each kill the log is reopened and every acknowledged append must be present
 * and intact, with nothing out of order (offset o holds exactly the value written for o).
 */
const LONG = process.env.STREAMBUS_LONG === '1';
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? (LONG ? 200 : 12));
const seed = Number(process.env.SEED ?? 20261125);
const fixture = fileURLToPath(new URL('../test/fixtures/crash-writer.ts', import.meta.url));
const dirs: string[] = [];
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 5 });
});

function runChild(dir: string, killAfterMs: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@streambus/source', '--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const acked = new Map<number, number>();
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let hung = false;
    // A child that never gets ready (a hang in recovery) must fail the test, not stall it.
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready' && timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const m = /^ack (\d+) (\d+)$/.exec(line);
        if (m !== null) acked.set(Number(m[1]), Math.max(acked.get(Number(m[1])) ?? -1, Number(m[2])));
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      clearTimeout(guard);
      if (hung) reject(new Error(`child did not get ready within 30 s: ${stderr}`));
      else if (signal !== 'SIGKILL') reject(new Error(`child exited without being killed: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe('crash recovery with real processes', () => {
  it(`keeps every acknowledged append across ${ITERATIONS} SIGKILLs`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'streambus-crash-'));
    dirs.push(dir);
    const random = seededRandom(seed);
    const highestAcked = new Map<number, number>();
    let totalAcked = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const acked = await runChild(dir, Math.floor(50 + random() * 700));
      for (const [p, o] of acked) {
        highestAcked.set(p, Math.max(highestAcked.get(p) ?? -1, o));
        totalAcked++;
      }
      const engine = await StorageEngine.open({ dir, maintenanceIntervalMs: 0 });
      try {
        expect(engine.corruptTables).toEqual([]);
        for (const tp of engine.listPartitions()) {
          const log = engine.partition(tp);
          const must = highestAcked.get(tp.partition) ?? -1;
          expect(log.logEndOffset, `partition ${tp.partition} after kill ${i} (seed ${seed})`).toBeGreaterThan(must);
          let offset = log.logStartOffset;
          while (offset < log.logEndOffset) {
            const r = await log.read(offset, 1 << 20);
            expect(r.batches.length).toBeGreaterThan(0);
            for (const b of r.batches) {
              const text = b.toString('latin1');
              expect(text.includes(`p${tp.partition}-${offset};`), `offset ${offset} of partition ${tp.partition} (seed ${seed})`).toBe(true);
              offset++;
            }
          }
        }
      } finally {
        await engine.close();
      }
    }
    expect(totalAcked).toBeGreaterThan(0);
  }, 60_000 + ITERATIONS * 10_000);
});
