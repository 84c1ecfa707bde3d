/**
 * Read-only questions brokers and admin tools ask of an image. All are O(size of what they
 * return) or one pass over the partitions; none mutates.
 */
import { describeTopicConfigs, effectiveTopicConfig, type TopicConfig } from './configs.js';
import {
  NO_LEADER,
  type BrokerRegistration,
  type MetadataDelta,
  type MetadataState,
  type PartitionChange,
  type PartitionRef,
  type PartitionState,
  type TopicState,
} from './types.js';

export function topicByName(state: MetadataState, name: string): TopicState | undefined {
  const id = state.topicIdsByName.get(name);
  return id === undefined ? undefined : state.topics.get(id);
}

export function topicById(state: MetadataState, topicId: string): TopicState | undefined {
  return state.topics.get(topicId);
}

export function partitionState(state: MetadataState, topicId: string, partition: number): PartitionState | undefined {
  return state.topics.get(topicId)?.partitions[partition];
}

/** The leader's broker id, `NO_LEADER` when offline, undefined when the partition does not exist. */
export function leaderOf(state: MetadataState, topicId: string, partition: number): number | undefined {
  return partitionState(state, topicId, partition)?.leader;
}

/** The leader's registration (endpoint), for routing a produce or fetch. */
export function leaderBroker(state: MetadataState, topicId: string, partition: number): BrokerRegistration | undefined {
  const leader = leaderOf(state, topicId, partition);
  return leader === undefined || leader === NO_LEADER ? undefined : state.brokers.get(leader);
}

function partitionsWhere(state: MetadataState, test: (p: PartitionState) => boolean): PartitionRef[] {
  const out: PartitionRef[] = [];
  for (const topic of state.topics.values()) {
    for (const p of topic.partitions) if (test(p)) out.push({ topicId: topic.topicId, partition: p.partition });
  }
  return out;
}

export function partitionsLedBy(state: MetadataState, brokerId: number): PartitionRef[] {
  return partitionsWhere(state, (p) => p.leader === brokerId);
}

/** Every partition with a replica on the broker, led by it or not. */
export function partitionsReplicatedOn(state: MetadataState, brokerId: number): PartitionRef[] {
  return partitionsWhere(state, (p) => p.replicas.includes(brokerId));
}

export function offlinePartitions(state: MetadataState): PartitionRef[] {
  return partitionsWhere(state, (p) => p.leader === NO_LEADER);
}

export function underReplicatedPartitions(state: MetadataState): PartitionRef[] {
  return partitionsWhere(state, (p) => p.isr.length < p.replicas.length - p.addingReplicas.length);
}

export function unfencedBrokers(state: MetadataState): BrokerRegistration[] {
  return [...state.brokers.values()].filter((b) => !b.fenced).sort((a, b) => a.brokerId - b.brokerId);
}

/**
 * Brokers whose last heartbeat is older than `sessionTimeoutMs` at `nowMs`: the ones a
 * controller should fence. Time is the caller's; the image has none of its own.
 */
export function brokersWithExpiredSessions(state: MetadataState, nowMs: number, sessionTimeoutMs: number): BrokerRegistration[] {
  return [...state.brokers.values()].filter((b) => !b.fenced && nowMs - b.lastHeartbeatMs > sessionTimeoutMs).sort((a, b) => a.brokerId - b.brokerId);
}

export function topicConfig(topic: TopicState): TopicConfig {
  return effectiveTopicConfig(topic.configs);
}

export interface TopicDescription {
  readonly topicId: string;
  readonly name: string;
  readonly partitions: readonly PartitionState[];
  readonly configs: ReturnType<typeof describeTopicConfigs>;
}

export function describeTopic(state: MetadataState, name: string): TopicDescription | undefined {
  const topic = topicByName(state, name);
  if (topic === undefined) return undefined;
  return { topicId: topic.topicId, name: topic.name, partitions: topic.partitions, configs: describeTopicConfigs(topic.configs) };
}

export interface ClusterDescription {
  readonly clusterId: string | null;
  readonly controllerId: number | null;
  readonly controllerEpoch: number;
  readonly brokers: readonly BrokerRegistration[];
  readonly topicCount: number;
  readonly partitionCount: number;
}

