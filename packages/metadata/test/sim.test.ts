// Simulation of the metadata state machine driven by a quorum-leader stand-in on the test
// kit's virtual clock: brokers register, heartbeat over a lossy network, crash and come back
// with new incarnations; the stand-in fences expired sessions, unfences brokers that ask,
// elects leaders for offline partitions and creates topics; partition leaders shrink and
// expand their ISR (sometimes with a stale partition epoch). Checked on every entry: the
// image's invariants and epochs that never go back. Checked at the end: a replica replaying
// the whole log, and one restored from a snapshot taken at a random entry, end with the
// same snapshot bytes; after the faults stop, every partition has a leader.
// SEED=<n> replays one run; STREAMBUS_LONG=1 runs fifty times more seeds.
import { forEachSeed, Simulator } from '@streambus/testkit';
import { describe, expect, it } from 'vitest';
import {
  apply,
  brokersWithExpiredSessions,
  checkInvariants,
  electionChange,
  emptyState,
  placeReplicasFor,
  restore,
  snapshot,
  unfencedBrokers,
  type MetadataCommand,
  type MetadataState,
  NO_LEADER,
} from '../src/index.js';

const BROKERS = 5;
const HEARTBEAT_MS = 500;
const SESSION_TIMEOUT_MS = 2_000;
const DUTY_MS = 250;
const FAULT_PHASE_MS = 30_000;
const HEAL_PHASE_MS = 8_000;

interface BrokerProc {
  readonly id: number;
  incarnation: number;
  brokerEpoch: number | undefined;
  downUntilMs: number;
}

