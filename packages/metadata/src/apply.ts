/**
 * `apply`: the deterministic transition function of the metadata log.
 *
 * Contract: the next image depends only on (state, index, command, timestampMs). No clock,
 * no randomness, no iteration over unordered collections: every replica applying the same
 * log gets byte-identical snapshots. A rejected command still consumes its log index (the
 * applied index and the metadata clock advance) and changes nothing else.
 */
import { effectiveTopicConfig, mergeTopicConfigs } from './configs.js';
import { Draft, emptyDelta } from './draft.js';
import { MetadataError, invariant } from './errors.js';
import { topicIdFor } from './ids.js';
import { readCommand } from './shape.js';
import {
  NO_LEADER,
  metadataLimits,
  type AlterConfigs,
  type ApplyResult,
  type BeginReassignment,
  type BrokerHeartbeat,
  type BrokerRegistration,
  type CancelReassignment,
  type CommandResult,
  type CompleteReassignment,
  type ControllerLeaseCommand,
  type CreatePartitions,
  type CreateTopic,
  type DeleteTopic,
  type FenceBroker,
  type InitializeCluster,
  type MetadataCommand,
  type MetadataState,
  type PartitionChange,
  type PartitionState,
  type RegisterBroker,
  type TopicState,
  type UnfenceBroker,
  type UnregisterBroker,
} from './types.js';

export const timestampMsMax = Number.MAX_SAFE_INTEGER - metadataLimits.leaseDurationMsMax;

export function apply(state: MetadataState, index: number, command: MetadataCommand, timestampMs: number): ApplyResult {
  invariant(Number.isSafeInteger(index) && index > state.appliedIndex, () => `apply of index ${index} after ${state.appliedIndex}`);
  // The bound leaves room to add a lease duration without leaving the safe integers.
  const stampOk = Number.isSafeInteger(timestampMs) && timestampMs >= 0 && timestampMs <= timestampMsMax;
  // The leader's clock may step back after a failover; the metadata clock never does.
  const nowMs = stampOk ? Math.max(state.clockMs, timestampMs) : state.clockMs;
  const draft = new Draft(state, index, nowMs);
  try {
    if (!stampOk) throw new MetadataError('INVALID_REQUEST', `timestamp ${timestampMs} is not an integer from 0 to ${timestampMsMax}`);
    const result = dispatch(draft, readCommand(command, 'INVALID_REQUEST'));
    const { state: next, delta } = draft.finish();
    return { state: next, outcome: { ok: true, result }, delta };
  } catch (err) {
    if (!(err instanceof MetadataError)) throw err;
    return { state: { ...state, appliedIndex: index, clockMs: nowMs }, outcome: { ok: false, error: err }, delta: emptyDelta };
  }
}

function dispatch(d: Draft, c: MetadataCommand): CommandResult {
  switch (c.type) {
    case 'InitializeCluster':
      return initializeCluster(d, c);
    case 'RegisterBroker':
      return registerBroker(d, c);
    case 'BrokerHeartbeat':
      return brokerHeartbeat(d, c);
    case 'FenceBroker':
      return fenceBroker(d, c);
    case 'UnfenceBroker':
      return unfenceBroker(d, c);
    case 'UnregisterBroker':
      return unregisterBroker(d, c);
    case 'CreateTopic':
      return createTopic(d, c);
    case 'DeleteTopic':
      return deleteTopic(d, c);
    case 'CreatePartitions':
      return createPartitions(d, c);
    case 'AlterConfigs':
      return alterConfigs(d, c);
    case 'PartitionChange':
      return partitionChange(d, c);
    case 'BeginReassignment':
      return beginReassignment(d, c);
    case 'CompleteReassignment':
      return completeReassignment(d, c);
    case 'CancelReassignment':
      return cancelReassignment(d, c);
    case 'ControllerLease':
      return controllerLease(d, c);
  }
}

// ---------------------------------------------------------------------------------------
// Shared checks

function reject(code: ConstructorParameters<typeof MetadataError>[0], message: string): never {
  throw new MetadataError(code, message);
}