export function describeCluster(state: MetadataState): ClusterDescription {
  let partitionCount = 0;
  for (const topic of state.topics.values()) partitionCount += topic.partitions.length;
  return {
    clusterId: state.clusterId,
    controllerId: state.controllerLease?.controllerId ?? null,
    controllerEpoch: state.controllerEpoch,
    brokers: [...state.brokers.values()].sort((a, b) => a.brokerId - b.brokerId),
    topicCount: state.topics.size,
    partitionCount,
  };
}

export interface LocalPartition extends PartitionRef {
  readonly state: PartitionState;
  readonly topicName: string;
}

export interface LocalChanges {
  /** Partitions this broker now leads (new leader epoch or new partition). */
  readonly leaders: readonly LocalPartition[];
  /** Partitions this broker now follows (replica, not leader). */
  readonly followers: readonly LocalPartition[];
  /** Partitions whose replica on this broker must be stopped and deleted. */
  readonly deletes: readonly (PartitionRef & { readonly topicName: string })[];
}

/**
 * What one delta means for one broker, in Kafka's TopicsDelta.localChanges manner: which
 * local replicas to make leaders, followers, or delete. Partitions whose change does not
 * concern the broker are left out.
 */
export function localChanges(delta: MetadataDelta, next: MetadataState, brokerId: number): LocalChanges {
  const leaders: LocalPartition[] = [];
  const followers: LocalPartition[] = [];
  const deletes: (PartitionRef & { topicName: string })[] = [];
  for (const topic of delta.topicsDeleted) {
    for (const p of topic.partitions) {
      if (p.replicas.includes(brokerId)) deletes.push({ topicId: topic.topicId, partition: p.partition, topicName: topic.name });
    }
  }
  for (const change of delta.partitions) {
    const topicName = next.topics.get(change.topicId)?.name ?? '';
    const after = change.after;
    const local = { topicId: change.topicId, partition: change.partition, state: after, topicName };
    if (after.replicas.includes(brokerId)) {
      (after.leader === brokerId ? leaders : followers).push(local);
    } else if (change.before?.replicas.includes(brokerId) === true) {
      deletes.push({ topicId: change.topicId, partition: change.partition, topicName });
    }
  }
  return { leaders, followers, deletes };
}

/** Partitions with a reassignment in progress (adding or removing replicas). */
export function reassigningPartitions(state: MetadataState): PartitionRef[] {
  return partitionsWhere(state, (p) => p.addingReplicas.length > 0 || p.removingReplicas.length > 0);
}

export type ElectionKind = 'preferred' | 'clean' | 'unclean';

/**
 * The PartitionChange a controller would propose for an election, or undefined when none is
 * needed or possible. `preferred` moves leadership to the first replica when it is in sync
 * and unfenced; `clean` elects the first in-sync unfenced replica for a partition without a
 * live leader; `unclean` does the same, falling back (where the topic allows it) to any
 * unfenced replica, whose ISR then restarts as itself alone.
 */
export function electionChange(
  state: MetadataState,
  topicId: string,
  partition: number,
  kind: ElectionKind,
  controllerEpoch?: number,
): PartitionChange | undefined {
  const topic = state.topics.get(topicId);
  const p = topic?.partitions[partition];
  if (topic === undefined || p === undefined) return undefined;
  const live = (id: number): boolean => state.brokers.get(id)?.fenced === false;
  const base = { type: 'PartitionChange' as const, topicId, partition, partitionEpoch: p.partitionEpoch, ...(controllerEpoch === undefined ? {} : { controllerEpoch }) };
  if (kind === 'preferred') {
    const preferred = p.replicas[0];
    if (preferred === undefined || preferred === p.leader || !p.isr.includes(preferred) || !live(preferred)) return undefined;
    return { ...base, leader: preferred };
  }
  if (p.leader !== NO_LEADER && live(p.leader)) return undefined;
  const clean = p.replicas.find((id) => p.isr.includes(id) && live(id));
  if (clean !== undefined) return { ...base, leader: clean };
  if (kind === 'clean' || !effectiveTopicConfig(topic.configs).uncleanLeaderElectionEnable) return undefined;
  const unclean = p.replicas.find(live);
  return unclean === undefined ? undefined : { ...base, leader: unclean, isr: [unclean] };
}
