import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cluster } from '../test/helpers.js';
import { MetadataError, brokerLoad, placeReplicas, placeReplicasFor, type BrokerLoad, type PlacementBroker } from './index.js';

function counts(assignment: number[][], brokerIds: readonly number[], base: ReadonlyMap<number, BrokerLoad> = new Map()): { replicas: number[]; leaders: number[] } {
  const replicas = new Map(brokerIds.map((id) => [id, base.get(id)?.replicas ?? 0]));
  const leaders = new Map(brokerIds.map((id) => [id, base.get(id)?.leaders ?? 0]));
  for (const list of assignment) {
    for (const id of list) replicas.set(id, (replicas.get(id) ?? 0) + 1);
    const first = list[0];
    if (first !== undefined) leaders.set(first, (leaders.get(first) ?? 0) + 1);
  }
  return { replicas: [...replicas.values()], leaders: [...leaders.values()] };
}

const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);

const brokersArb = fc.integer({ min: 1, max: 12 }).map((n) => Array.from({ length: n }, (_, i): PlacementBroker => ({ brokerId: i * 3 + 1, rack: null })));

describe('placeReplicas', () => {
  it('gives every partition rf distinct brokers and spreads replicas and leaders within one', () => {
    fc.assert(
      fc.property(brokersArb, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 }), (brokers, partitions, rfWanted) => {
        const rf = Math.min(rfWanted, brokers.length);
        const assignment = placeReplicas(brokers, partitions, rf);
        expect(assignment).toHaveLength(partitions);
        for (const list of assignment) {
          expect(list).toHaveLength(rf);
          expect(new Set(list).size).toBe(rf);
        }
        const c = counts(assignment, brokers.map((b) => b.brokerId));
        expect(spread(c.replicas)).toBeLessThanOrEqual(1);
        expect(spread(c.leaders)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a balanced cluster balanced when it already holds replicas', () => {
    fc.assert(
      fc.property(brokersArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.nat(20), fc.nat(), (brokers, partitions, rfWanted, baseLoad, extraSeed) => {
        const rf = Math.min(rfWanted, brokers.length);
        // Existing load within one of each other, as a previous balanced placement leaves it.
        const existing = new Map(brokers.map((b, i) => [b.brokerId, { replicas: baseLoad + ((extraSeed >> i) & 1), leaders: 0 }]));
        const assignment = placeReplicas(brokers, partitions, rf, existing);
        expect(spread(counts(assignment, brokers.map((b) => b.brokerId), existing).replicas)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });

  it('puts each partition on distinct racks when there are enough, and stays balanced with equal racks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), (rackCount, perRack, partitions, rfWanted) => {
        const brokers = Array.from({ length: rackCount * perRack }, (_, i): PlacementBroker => ({ brokerId: i + 1, rack: `rack-${i % rackCount}` }));
        const rf = Math.min(rfWanted, brokers.length);
        const rackOf = new Map(brokers.map((b) => [b.brokerId, b.rack]));
        const assignment = placeReplicas(brokers, partitions, rf);
        for (const list of assignment) {
          const racks = list.map((id) => rackOf.get(id));
          expect(new Set(racks).size).toBe(Math.min(rf, rackCount));
        }
        const c = counts(assignment, brokers.map((b) => b.brokerId));
        expect(spread(c.replicas)).toBeLessThanOrEqual(1);
        // Rack spread and replica balance come first; leaders stay close (see placement.ts).
        expect(spread(c.leaders)).toBeLessThanOrEqual(2);
      }),
      { numRuns: 300 },
    );
  });

  it('places on distinct racks even when racks are uneven', () => {
    const brokers: PlacementBroker[] = [
      { brokerId: 1, rack: 'a' },
      { brokerId: 2, rack: 'a' },
      { brokerId: 3, rack: 'a' },
      { brokerId: 4, rack: 'b' },
    ];
    for (const list of placeReplicas(brokers, 8, 2)) expect(list.filter((id) => id === 4)).toHaveLength(1);
  });

  it('is deterministic and skips fenced brokers', () => {
    const brokers: PlacementBroker[] = [
      { brokerId: 3, rack: null },
      { brokerId: 1, rack: null },
      { brokerId: 2, rack: null, fenced: true },
    ];
    const a = placeReplicas(brokers, 6, 2);
    expect(placeReplicas([...brokers].reverse(), 6, 2)).toEqual(a);
    expect(a.flat()).not.toContain(2);
  });

  it('ignores racks unless every eligible broker has one', () => {
    const brokers: PlacementBroker[] = [
      { brokerId: 1, rack: 'a' },
      { brokerId: 2, rack: 'a' },
      { brokerId: 3, rack: null },
    ];
    const c = counts(placeReplicas(brokers, 9, 2), [1, 2, 3]);
    expect(c.replicas).toEqual([6, 6, 6]);
  });

  it('rejects impossible requests with typed errors', () => {
    const brokers: PlacementBroker[] = [{ brokerId: 1, rack: null }];
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return 'OK';
      } catch (err) {
        return err instanceof MetadataError ? err.code : 'OTHER';
      }
    };
    expect(code(() => placeReplicas(brokers, 1, 2))).toBe('INVALID_REPLICATION_FACTOR');
    expect(code(() => placeReplicas(brokers, 1, 0))).toBe('INVALID_REPLICATION_FACTOR');
    expect(code(() => placeReplicas(brokers, 0, 1))).toBe('INVALID_PARTITIONS');
    expect(code(() => placeReplicas([{ brokerId: 1, rack: null, fenced: true }], 1, 1))).toBe('INVALID_REPLICATION_FACTOR');
  });

  it('balances a new topic against the image and its output is accepted by CreateTopic', () => {
    const log = cluster(4);
    log.createTopic('a', placeReplicasFor(log.state, 3, 2));
    log.createTopic('b', placeReplicasFor(log.state, 5, 2));
    const load = brokerLoad(log.state);
    const replicas = [1, 2, 3, 4].map((id) => load.get(id)?.replicas ?? 0);
    expect(spread(replicas)).toBeLessThanOrEqual(1);
    expect(replicas.reduce((x, y) => x + y, 0)).toBe(16);
  });
});