/** A controller decision must carry the epoch of a live lease. Unstamped commands pass. */
function checkControllerStamp(d: Draft, controllerEpoch: number | undefined): void {
  if (controllerEpoch === undefined) return;
  if (controllerEpoch !== d.controllerEpoch) {
    reject('STALE_CONTROLLER_EPOCH', `controller epoch ${controllerEpoch} is not the current epoch ${d.controllerEpoch}`);
  }
  const lease = d.controllerLease;
  if (lease === null || d.nowMs >= lease.leaseExpiryMs) {
    reject('STALE_CONTROLLER_EPOCH', `the lease of controller epoch ${controllerEpoch} has lapsed`);
  }
}

function registeredBroker(d: Draft, brokerId: number, brokerEpoch: number): BrokerRegistration {
  const broker = d.broker(brokerId);
  if (broker === undefined) reject('BROKER_ID_NOT_REGISTERED', `broker ${brokerId} is not registered`);
  if (broker.brokerEpoch !== brokerEpoch) {
    reject('STALE_BROKER_EPOCH', `broker ${brokerId} has epoch ${broker.brokerEpoch}, not ${brokerEpoch}`);
  }
  return broker;
}

function topicById(d: Draft, topicId: string): TopicState {
  const topic = d.topic(topicId);
  if (topic === undefined) reject('UNKNOWN_TOPIC_OR_PARTITION', `no topic with id ${topicId}`);
  return topic;
}

