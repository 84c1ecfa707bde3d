import { type MetadataError } from './errors.js';

/**
 * The metadata image and the commands that change it.
 *
 * Everything here is plain data (numbers, strings, arrays, plain objects, Maps) so that a
 * snapshot is a faithful copy and two replicas can be compared with a deep equality.
 * States are immutable: `apply` returns a new state that shares untouched parts.
 */

/** Bounds enforced by `apply` and the codec. Constants, so every replica enforces the same ones. */
export const metadataLimits = {
  topicNameLengthMax: 249,
  partitionsPerTopicMax: 10_000,
  replicationFactorMax: 32,
  brokerIdMax: 2_147_483_647,
  incarnationIdLengthMax: 64,
  hostLengthMax: 255,
  rackLengthMax: 255,
  clusterIdLengthMax: 64,
  configEntriesMax: 64,
  /** Past incarnation ids kept per broker so a replaced process cannot register again. */
  retiredIncarnationsMax: 8,
  leaseDurationMsMax: 60_000,
  commandBytesMax: 8 * 1024 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
} as const;

/** Leader id of a partition without a leader (Kafka's NO_LEADER). */
export const NO_LEADER = -1;

export interface BrokerRegistration {
  readonly brokerId: number;
  /** Random id the broker process picks at start; a new one means a new process. */
  readonly incarnationId: string;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  /** The log index of the registration that created this incarnation. */
  readonly brokerEpoch: number;
  /** Metadata-clock time of the last heartbeat (or the registration). */
  readonly lastHeartbeatMs: number;
  readonly fenced: boolean;
  /** Incarnation ids this broker id used before, oldest first, at most `retiredIncarnationsMax`. */
  readonly retiredIncarnationIds: readonly string[];
}

export interface PartitionState {
  readonly partition: number;
  /** Replica broker ids; the first is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Broker id of the leader, or `NO_LEADER`. */
  readonly leader: number;
  /** Bumped on every leader change. */
  readonly leaderEpoch: number;
  /** Bumped on every change of this partition (leader, ISR, replicas, reassignment). */
  readonly partitionEpoch: number;
  /** Replicas being added by an ongoing reassignment (subset of replicas). */
  readonly addingReplicas: readonly number[];
  /** Replicas being removed by an ongoing reassignment (subset of replicas). */
  readonly removingReplicas: readonly number[];
  /** True exactly when `leader === NO_LEADER`; kept as a field for describe output. */
  readonly offline: boolean;
}

export interface TopicState {
  readonly topicId: string;
  readonly name: string;
  /** Only the explicitly set configs, normalized, keys sorted. Defaults are not stored. */
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionState[];
}

export interface ControllerLease {
  readonly controllerId: number;
  readonly controllerEpoch: number;
  readonly leaseExpiryMs: number;
}

export interface MetadataState {
  readonly clusterId: string | null;
  /** Index of the last applied log entry (0 = nothing applied). */
  readonly appliedIndex: number;
  /** The metadata clock: the highest command timestamp applied so far. */
  readonly clockMs: number;
  /** Highest controller epoch ever granted (survives a released lease). */
  readonly controllerEpoch: number;
  readonly controllerLease: ControllerLease | null;
  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly topics: ReadonlyMap<string, TopicState>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
}

/** Stamp a controller puts on its decisions; checked against the current lease. */
export interface ControllerStamp {
  readonly controllerEpoch?: number;
}

export interface InitializeCluster {
  readonly type: 'InitializeCluster';
  readonly clusterId: string;
}

export interface RegisterBroker {
  readonly type: 'RegisterBroker';
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  /** When set, the cluster id the broker was formatted with; a mismatch is rejected. */
  readonly clusterId?: string;
}

