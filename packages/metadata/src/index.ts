// The public entry of @streambus/metadata: the cluster metadata state machine.
export { apply, replicationFactorOf, timestampMsMax, validateTopicName } from './apply.js';
export { COMMAND_FORMAT_VERSION, SNAPSHOT_FORMAT_VERSION, decodeCommand, encodeCommand, restore, snapshot } from './codec.js';
export {
  describeTopicConfigs,
  effectiveTopicConfig,
  mergeTopicConfigs,
  normalizeConfigValue,
  topicConfigDefs,
  topicConfigKeys,
  type CleanupPolicy,
  type CompressionType,
  type TopicConfig,
} from './configs.js';
export { MetadataError, MetadataInvariantError, metadataErrorCodes, type MetadataErrorCode } from './errors.js';
export { topicIdFor } from './ids.js';
export { brokerLoad, placeReplicas, placeReplicasFor, type BrokerLoad, type PlacementBroker } from './placement.js';
export {
  brokersWithExpiredSessions,
  describeCluster,
  describeTopic,
  leaderBroker,
  leaderOf,
  localChanges,
  offlinePartitions,
  partitionState,
  partitionsLedBy,
  partitionsReplicatedOn,
  topicById,
  topicByName,
  topicConfig,
  underReplicatedPartitions,
  unfencedBrokers,
  type ClusterDescription,
  type LocalChanges,
  type LocalPartition,
  type TopicDescription,
} from './queries.js';
export { commandTypes } from './shape.js';
export { checkInvariants, emptyState } from './state.js';
export {
  NO_LEADER,
  metadataLimits,
  type AlterConfigs,
  type ApplyOutcome,
  type ApplyResult,
  type BeginReassignment,
  type BrokerHeartbeat,
  type BrokerRegistration,
  type CancelReassignment,
  type CommandResult,
  type CompleteReassignment,
  type ControllerLease,
  type ControllerLeaseCommand,
  type ControllerStamp,
  type CreatePartitions,
  type CreateTopic,
  type DeleteTopic,
  type FenceBroker,
  type InitializeCluster,
  type LeaderProposer,
  type MetadataCommand,
  type MetadataCommandType,
  type MetadataDelta,
  type MetadataState,
  type PartitionChange,
  type PartitionDelta,
  type PartitionRef,
  type PartitionState,
  type RegisterBroker,
  type TopicState,
  type UnfenceBroker,
} from './types.js';