function partitionOf(d: Draft, topicId: string, partition: number, partitionEpoch: number | undefined): { topic: TopicState; p: PartitionState } {
  const topic = topicById(d, topicId);
  const p = topic.partitions[partition];
  if (p === undefined) reject('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} has no partition ${partition}`);
  if (partitionEpoch !== undefined && partitionEpoch !== p.partitionEpoch) {
    reject('INVALID_UPDATE_VERSION', `${topic.name}-${partition} is at partition epoch ${p.partitionEpoch}, not ${partitionEpoch}`);
  }
  return { topic, p };
}

const topicNamePattern = /^[a-zA-Z0-9._-]+$/;

export function validateTopicName(name: string): void {
  if (name.length === 0) reject('INVALID_TOPIC_EXCEPTION', 'topic name is empty');
  if (name === '.' || name === '..') reject('INVALID_TOPIC_EXCEPTION', `topic name cannot be "${name}"`);
  if (name.length > metadataLimits.topicNameLengthMax) {
    reject('INVALID_TOPIC_EXCEPTION', `topic name is ${name.length} characters; at most ${metadataLimits.topicNameLengthMax} allowed`);
  }
  if (!topicNamePattern.test(name)) {
    reject('INVALID_TOPIC_EXCEPTION', `topic name ${JSON.stringify(name)} may contain only ASCII letters, digits, '.', '_' and '-'`);
  }
}

/** Replica lists: same length, no duplicates, registered brokers, at least one live replica each. */
function checkAssignment(d: Draft, assignment: readonly (readonly number[])[], replicationFactor: number, firstPartition: number): void {
  assignment.forEach((replicas, i) => {
    const partition = firstPartition + i;
    if (replicas.length !== replicationFactor) {
      reject('INVALID_REPLICA_ASSIGNMENT', `partition ${partition} has ${replicas.length} replicas; the replication factor is ${replicationFactor}`);
    }
    checkReplicaList(d, replicas, `partition ${partition}`);
    if (!replicas.some((id) => d.isUnfenced(id))) {
      reject('INVALID_REPLICA_ASSIGNMENT', `every replica of partition ${partition} (${replicas.join(',')}) is fenced`);
    }
  });
}

function checkReplicaList(d: Draft, replicas: readonly number[], what: string): void {
  if (replicas.length === 0) reject('INVALID_REPLICA_ASSIGNMENT', `${what} has no replicas`);
  if (new Set(replicas).size !== replicas.length) reject('INVALID_REPLICA_ASSIGNMENT', `${what} lists a broker twice: ${replicas.join(',')}`);
  const unknown = replicas.filter((id) => d.broker(id) === undefined);
  if (unknown.length > 0) reject('INVALID_REPLICA_ASSIGNMENT', `${what} names unregistered brokers ${unknown.join(',')}`);
}

function newPartition(d: Draft, partition: number, replicas: readonly number[]): PartitionState {
  const isr = replicas.filter((id) => d.isUnfenced(id));
  const leader = isr[0] ?? NO_LEADER;
  return { partition, replicas: [...replicas], isr, leader, leaderEpoch: 0, partitionEpoch: 0, addingReplicas: [], removingReplicas: [], offline: leader === NO_LEADER };
}

/** Clean election: the first replica, in preference order, that is in the ISR and unfenced. */
function electLeader(d: Draft, replicas: readonly number[], isr: readonly number[]): number {
  return replicas.find((id) => isr.includes(id) && d.isUnfenced(id)) ?? NO_LEADER;
}

/** Writes `next` unless it equals `cur`, bumping the epochs: leader epoch on a leader change, partition epoch on any change. */
function writePartition(d: Draft, topicId: string, cur: PartitionState, next: Omit<PartitionState, 'leaderEpoch' | 'partitionEpoch' | 'offline' | 'partition'>): PartitionState {
  const leaderChanged = next.leader !== cur.leader;
  const changed =
    leaderChanged ||
    !sameList(next.isr, cur.isr) ||
    !sameList(next.replicas, cur.replicas) ||
    !sameList(next.addingReplicas, cur.addingReplicas) ||
    !sameList(next.removingReplicas, cur.removingReplicas);
  if (!changed) return cur;
  const written: PartitionState = {
    partition: cur.partition,
    replicas: [...next.replicas],
    isr: [...next.isr],
    leader: next.leader,
    leaderEpoch: leaderChanged ? cur.leaderEpoch + 1 : cur.leaderEpoch,
    partitionEpoch: cur.partitionEpoch + 1,
    addingReplicas: [...next.addingReplicas],
    removingReplicas: [...next.removingReplicas],
    offline: next.leader === NO_LEADER,
  };
  d.putPartition(topicId, written);
  return written;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

// ---------------------------------------------------------------------------------------
// Cluster and brokers

const clusterIdPattern = /^[a-zA-Z0-9_-]+$/;

function initializeCluster(d: Draft, c: InitializeCluster): CommandResult {
  if (!clusterIdPattern.test(c.clusterId)) reject('INVALID_REQUEST', `cluster id ${JSON.stringify(c.clusterId)} may contain only letters, digits, '_' and '-'`);
  if (d.clusterId !== null && d.clusterId !== c.clusterId) reject('INCONSISTENT_CLUSTER_ID', `the cluster is already initialized with id ${d.clusterId}`);
  d.clusterId = c.clusterId;
  return { type: 'InitializeCluster', clusterId: c.clusterId };
}

function registerBroker(d: Draft, c: RegisterBroker): CommandResult {
  if (c.clusterId !== undefined && d.clusterId !== null && c.clusterId !== d.clusterId) {
    reject('INCONSISTENT_CLUSTER_ID', `broker ${c.brokerId} belongs to cluster ${c.clusterId}, this is ${d.clusterId}`);
  }
  const existing = d.broker(c.brokerId);
  if (existing !== undefined && existing.incarnationId === c.incarnationId) {
    // A retried registration of the same process: answer with the epoch it already has.
    if (existing.host !== c.host || existing.port !== c.port || existing.rack !== c.rack) {
      reject('DUPLICATE_BROKER_REGISTRATION', `incarnation ${c.incarnationId} of broker ${c.brokerId} is registered with another endpoint`);
    }
    return { type: 'RegisterBroker', brokerId: c.brokerId, brokerEpoch: existing.brokerEpoch };
  }
  if (existing?.retiredIncarnationIds.includes(c.incarnationId) === true) {
    reject('STALE_BROKER_EPOCH', `incarnation ${c.incarnationId} of broker ${c.brokerId} was replaced by ${existing.incarnationId}`);
  }
  const retired = existing === undefined ? [] : [...existing.retiredIncarnationIds, existing.incarnationId].slice(-metadataLimits.retiredIncarnationsMax);
  // A new incarnation starts fenced (as in KRaft): it must catch up before it leads or joins an ISR.
  d.putBroker({
    brokerId: c.brokerId,
    incarnationId: c.incarnationId,
    host: c.host,
    port: c.port,
    rack: c.rack,
    brokerEpoch: d.index,
    lastHeartbeatMs: d.nowMs,
    fenced: true,
    retiredIncarnationIds: retired,
  });
  // The old process is gone: whatever it led or replicated in sync must move on without it.
  if (existing !== undefined) fenceEffects(d, c.brokerId);
  return { type: 'RegisterBroker', brokerId: c.brokerId, brokerEpoch: d.index };
}

function brokerHeartbeat(d: Draft, c: BrokerHeartbeat): CommandResult {
  const broker = registeredBroker(d, c.brokerId, c.brokerEpoch);
  d.putBroker({ ...broker, lastHeartbeatMs: d.nowMs });
  return { type: 'BrokerHeartbeat', fenced: broker.fenced };
}

function fenceBroker(d: Draft, c: FenceBroker): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const broker = registeredBroker(d, c.brokerId, c.brokerEpoch);
  if (!broker.fenced) {
    d.putBroker({ ...broker, fenced: true });
    fenceEffects(d, c.brokerId);
  }
  return { type: 'FenceBroker', brokerId: c.brokerId };
}

/**
 * Kafka's rule for a fenced broker: it leaves the ISR of every partition, except that an ISR
 * never becomes empty (the last member stays, since it alone holds every committed record
 * and must be able to come back as a clean leader). A partition it led elects the next
 * in-sync replica in preference order, or goes offline when none is left.
 */
function fenceEffects(d: Draft, brokerId: number): void {
  for (const topicId of d.topicIds()) {
    const topic = d.topic(topicId);
    invariant(topic !== undefined, 'listed topic vanished');
    for (const p of topic.partitions) {
      if (!p.isr.includes(brokerId) && p.leader !== brokerId) continue;
      const isr = p.isr.length > 1 ? p.isr.filter((id) => id !== brokerId) : p.isr;
      const leader = p.leader === brokerId ? electLeader(d, p.replicas, isr) : p.leader;
      writePartition(d, topicId, p, { ...p, isr, leader });
    }
  }
}

function unfenceBroker(d: Draft, c: UnfenceBroker): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const broker = registeredBroker(d, c.brokerId, c.brokerEpoch);
  if (broker.fenced) {
    d.putBroker({ ...broker, fenced: false, lastHeartbeatMs: d.nowMs });
    // Offline partitions whose last in-sync replica is this broker come back with it (clean election).
    for (const topicId of d.topicIds()) {
      const topic = d.topic(topicId);
      invariant(topic !== undefined, 'listed topic vanished');
      for (const p of topic.partitions) {
        if (p.leader !== NO_LEADER || !p.isr.includes(c.brokerId)) continue;
        writePartition(d, topicId, p, { ...p, leader: electLeader(d, p.replicas, p.isr) });
      }
    }
  }
  return { type: 'UnfenceBroker', brokerId: c.brokerId };
}