export interface BrokerHeartbeat {
  readonly type: 'BrokerHeartbeat';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface FenceBroker extends ControllerStamp {
  readonly type: 'FenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface UnfenceBroker extends ControllerStamp {
  readonly type: 'UnfenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** Decommission: the broker leaves every ISR and leadership (as if fenced) and its registration is removed. */
export interface UnregisterBroker extends ControllerStamp {
  readonly type: 'UnregisterBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface CreateTopic extends ControllerStamp {
  readonly type: 'CreateTopic';
  readonly name: string;
  /** Replica list per partition, computed by the proposer (see `placeReplicas`). */
  readonly assignment: readonly (readonly number[])[];
  readonly configs: Readonly<Record<string, string>>;
}

export interface DeleteTopic extends ControllerStamp {
  readonly type: 'DeleteTopic';
  readonly topicId: string;
}

export interface CreatePartitions extends ControllerStamp {
  readonly type: 'CreatePartitions';
  readonly topicId: string;
  /** Replica lists of the new partitions only, in partition order. */
  readonly assignment: readonly (readonly number[])[];
}

export interface AlterConfigs extends ControllerStamp {
  readonly type: 'AlterConfigs';
  readonly topicId: string;
  readonly set: Readonly<Record<string, string>>;
  /** Keys reverted to their default. */
  readonly delete: readonly string[];
}

/** The partition's leader asks to change the ISR (Kafka's AlterPartition). */
export interface LeaderProposer {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly leaderEpoch: number;
}

export interface PartitionChange extends ControllerStamp {
  readonly type: 'PartitionChange';
  readonly topicId: string;
  readonly partition: number;
  /** The partition epoch the proposer saw; anything else is rejected. */
  readonly partitionEpoch: number;
  /** Set when the leader proposes (ISR changes only); absent for controller decisions. */
  readonly byLeader?: LeaderProposer;
  readonly leader?: number;
  readonly isr?: readonly number[];
  readonly replicas?: readonly number[];
}

export interface BeginReassignment extends ControllerStamp {
  readonly type: 'BeginReassignment';
  readonly topicId: string;
  readonly partition: number;
  readonly partitionEpoch: number;
  readonly targetReplicas: readonly number[];
}

export interface CompleteReassignment extends ControllerStamp {
  readonly type: 'CompleteReassignment';
  readonly topicId: string;
  readonly partition: number;
  readonly partitionEpoch: number;
}

export interface CancelReassignment extends ControllerStamp {
  readonly type: 'CancelReassignment';
  readonly topicId: string;
  readonly partition: number;
  readonly partitionEpoch: number;
}

export interface ControllerLeaseCommand {
  readonly type: 'ControllerLease';
  readonly controllerId: number;
  readonly controllerEpoch: number;
  /** The lease lasts this long from the command's timestamp; 0 releases it. */
  readonly leaseDurationMs: number;
}

export type MetadataCommand =
  | InitializeCluster
  | RegisterBroker
  | BrokerHeartbeat
  | FenceBroker
  | UnfenceBroker
  | UnregisterBroker
  | CreateTopic
  | DeleteTopic
  | CreatePartitions
  | AlterConfigs
  | PartitionChange
  | BeginReassignment
  | CompleteReassignment
  | CancelReassignment
  | ControllerLeaseCommand;

export type MetadataCommandType = MetadataCommand['type'];

export interface PartitionRef {
  readonly topicId: string;
  readonly partition: number;
}

/** One partition that changed: `before` is absent for a new partition. */
export interface PartitionDelta extends PartitionRef {
  readonly before?: PartitionState;
  readonly after: PartitionState;
}

/**
 * What one applied command changed, so brokers react without diffing images.
 * Lists are in a deterministic order (the order the change was made).
 */
export interface MetadataDelta {
  readonly clusterIdChanged: boolean;
  readonly brokers: readonly { readonly brokerId: number; readonly before?: BrokerRegistration; readonly after: BrokerRegistration }[];
  readonly brokersUnregistered: readonly BrokerRegistration[];
  readonly topicsCreated: readonly TopicState[];
  readonly topicsDeleted: readonly TopicState[];
  /** Partitions created or changed in topics that still exist after the command. */
  readonly partitions: readonly PartitionDelta[];
  readonly configsChanged: readonly string[];
  readonly controllerLeaseChanged: boolean;
}

/** Per-command results, for the proposer's reply. */
export type CommandResult =
  | { readonly type: 'InitializeCluster'; readonly clusterId: string }
  | { readonly type: 'RegisterBroker'; readonly brokerId: number; readonly brokerEpoch: number }
  | { readonly type: 'BrokerHeartbeat'; readonly fenced: boolean }
  | { readonly type: 'FenceBroker'; readonly brokerId: number }
  | { readonly type: 'UnfenceBroker'; readonly brokerId: number }
  | { readonly type: 'UnregisterBroker'; readonly brokerId: number }
  | { readonly type: 'CreateTopic'; readonly topicId: string; readonly name: string }
  | { readonly type: 'DeleteTopic'; readonly topicId: string; readonly name: string }
  | { readonly type: 'CreatePartitions'; readonly topicId: string; readonly partitionCount: number }
  | { readonly type: 'AlterConfigs'; readonly topicId: string }
  | { readonly type: 'PartitionChange'; readonly partition: PartitionState }
  | { readonly type: 'BeginReassignment'; readonly partition: PartitionState }
  | { readonly type: 'CompleteReassignment'; readonly partition: PartitionState }
  | { readonly type: 'CancelReassignment'; readonly partition: PartitionState }
  | { readonly type: 'ControllerLease'; readonly lease: ControllerLease | null };

export type ApplyOutcome =
  | { readonly ok: true; readonly result: CommandResult }
  | { readonly ok: false; readonly error: MetadataError };

export interface ApplyResult {
  readonly state: MetadataState;
  readonly outcome: ApplyOutcome;
  readonly delta: MetadataDelta;
}
