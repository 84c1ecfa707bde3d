// Random command sequences against the state machine. Commands are built from the current
// image (so most of them hit real topics and epochs) with deliberate staleness mixed in.
// SEED=<n> replays one run exactly; STREAMBUS_LONG=1 runs many more sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TestLog } from '../test/helpers.js';
import {
  NO_LEADER,
  apply,
  emptyState,
  placeReplicasFor,
  replicationFactorOf,
  restore,
  snapshot,
  type MetadataCommand,
  type MetadataState,
  type TopicState,
} from './index.js';

const long = process.env.STREAMBUS_LONG === '1';
const seed = process.env.SEED === undefined ? undefined : Number(process.env.SEED);
const runs = (normal: number): fc.Parameters<unknown> => ({ numRuns: long ? normal * 20 : normal, ...(seed === undefined ? {} : { seed }) });

interface Step {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly flags: number;
  readonly dtMs: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.nat(15),
  a: fc.nat(1_000),
  b: fc.nat(1_000),
  c: fc.nat(1_000),
  flags: fc.nat(255),
  dtMs: fc.nat(2_500),
});

const brokerIds = [1, 2, 3, 4, 5];

function at<T>(list: readonly T[], i: number): T | undefined {
  return list.length === 0 ? undefined : list[i % list.length];
}

/** A sublist of `list` chosen by the bits of `mask`, always containing `must` when given. */
function subsetOf(list: readonly number[], mask: number, must?: number): number[] {
  return list.filter((id, i) => id === must || ((mask >> i) & 1) === 1);
}

function stale(epoch: number, flags: number): number {
  return flags % 7 === 0 ? Math.max(0, epoch - 1) : flags % 11 === 0 ? epoch + 1 : epoch;
}

function stamp(state: MetadataState, flags: number): { controllerEpoch?: number } {
  if (flags % 8 !== 0) return {};
  return { controllerEpoch: Math.max(1, stale(state.controllerEpoch, flags)) };
}