function unregisterBroker(d: Draft, c: UnregisterBroker): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const broker = registeredBroker(d, c.brokerId, c.brokerEpoch);
  // Fence first, so leadership and ISR membership move exactly as for a lost broker.
  if (!broker.fenced) d.putBroker({ ...broker, fenced: true });
  fenceEffects(d, c.brokerId);
  d.removeBroker(c.brokerId);
  return { type: 'UnregisterBroker', brokerId: c.brokerId };
}

// ---------------------------------------------------------------------------------------
// Topics

function createTopic(d: Draft, c: CreateTopic): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  validateTopicName(c.name);
  if (d.topicIdByName(c.name) !== undefined) reject('TOPIC_ALREADY_EXISTS', `topic ${c.name} already exists`);
  // Kafka's metric names fold '.' into '_', so such names would collide.
  const folded = c.name.replaceAll('.', '_');
  for (const id of d.topicIds()) {
    const other = d.topic(id)?.name;
    if (other !== undefined && other.replaceAll('.', '_') === folded) {
      reject('INVALID_TOPIC_EXCEPTION', `topic ${c.name} collides with existing topic ${other} ('.' and '_' are interchangeable)`);
    }
  }
  if (c.assignment.length === 0) reject('INVALID_PARTITIONS', 'a topic needs at least one partition');
  const replicationFactor = c.assignment[0]?.length ?? 0;
  if (replicationFactor < 1) reject('INVALID_REPLICATION_FACTOR', 'the replication factor must be at least 1');
  const unfenced = d.brokerList().filter((b) => !b.fenced).length;
  if (replicationFactor > unfenced) {
    reject('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the ${unfenced} unfenced brokers`);
  }
  checkAssignment(d, c.assignment, replicationFactor, 0);
  const configs = mergeTopicConfigs({}, c.configs, [], replicationFactor);
  const topicId = topicIdFor(d.clusterId, d.index);
  if (d.topic(topicId) !== undefined) reject('INVALID_REQUEST', `derived topic id ${topicId} is already in use`);
  d.createTopic({ topicId, name: c.name, configs, partitions: c.assignment.map((replicas, i) => newPartition(d, i, replicas)) });
  return { type: 'CreateTopic', topicId, name: c.name };
}

