// Test support: a tiny in-memory "log" that applies commands in order with a manual clock
// and checks every invariant after every entry.
import {
  apply,
  checkInvariants,
  emptyState,
  type ApplyResult,
  type CommandResult,
  type MetadataCommand,
  type MetadataErrorCode,
  type MetadataState,
  type PartitionState,
  type TopicState,
} from '../src/index.js';

export class TestLog {
  state: MetadataState = emptyState();
  index = 0;
  nowMs = 1_000;
  readonly entries: { index: number; command: MetadataCommand; timestampMs: number }[] = [];
  last: ApplyResult | undefined;

  run(command: MetadataCommand, timestampMs = this.nowMs): ApplyResult {
    this.index += 1;
    this.entries.push({ index: this.index, command, timestampMs });
    const result = apply(this.state, this.index, command, timestampMs);
    checkInvariants(result.state);
    this.state = result.state;
    this.last = result;
    return result;
  }

  ok<T extends CommandResult['type']>(command: MetadataCommand & { type: T }): Extract<CommandResult, { type: T }> {
    const r = this.run(command);
    if (!r.outcome.ok) throw new Error(`expected ${command.type} to succeed, got ${r.outcome.error.message}`);
    return r.outcome.result as Extract<CommandResult, { type: T }>;
  }

  /** Applies a command that must be rejected; checks nothing but the index and clock changed. */
  rejects(command: MetadataCommand): MetadataErrorCode {
    const before = this.state;
    const r = this.run(command);
    if (r.outcome.ok) throw new Error(`expected ${command.type} to be rejected`);
    const { appliedIndex: _a, clockMs: _c, ...rest } = r.state;
    const { appliedIndex: _b, clockMs: _d, ...restBefore } = before;
    if (!Object.keys(rest).every((k) => rest[k as keyof typeof rest] === restBefore[k as keyof typeof restBefore])) {
      throw new Error(`rejected ${command.type} changed the state`);
    }
    return r.outcome.error.code;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  topic(name: string): TopicState {
    const id = this.state.topicIdsByName.get(name);
    const topic = id === undefined ? undefined : this.state.topics.get(id);
    if (topic === undefined) throw new Error(`no topic ${name}`);
    return topic;
  }

  partition(name: string, partition: number): PartitionState {
    const p = this.topic(name).partitions[partition];
    if (p === undefined) throw new Error(`no partition ${name}-${partition}`);
    return p;
  }

  brokerEpoch(brokerId: number): number {
    const b = this.state.brokers.get(brokerId);
    if (b === undefined) throw new Error(`no broker ${brokerId}`);
    return b.brokerEpoch;
  }

  register(brokerId: number, rack: string | null = null, incarnationId = `inc-${brokerId}-a`): number {
    return this.ok({ type: 'RegisterBroker', brokerId, incarnationId, host: `broker-${brokerId}.local`, port: 9092, rack }).brokerEpoch;
  }

  unfence(brokerId: number): void {
    this.ok({ type: 'UnfenceBroker', brokerId, brokerEpoch: this.brokerEpoch(brokerId) });
  }

  fence(brokerId: number): void {
    this.ok({ type: 'FenceBroker', brokerId, brokerEpoch: this.brokerEpoch(brokerId) });
  }

  createTopic(name: string, assignment: number[][], configs: Record<string, string> = {}): TopicState {
    this.ok({ type: 'CreateTopic', name, assignment, configs });
    return this.topic(name);
  }
}

/** A cluster id'd "test-cluster" with brokers 1..n registered and unfenced. */
export function cluster(n: number, racks?: readonly string[]): TestLog {
  const log = new TestLog();
  log.ok({ type: 'InitializeCluster', clusterId: 'test-cluster' });
  for (let id = 1; id <= n; id++) {
    log.register(id, racks === undefined ? null : (racks[(id - 1) % racks.length] ?? null));
    log.unfence(id);
  }
  return log;
}

/** One well-formed command of every type, with every optional field somewhere. */
export const sampleCommands: readonly MetadataCommand[] = [
  { type: 'InitializeCluster', clusterId: 'c-1' },
  { type: 'RegisterBroker', brokerId: 1, incarnationId: 'i', host: 'h', port: 9092, rack: 'r', clusterId: 'c-1' },
  { type: 'RegisterBroker', brokerId: 2, incarnationId: 'i', host: 'h', port: 9092, rack: null },
  { type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: 2 },
  { type: 'FenceBroker', brokerId: 1, brokerEpoch: 2, controllerEpoch: 3 },
  { type: 'UnfenceBroker', brokerId: 1, brokerEpoch: 2 },
  { type: 'UnregisterBroker', brokerId: 3, brokerEpoch: 7 },
  { type: 'CreateTopic', name: 't', assignment: [[1, 2], [2, 1]], configs: { 'retention.ms': '1' }, controllerEpoch: 1 },
  { type: 'DeleteTopic', topicId: 'x' },
  { type: 'CreatePartitions', topicId: 'x', assignment: [[1]] },
  { type: 'AlterConfigs', topicId: 'x', set: { 'cleanup.policy': 'compact' }, delete: ['retention.ms'] },
  { type: 'PartitionChange', topicId: 'x', partition: 0, partitionEpoch: 4, byLeader: { brokerId: 1, brokerEpoch: 2, leaderEpoch: 3 }, isr: [1] },
  { type: 'PartitionChange', topicId: 'x', partition: 1, partitionEpoch: 4, leader: -1, isr: [1, 2], replicas: [1, 2, 3], controllerEpoch: 2 },
  { type: 'BeginReassignment', topicId: 'x', partition: 0, partitionEpoch: 1, targetReplicas: [3, 4] },
  { type: 'CompleteReassignment', topicId: 'x', partition: 0, partitionEpoch: 2 },
  { type: 'CancelReassignment', topicId: 'x', partition: 0, partitionEpoch: 2, controllerEpoch: 9 },
  { type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 2_000 },
];