function toCommand(state: MetadataState, s: Step): MetadataCommand {
  const topics: TopicState[] = [...state.topics.values()];
  const topic = at(topics, s.a);
  const p = topic === undefined ? undefined : at(topic.partitions, s.b);
  const broker = at([...state.brokers.values()], s.a) ?? { brokerId: 1 + (s.a % 5), brokerEpoch: 1 };
  const brokerEpoch = stale(broker.brokerEpoch, s.flags);
  const topicId = topic?.topicId ?? `missing-${s.a % 3}`;
  const partition = p?.partition ?? s.b % 3;
  const partitionEpoch = stale(p?.partitionEpoch ?? 0, s.flags >> 1);
  switch (s.kind) {
    case 0:
      return {
        type: 'RegisterBroker',
        brokerId: 1 + (s.a % 5),
        incarnationId: `inc-${s.b % 4}`,
        host: `h${1 + (s.a % 5)}`,
        port: 9092,
        rack: s.flags % 3 === 0 ? null : `r${(s.a + (s.flags % 2)) % 2}`,
      };
    case 1:
      return { type: 'BrokerHeartbeat', brokerId: broker.brokerId, brokerEpoch };
    case 2:
      return { type: 'FenceBroker', brokerId: broker.brokerId, brokerEpoch, ...stamp(state, s.flags) };
    case 3:
      return { type: 'UnfenceBroker', brokerId: broker.brokerId, brokerEpoch, ...stamp(state, s.flags) };
    case 4:
      return s.flags % 4 === 0
        ? { type: 'UnregisterBroker', brokerId: broker.brokerId, brokerEpoch, ...stamp(state, s.flags) }
        : { type: 'UnfenceBroker', brokerId: broker.brokerId, brokerEpoch };
    case 5: {
      const partitions = 1 + (s.b % 3);
      const rf = 1 + (s.c % 3);
      let assignment: number[][];
      try {
        assignment = placeReplicasFor(state, partitions, rf);
      } catch {
        assignment = Array.from({ length: partitions }, (_, i) => subsetOf(brokerIds, s.c + i));
      }
      const configs: Record<string, string> = s.flags % 4 === 0 ? { 'min.insync.replicas': String(1 + (s.b % 3)) } : {};
      if (s.flags % 5 === 0) configs['unclean.leader.election.enable'] = 'true';
      return { type: 'CreateTopic', name: `t${s.a % 5}${s.flags % 9 === 0 ? '.x' : ''}`, assignment, configs, ...stamp(state, s.flags) };
    }
    case 6:
      return { type: 'DeleteTopic', topicId, ...stamp(state, s.flags) };
    case 7: {
      let assignment: number[][];
      try {
        assignment = placeReplicasFor(state, 1 + (s.b % 2), topic === undefined ? 1 : replicationFactorOf(topic));
      } catch {
        assignment = [subsetOf(brokerIds, s.c)];
      }
      return { type: 'CreatePartitions', topicId, assignment, ...stamp(state, s.flags) };
    }
    case 8: {
      const values = ['1', '2', '-1', 'compact', 'zstd', 'nonsense'];
      const keys = ['retention.ms', 'min.insync.replicas', 'cleanup.policy', 'compression.type', 'unclean.leader.election.enable'];
      const key = at(keys, s.b) ?? 'retention.ms';
      return { type: 'AlterConfigs', topicId, set: s.flags % 3 === 0 ? {} : { [key]: at(values, s.c) ?? '1' }, delete: s.flags % 3 === 0 ? [key] : [] };
    }
    case 9:
    case 10: {
      // The leader's AlterPartition: expand towards all replicas or shrink by a mask.
      const leader = p?.leader ?? 1;
      const replicas = p?.replicas ?? brokerIds;
      const isr = s.flags % 2 === 0 ? [...replicas] : subsetOf(replicas, s.c, leader);
      const leaderEpoch = stale(p?.leaderEpoch ?? 0, s.flags >> 2);
      const leaderBroker = state.brokers.get(leader);
      return { type: 'PartitionChange', topicId, partition, partitionEpoch, byLeader: { brokerId: leader, brokerEpoch: stale(leaderBroker?.brokerEpoch ?? 1, s.flags >> 3), leaderEpoch }, isr };
    }
    case 11: {
      // A controller decision: move the leader, take it offline, shrink, or an unclean election.
      const replicas = p?.replicas ?? brokerIds;
      const target = s.flags % 5 === 0 ? NO_LEADER : (at(replicas, s.c) ?? 1);
      const isr = s.flags % 3 === 0 && target !== NO_LEADER ? [target] : p?.isr;
      return { type: 'PartitionChange', topicId, partition, partitionEpoch, leader: target, ...(isr === undefined ? {} : { isr }), ...stamp(state, s.flags) };
    }
    case 12: {
      const size = Math.max(1, p?.replicas.length ?? 1);
      const rotated = [...brokerIds.slice(s.c % 5), ...brokerIds.slice(0, s.c % 5)];
      return { type: 'BeginReassignment', topicId, partition, partitionEpoch, targetReplicas: rotated.slice(0, size), ...stamp(state, s.flags) };
    }
    case 13:
      return s.flags % 2 === 0
        ? { type: 'CompleteReassignment', topicId, partition, partitionEpoch, ...stamp(state, s.flags) }
        : { type: 'CancelReassignment', topicId, partition, partitionEpoch, ...stamp(state, s.flags) };
    case 14:
      return { type: 'ControllerLease', controllerId: 100 + (s.a % 2), controllerEpoch: Math.max(1, state.controllerEpoch + (s.b % 3) - 1 + (s.flags % 2)), leaseDurationMs: (s.c % 3) * 1_500 };
    default:
      return { type: 'InitializeCluster', clusterId: s.a % 4 === 0 ? 'other' : 'prop' };
  }
}

/** A cluster of four live brokers on two racks, so that most generated commands can succeed. */
function startLog(): TestLog {
  const log = new TestLog();
  log.ok({ type: 'InitializeCluster', clusterId: 'prop' });
  for (const id of [1, 2, 3, 4]) {
    log.ok({ type: 'RegisterBroker', brokerId: id, incarnationId: 'inc-0', host: `h${id}`, port: 9092, rack: `r${id % 2}` });
    log.unfence(id);
  }
  return log;
}