function deleteTopic(d: Draft, c: DeleteTopic): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const topic = topicById(d, c.topicId);
  d.deleteTopic(c.topicId);
  return { type: 'DeleteTopic', topicId: c.topicId, name: topic.name };
}

/** The replication factor a topic is meant to have: partition 0's replicas minus those leaving. */
export function replicationFactorOf(topic: TopicState): number {
  const p0 = topic.partitions[0];
  invariant(p0 !== undefined, () => `topic ${topic.name} has no partitions`);
  return p0.replicas.length - p0.removingReplicas.length;
}

function createPartitions(d: Draft, c: CreatePartitions): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const topic = topicById(d, c.topicId);
  const current = topic.partitions.length;
  if (c.assignment.length === 0) reject('INVALID_PARTITIONS', `topic ${topic.name} has ${current} partitions; the count can only grow`);
  const total = current + c.assignment.length;
  if (total > metadataLimits.partitionsPerTopicMax) {
    reject('INVALID_PARTITIONS', `${total} partitions exceed the limit of ${metadataLimits.partitionsPerTopicMax} per topic`);
  }
  checkAssignment(d, c.assignment, replicationFactorOf(topic), current);
  c.assignment.forEach((replicas, i) => d.putPartition(c.topicId, newPartition(d, current + i, replicas)));
  return { type: 'CreatePartitions', topicId: c.topicId, partitionCount: total };
}

function alterConfigs(d: Draft, c: AlterConfigs): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const topic = topicById(d, c.topicId);
  const configs = mergeTopicConfigs(topic.configs, c.set, c.delete, replicationFactorOf(topic));
  const same = Object.keys(configs).length === Object.keys(topic.configs).length && Object.entries(configs).every(([k, v]) => topic.configs[k] === v);
  if (!same) d.setConfigs(c.topicId, configs);
  return { type: 'AlterConfigs', topicId: c.topicId };
}

// ---------------------------------------------------------------------------------------
// Partitions

/**
 * AlterPartition in Kafka's manner. Two proposers:
 *  - the leader (`byLeader`): may change only the ISR; its broker epoch and leader epoch
 *    must be current, so a deposed or restarted leader cannot touch the ISR;
 *  - the controller (unstamped or stamped with its lease epoch): may move leadership and
 *    replicas and shrink the ISR, never grow it (only the leader knows who caught up), except
 *    for an unclean election where the topic allows it (ISR becomes the new leader alone).
 * Both must state the partition epoch they saw.
 */
