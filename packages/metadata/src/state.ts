/**
 * The empty image and the invariants every image satisfies. `checkInvariants` runs on every
 * restored snapshot and in tests after every command; `checkPartition` runs inside apply on
 * every partition it writes.
 */
import { invariant } from './errors.js';
import { NO_LEADER, type MetadataState, type PartitionState, type TopicState } from './types.js';

export function emptyState(): MetadataState {
  return {
    clusterId: null,
    appliedIndex: 0,
    clockMs: 0,
    controllerEpoch: 0,
    controllerLease: null,
    brokers: new Map(),
    topics: new Map(),
    topicIdsByName: new Map(),
  };
}

function distinct(list: readonly number[]): boolean {
  return new Set(list).size === list.length;
}

function subset(inner: readonly number[], outer: readonly number[]): boolean {
  return inner.every((id) => outer.includes(id));
}

/** Leader ∈ ISR ⊆ replicas, lists distinct, the offline flag agrees with the leader. */
export function checkPartition(topicName: string, p: PartitionState): void {
  const where = (): string => `${topicName}-${p.partition}`;
  invariant(p.replicas.length > 0, () => `${where()}: no replicas`);
  invariant(distinct(p.replicas), () => `${where()}: duplicate replicas ${p.replicas.join(',')}`);
  invariant(p.isr.length > 0, () => `${where()}: empty ISR`);
  invariant(distinct(p.isr), () => `${where()}: duplicate ISR members ${p.isr.join(',')}`);
  invariant(subset(p.isr, p.replicas), () => `${where()}: ISR ${p.isr.join(',')} not within replicas ${p.replicas.join(',')}`);
  invariant(p.leader === NO_LEADER || p.isr.includes(p.leader), () => `${where()}: leader ${p.leader} not in ISR ${p.isr.join(',')}`);
  invariant(p.offline === (p.leader === NO_LEADER), () => `${where()}: offline flag disagrees with leader ${p.leader}`);
  invariant(p.leaderEpoch >= 0 && p.partitionEpoch >= 0, () => `${where()}: negative epoch`);
  invariant(subset(p.addingReplicas, p.replicas) && subset(p.removingReplicas, p.replicas), () => `${where()}: reassignment sets not within replicas`);
  invariant(!p.addingReplicas.some((id) => p.removingReplicas.includes(id)), () => `${where()}: a replica both added and removed`);
}

export function checkTopic(topic: TopicState): void {
  invariant(topic.partitions.length > 0, () => `${topic.name}: no partitions`);
  topic.partitions.forEach((p, i) => {
    invariant(p.partition === i, () => `${topic.name}: partition ${p.partition} stored at position ${i}`);
    checkPartition(topic.name, p);
  });
}

/** Every cross-reference in the image holds. Cost O(size of the image). */
export function checkInvariants(state: MetadataState): void {
  invariant(state.clockMs >= 0 && state.appliedIndex >= 0, 'negative clock or applied index');
  for (const [id, broker] of state.brokers) {
    invariant(broker.brokerId === id, () => `broker ${broker.brokerId} stored under id ${id}`);
    invariant(broker.brokerEpoch <= state.appliedIndex, () => `broker ${id}: epoch ${broker.brokerEpoch} after applied index`);
  }
  invariant(state.topics.size === state.topicIdsByName.size, 'topic name index size differs from topics');
  for (const [topicId, topic] of state.topics) {
    invariant(topic.topicId === topicId, () => `topic ${topic.name} stored under id ${topicId}`);
    invariant(state.topicIdsByName.get(topic.name) === topicId, () => `topic ${topic.name} missing from the name index`);
    checkTopic(topic);
    for (const p of topic.partitions) {
      invariant(p.leader === NO_LEADER || state.brokers.get(p.leader)?.fenced === false, () => `${topic.name}-${p.partition}: leader ${p.leader} is not an unfenced broker`);
      // Fencing empties no ISR: the last member stays (Kafka's rule) and the partition goes offline.
      const fencedInIsr = p.isr.filter((id) => state.brokers.get(id)?.fenced !== false);
      invariant(fencedInIsr.length === 0 || (p.isr.length === 1 && p.leader === NO_LEADER), () => `${topic.name}-${p.partition}: fenced ISR members ${fencedInIsr.join(',')} beside a live ISR`);
    }
  }
  const lease = state.controllerLease;
  invariant(lease === null || lease.controllerEpoch === state.controllerEpoch, 'lease epoch differs from the controller epoch');
}
