// The partition replication core (DESIGN.md §5): transport-agnostic; the broker wires its
// ReplicaFetch gRPC service, metadata deltas and produce path to these classes.
export { FollowerPartition, ReplicaFetcher, type FollowerOutcome, type FollowerPartitionOptions, type ReplicaFetcherOptions, type SendReplicaFetch } from './follower.js';
export { LeaderPartition, type AlterPartitionFn, type AlterPartitionResult, type FollowerState, type LeaderPartitionOptions, type ProduceResult } from './leader.js';
export {
  ReplicaManager,
  type PartitionAssignment,
  type PartitionReplicaStatus,
  type ReplicaManagerOptions,
  type ReplicaRole,
  type ReplicationMetrics,
} from './replica-manager.js';
export {
  DEFAULT_REPLICATION_CONFIG,
  isReplicationError,
  ReplicationError,
  resolveReplicationConfig,
  systemScheduler,
  type Acks,
  type ReplicationConfig,
  type Scheduler,
  type TopicPartitionRef,
} from './types.js';