function partitionChange(d: Draft, c: PartitionChange): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const { topic, p } = partitionOf(d, c.topicId, c.partition, undefined);
  const where = `${topic.name}-${c.partition}`;
  if (c.byLeader !== undefined) {
    const by = c.byLeader;
    registeredBroker(d, by.brokerId, by.brokerEpoch);
    if (by.leaderEpoch < p.leaderEpoch) reject('FENCED_LEADER_EPOCH', `${where} is at leader epoch ${p.leaderEpoch}; ${by.leaderEpoch} is fenced`);
    if (by.leaderEpoch > p.leaderEpoch) reject('UNKNOWN_LEADER_EPOCH', `${where} is at leader epoch ${p.leaderEpoch}, behind ${by.leaderEpoch}`);
    if (p.leader !== by.brokerId) reject('NOT_LEADER_OR_FOLLOWER', `broker ${by.brokerId} does not lead ${where}`);
    if (c.leader !== undefined || c.replicas !== undefined) reject('INVALID_REQUEST', 'a leader may change only the ISR');
    if (c.isr === undefined) reject('INVALID_REQUEST', 'a leader-proposed change must carry the new ISR');
  }
  partitionOf(d, c.topicId, c.partition, c.partitionEpoch);
  const replicas = c.replicas ?? p.replicas;
  const isr = c.isr ?? p.isr;
  const leader = c.leader ?? p.leader;
  if (c.replicas !== undefined && !sameList(replicas, p.replicas)) {
    if (p.addingReplicas.length > 0 || p.removingReplicas.length > 0) reject('REASSIGNMENT_IN_PROGRESS', `${where} is being reassigned; use the reassignment steps`);
    checkReplicaList(d, replicas, where);
  }
  if (isr.length === 0) reject('INVALID_REQUEST', `${where}: the ISR cannot be empty`);
  if (new Set(isr).size !== isr.length) reject('INVALID_REQUEST', `${where}: the ISR lists a broker twice`);
  const outside = isr.filter((id) => !replicas.includes(id));
  if (outside.length > 0) reject('INVALID_REQUEST', `${where}: ISR members ${outside.join(',')} are not replicas`);
  if (leader !== NO_LEADER && !isr.includes(leader)) reject('INVALID_REQUEST', `${where}: leader ${leader} is not in the ISR`);
  const unclean = leader !== NO_LEADER && leader !== p.leader && !p.isr.includes(leader);
  if (!sameList(isr, p.isr)) {
    const ineligible = isr.filter((id) => !d.isUnfenced(id));
    if (ineligible.length > 0) reject('INELIGIBLE_REPLICA', `${where}: brokers ${ineligible.join(',')} are fenced or unregistered`);
    const added = isr.filter((id) => !p.isr.includes(id));
    if (c.byLeader === undefined && added.length > 0 && !(unclean && sameList(isr, [leader]))) {
      reject('INVALID_REQUEST', `${where}: only the leader may add ${added.join(',')} to the ISR`);
    }
  }
  if (leader !== p.leader && leader !== NO_LEADER) {
    if (!d.isUnfenced(leader)) reject('INELIGIBLE_REPLICA', `${where}: broker ${leader} is fenced or unregistered`);
    if (unclean && !effectiveTopicConfig(topic.configs).uncleanLeaderElectionEnable) {
      reject('INVALID_REQUEST', `${where}: broker ${leader} is not in the ISR and unclean.leader.election.enable is false`);
    }
  }
  const written = writePartition(d, c.topicId, p, { replicas, isr, leader, addingReplicas: p.addingReplicas, removingReplicas: p.removingReplicas });
  return { type: 'PartitionChange', partition: written };
}

/**
 * Reassignment in KIP-455's steps: begin (replicas = target + leaving ones), the leader adds
 * the new replicas to the ISR as they catch up, complete (drop the leaving ones, move the
 * leader if it is leaving) or cancel (drop the new ones).
 */
function beginReassignment(d: Draft, c: BeginReassignment): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const { topic, p } = partitionOf(d, c.topicId, c.partition, c.partitionEpoch);
  const where = `${topic.name}-${c.partition}`;
  if (p.addingReplicas.length > 0 || p.removingReplicas.length > 0) reject('REASSIGNMENT_IN_PROGRESS', `${where} is already being reassigned`);
  checkReplicaList(d, c.targetReplicas, `target of ${where}`);
  if (sameSet(c.targetReplicas, p.replicas)) {
    // Only the preference order changes: no data moves, nothing to wait for.
    const written = writePartition(d, c.topicId, p, { ...p, replicas: c.targetReplicas });
    return { type: 'BeginReassignment', partition: written };
  }
  const addingReplicas = c.targetReplicas.filter((id) => !p.replicas.includes(id));
  const removingReplicas = p.replicas.filter((id) => !c.targetReplicas.includes(id));
  const written = writePartition(d, c.topicId, p, { ...p, replicas: [...c.targetReplicas, ...removingReplicas], addingReplicas, removingReplicas });
  return { type: 'BeginReassignment', partition: written };
}

