import { forEachSeed } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import { RaftSimulation } from './sim-harness.js';

// Hundreds of seeded runs of crashes (losing unsynced state), partitions, message loss and
// membership changes, each followed by healing. A failure prints SEED=<n>; replay it with
// `SEED=<n> npx vitest run --project @streambus/raft`. STREAMBUS_LONG=1 runs many more seeds.
const SEEDS = 300;

describe('raft simulation', () => {
  it('keeps election safety, log matching, leader completeness, state machine safety and linearizability', () => {
    let runs = 0;
    let committed = 0;
    let appliedAhead = 0;
    forEachSeed(
      SEEDS,
      (seed) => {
        const r = new RaftSimulation({ seed }).run();
        runs++;
        committed += r.committed;
        appliedAhead += r.appliedAhead;
      },
      { longFactor: 20 },
    );
    expect(runs).toBeGreaterThan(0);
    expect(committed).toBeGreaterThan(runs);
    // Leaders applied entries their followers committed while their own write was in flight.
    expect(appliedAhead).toBeGreaterThan(0);
  }, 600_000);

  it('replays a seed exactly', () => {
    const a = new RaftSimulation({ seed: 7, chaosMs: 2000 }).run();
    const b = new RaftSimulation({ seed: 7, chaosMs: 2000 }).run();
    expect(b).toEqual(a);
  });
});