function runSeed(seed: number): void {
  const sim = new Simulator({ seed });
  const rng = sim.prng;
  const log: { command: MetadataCommand; timestampMs: number }[] = [];
  let state: MetadataState = emptyState();
  const epochs = new Map<string, { leaderEpoch: number; partitionEpoch: number }>();
  let faults = true;

  const propose = (command: MetadataCommand): ReturnType<typeof apply> => {
    log.push({ command, timestampMs: sim.now });
    const result = apply(state, log.length, command, sim.now);
    checkInvariants(result.state);
    for (const topic of result.state.topics.values()) {
      for (const p of topic.partitions) {
        const key = `${topic.topicId}/${p.partition}`;
        const before = epochs.get(key);
        if (before !== undefined) {
          expect(p.leaderEpoch).toBeGreaterThanOrEqual(before.leaderEpoch);
          expect(p.partitionEpoch).toBeGreaterThanOrEqual(before.partitionEpoch);
        }
        epochs.set(key, { leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch });
      }
    }
    state = result.state;
    return result;
  };

  propose({ type: 'InitializeCluster', clusterId: `sim-${seed}` });
  const brokers: BrokerProc[] = Array.from({ length: BROKERS }, (_, i) => ({ id: i + 1, incarnation: 0, brokerEpoch: undefined, downUntilMs: 0 }));

  const register = (b: BrokerProc): void => {
    b.incarnation += 1;
    const r = propose({ type: 'RegisterBroker', brokerId: b.id, incarnationId: `b${b.id}-i${b.incarnation}`, host: '127.0.0.1', port: 9000 + b.id, rack: `r${b.id % 2}` });
    b.brokerEpoch = r.outcome.ok && r.outcome.result.type === 'RegisterBroker' ? r.outcome.result.brokerEpoch : undefined;
  };

  const heartbeat = (b: BrokerProc): void => {
    sim.schedule(HEARTBEAT_MS, () => heartbeat(b));
    if (sim.now < b.downUntilMs) return;
    if (faults && rng.chance(0.02)) {
      // Crash: silent for a while, then back as a new incarnation.
      b.downUntilMs = sim.now + rng.range(1_000, 6_000);
      b.brokerEpoch = undefined;
      return;
    }
    if (faults && rng.chance(0.15)) return; // heartbeat lost on the network
    if (b.brokerEpoch === undefined) return register(b);
    const r = propose({ type: 'BrokerHeartbeat', brokerId: b.id, brokerEpoch: b.brokerEpoch });
    if (!r.outcome.ok) {
      b.brokerEpoch = undefined; // stale epoch: register again
      return;
    }
    if (r.outcome.result.type === 'BrokerHeartbeat' && r.outcome.result.fenced) propose({ type: 'UnfenceBroker', brokerId: b.id, brokerEpoch: b.brokerEpoch });
  };

  const duties = (): void => {
    sim.schedule(DUTY_MS, duties);
    for (const b of brokersWithExpiredSessions(state, sim.now, SESSION_TIMEOUT_MS)) propose({ type: 'FenceBroker', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch });
    for (const topic of state.topics.values()) {
      for (const p of topic.partitions) {
        const change = electionChange(state, topic.topicId, p.partition, 'clean');
        if (change !== undefined) propose(change);
      }
    }
    if (!faults) return;
    const live = unfencedBrokers(state).length;
    if (state.topics.size < 6 && live >= 2 && rng.chance(0.1)) {
      const rf = rng.range(1, Math.min(3, live));
      propose({ type: 'CreateTopic', name: `t${state.topics.size}-${log.length}`, assignment: placeReplicasFor(state, rng.range(1, 4), rf), configs: {} });
    }
    // A partition leader changes its ISR (AlterPartition), now and then with a stale epoch.
    const topics = [...state.topics.values()];
    const topic = topics.length === 0 ? undefined : rng.pick(topics);
    const p = topic === undefined ? undefined : rng.pick([...topic.partitions]);
    const leader = p === undefined || p.leader === NO_LEADER ? undefined : state.brokers.get(p.leader);
    if (topic !== undefined && p !== undefined && leader !== undefined && rng.chance(0.3)) {
      const others = p.replicas.filter((id) => id !== p.leader);
      const isr = rng.chance(0.5) ? p.isr.filter((id) => id === p.leader || !rng.chance(0.5)) : [...new Set([...p.isr, ...others.filter((id) => state.brokers.get(id)?.fenced === false)])];
      const stale = rng.chance(0.2);
      const r = propose({
        type: 'PartitionChange',
        topicId: topic.topicId,
        partition: p.partition,
        partitionEpoch: stale ? p.partitionEpoch - 1 : p.partitionEpoch,
        byLeader: { brokerId: leader.brokerId, brokerEpoch: leader.brokerEpoch, leaderEpoch: p.leaderEpoch },
        isr,
      });
      if (stale) expect(r.outcome.ok).toBe(false);
    }
  };

  for (const b of brokers) sim.schedule(rng.range(0, HEARTBEAT_MS), () => heartbeat(b));
  sim.schedule(DUTY_MS, duties);
  sim.runFor(FAULT_PHASE_MS);
  faults = false;
  for (const b of brokers) b.downUntilMs = Math.min(b.downUntilMs, sim.now);
  sim.runFor(HEAL_PHASE_MS);

  // Liveness: every broker is back and unfenced, every partition has a leader.
  expect(unfencedBrokers(state).length).toBe(BROKERS);
  for (const topic of state.topics.values()) for (const p of topic.partitions) expect(p.leader).not.toBe(NO_LEADER);

  // Determinism: the whole log replayed, and a snapshot + the rest, give the same image.
  const replay = (from: MetadataState, start: number): MetadataState => {
    let s = from;
    for (let i = start; i < log.length; i++) {
      const e = log[i]!;
      s = apply(s, i + 1, e.command, e.timestampMs).state;
    }
    return s;
  };
  const expected = Buffer.from(snapshot(state));
  expect(Buffer.from(snapshot(replay(emptyState(), 0)))).toEqual(expected);
  const cut = rng.range(1, log.length - 1);
  let prefix = emptyState();
  for (let i = 0; i < cut; i++) prefix = apply(prefix, i + 1, log[i]!.command, log[i]!.timestampMs).state;
  expect(Buffer.from(snapshot(replay(restore(snapshot(prefix)), cut)))).toEqual(expected);
}

describe('metadata simulation (testkit)', () => {
  // Long mode runs fifty times the seeds; give it the time that takes.
  const timeout = process.env.STREAMBUS_LONG === '1' ? 900_000 : 60_000;
  it('keeps invariants through broker crashes, lost heartbeats, fencing and elections; replicas agree', { timeout }, () => {
    forEachSeed(40, (seed) => runSeed(seed));
  });
});
