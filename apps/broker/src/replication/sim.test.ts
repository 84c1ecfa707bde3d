import { forEachSeed } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimReport } from './sim-harness.js';

// SEED=<n> replays one seed exactly; STREAMBUS_LONG=1 runs many thousands.
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
    const acked = reports.reduce((n, r) => n + r.acked, 0);
    const crashes = reports.reduce((n, r) => n + r.crashes, 0);
    // The faults must actually have happened and writes must have been acknowledged through them.
    expect(acked).toBeGreaterThan(0);
    if (reports.length >= 20) expect(crashes).toBeGreaterThan(0);
  }, 600_000);
});