function completeReassignment(d: Draft, c: CompleteReassignment): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const { topic, p } = partitionOf(d, c.topicId, c.partition, c.partitionEpoch);
  const where = `${topic.name}-${c.partition}`;
  if (p.addingReplicas.length === 0 && p.removingReplicas.length === 0) reject('NO_REASSIGNMENT_IN_PROGRESS', `${where} is not being reassigned`);
  const target = p.replicas.filter((id) => !p.removingReplicas.includes(id));
  const lagging = target.filter((id) => !p.isr.includes(id));
  if (lagging.length > 0) reject('REASSIGNMENT_IN_PROGRESS', `${where}: target replicas ${lagging.join(',')} are not in the ISR yet`);
  const isr = p.isr.filter((id) => target.includes(id));
  const leader = target.includes(p.leader) ? p.leader : electLeader(d, target, isr);
  const written = writePartition(d, c.topicId, p, { replicas: target, isr, leader, addingReplicas: [], removingReplicas: [] });
  return { type: 'CompleteReassignment', partition: written };
}

function cancelReassignment(d: Draft, c: CancelReassignment): CommandResult {
  checkControllerStamp(d, c.controllerEpoch);
  const { topic, p } = partitionOf(d, c.topicId, c.partition, c.partitionEpoch);
  const where = `${topic.name}-${c.partition}`;
  if (p.addingReplicas.length === 0 && p.removingReplicas.length === 0) reject('NO_REASSIGNMENT_IN_PROGRESS', `${where} is not being reassigned`);
  const original = p.replicas.filter((id) => !p.addingReplicas.includes(id));
  const isr = p.isr.filter((id) => original.includes(id));
  if (isr.length === 0) reject('INVALID_REQUEST', `${where}: no original replica is in sync; complete the reassignment instead`);
  const leader = original.includes(p.leader) ? p.leader : electLeader(d, original, isr);
  const written = writePartition(d, c.topicId, p, { replicas: original, isr, leader, addingReplicas: [], removingReplicas: [] });
  return { type: 'CancelReassignment', partition: written };
}

// ---------------------------------------------------------------------------------------
// Controller lease

/**
 * One controller acts at a time. Acquire with epoch + 1 once the current lease has lapsed
 * (or is one's own); renew or release (duration 0) with the current epoch while it is live.
 * A lapsed lease cannot be renewed: its holder must acquire a new epoch like anyone else.
 */
function controllerLease(d: Draft, c: ControllerLeaseCommand): CommandResult {
  const lease = d.controllerLease;
  const live = lease !== null && d.nowMs < lease.leaseExpiryMs;
  if (c.controllerEpoch === d.controllerEpoch) {
    if (lease === null || !live || lease.controllerId !== c.controllerId) {
      reject('STALE_CONTROLLER_EPOCH', `controller ${c.controllerId} holds no live lease at epoch ${c.controllerEpoch}`);
    }
    d.controllerLease = c.leaseDurationMs === 0 ? null : { ...lease, leaseExpiryMs: d.nowMs + c.leaseDurationMs };
    return { type: 'ControllerLease', lease: d.controllerLease };
  }
  if (c.controllerEpoch < d.controllerEpoch) reject('STALE_CONTROLLER_EPOCH', `controller epoch ${c.controllerEpoch} is behind ${d.controllerEpoch}`);
  if (c.controllerEpoch > d.controllerEpoch + 1) reject('INVALID_REQUEST', `the next controller epoch is ${d.controllerEpoch + 1}, not ${c.controllerEpoch}`);
  if (live && lease.controllerId !== c.controllerId) {
    reject('NOT_CONTROLLER', `controller ${lease.controllerId} holds the lease until ${lease.leaseExpiryMs}`);
  }
  if (c.leaseDurationMs === 0) reject('INVALID_REQUEST', 'a lease is acquired with a positive duration');
  d.controllerEpoch = c.controllerEpoch;
  d.controllerLease = { controllerId: c.controllerId, controllerEpoch: c.controllerEpoch, leaseExpiryMs: d.nowMs + c.leaseDurationMs };
  return { type: 'ControllerLease', lease: d.controllerLease };
}