/** Applies the steps, checking per-entry properties; returns the log it wrote. */
function runSteps(steps: readonly Step[]): TestLog {
  const log = startLog();
  for (const s of steps) {
    log.advance(s.dtMs);
    const before = log.state;
    const { state, outcome, delta } = log.run(toCommand(before, s));
    expect(state.controllerEpoch).toBeGreaterThanOrEqual(before.controllerEpoch);
    expect(state.clockMs).toBeGreaterThanOrEqual(before.clockMs);
    for (const [id, b] of before.brokers) {
      const after = state.brokers.get(id);
      if (after === undefined) expect(delta.brokersUnregistered.map((r) => r.brokerId)).toContain(id);
      else expect(after.brokerEpoch).toBeGreaterThanOrEqual(b.brokerEpoch);
    }
    // Epochs never go back, and the delta names exactly the partitions whose state changed.
    const changed = new Set<string>();
    for (const [topicId, topic] of state.topics) {
      const old = before.topics.get(topicId);
      for (const part of topic.partitions) {
        const prev = old?.partitions[part.partition];
        if (prev === part) continue;
        changed.add(`${topicId}/${part.partition}`);
        if (prev !== undefined) {
          expect(part.leaderEpoch).toBeGreaterThanOrEqual(prev.leaderEpoch);
          expect(part.partitionEpoch).toBeGreaterThan(prev.partitionEpoch);
          if (part.leader !== prev.leader) expect(part.leaderEpoch).toBe(prev.leaderEpoch + 1);
        }
      }
    }
    expect(new Set(delta.partitions.map((d) => `${d.topicId}/${d.partition}`))).toEqual(changed);
    for (const d of delta.partitions) expect(state.topics.get(d.topicId)?.partitions[d.partition]).toBe(d.after);
    if (!outcome.ok) expect(state.topics).toBe(before.topics);
  }
  return log;
}

function replay(entries: TestLog['entries'], from: MetadataState = emptyState()): MetadataState {
  let state = from;
  for (const e of entries) if (e.index > state.appliedIndex) state = apply(state, e.index, e.command, e.timestampMs).state;
  return state;
}

describe('random command sequences', () => {
  it('keep leader ∈ ISR ⊆ replicas and every other invariant, with epochs that never decrease', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => {
        runSteps(steps);
      }),
      runs(150),
    );
  });

  it('produce identical images and snapshot bytes when the same log is applied twice from empty', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => {
        const log = runSteps(steps);
        const again = replay(log.entries);
        expect(again).toEqual(log.state);
        expect(snapshot(again)).toEqual(snapshot(log.state));
      }),
      runs(100),
    );
  });

  it('reach the same end state after a snapshot and restore at any point', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), fc.nat(), (steps, cutAt) => {
        const log = runSteps(steps);
        const cut = cutAt % (log.entries.length + 1);
        const prefix = replay(log.entries.slice(0, cut));
        const restored = restore(snapshot(prefix));
        expect(restored).toEqual(prefix);
        const end = replay(log.entries, restored);
        expect(end).toEqual(log.state);
        expect(snapshot(end)).toEqual(snapshot(log.state));
      }),
      runs(100),
    );
  });

  it('exercise most command types successfully (the generator is not degenerate)', () => {
    const succeeded = new Set<string>();
    const rejected = new Set<string>();
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 40, maxLength: 80 }), (steps) => {
        const log = startLog();
        for (const s of steps) {
          log.advance(s.dtMs);
          const command = toCommand(log.state, s);
          const r = log.run(command);
          if (r.outcome.ok) succeeded.add(command.type);
          else rejected.add(r.outcome.error.code);
        }
      }),
      { numRuns: 60, seed: 42 },
    );
    expect(succeeded.size).toBeGreaterThanOrEqual(14);
    // Staleness is generated on purpose: the fencing paths must be hit too.
    for (const code of ['STALE_BROKER_EPOCH', 'FENCED_LEADER_EPOCH', 'INVALID_UPDATE_VERSION', 'STALE_CONTROLLER_EPOCH']) expect(rejected).toContain(code);
  });
});
