import { forEachSeed } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimReport } from './sim-harness.js';

const LONG = process.env.STREAMBUS_LONG === '1';

// 200 seeds by default (~10-20 s); STREAMBUS_LONG=1 runs 10,000. A failure names its seed:
//   SEED=<n> npx vitest run --project @streambus/broker src/replication
// replays exactly that run.
describe('replication under crashes, partitions, message loss and leader moves (simulation)', () => {
  it('keeps every acknowledged acks=all write on every ISR member and converges to identical logs', async () => {
    const reports: SimReport[] = [];
    await forEachSeed(
      200,
      async (seed) => {
        reports.push(await runSimulation({ seed }));
      },
      { longFactor: 50 },
    );
    const total = (f: (r: SimReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
    // The run is only evidence if the faults and the protocol paths under test happened.
    expect(total((r) => r.acked)).toBeGreaterThan(0);
    if (reports.length >= 50) {
      expect(total((r) => r.crashes)).toBeGreaterThan(0);
      expect(total((r) => r.leaderMoves)).toBeGreaterThan(0);
      expect(total((r) => r.divergenceTruncations)).toBeGreaterThan(0);
      expect(total((r) => r.isrChanges)).toBeGreaterThan(0);
      expect(total((r) => r.deletes)).toBeGreaterThan(0);
      expect(total((r) => r.prefixChecks)).toBeGreaterThan(0);
    }
    if (reports.length >= 200) expect(total((r) => r.outOfRangeResets)).toBeGreaterThan(0);
  }, LONG ? 3_600_000 : 180_000);

  it('replays a seed exactly: the same faults, events and acknowledgements', async () => {
    const a = await runSimulation({ seed: 4242 });
    const b = await runSimulation({ seed: 4242 });
    expect(b).toEqual(a);
    expect(a.events).toBeGreaterThan(0);
  });
});
