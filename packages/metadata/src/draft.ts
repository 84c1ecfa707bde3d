/**
 * Copy-on-write staging of one command's changes. A handler reads through the draft, writes
 * into it, and either throws (the draft is dropped: commands are atomic) or the draft is
 * frozen into the next image plus the delta of what changed.
 */
import { invariant } from './errors.js';
import { checkPartition, checkTopic } from './state.js';
import {
  type BrokerRegistration,
  type ControllerLease,
  type MetadataDelta,
  type MetadataState,
  type PartitionDelta,
  type PartitionState,
  type TopicState,
} from './types.js';

interface TopicEdit {
  readonly base: TopicState | undefined;
  name: string;
  configs: Readonly<Record<string, string>>;
  partitions: PartitionState[];
  /** First version of each partition touched by this command, for the delta. */
  readonly partitionBefore: Map<number, PartitionState | undefined>;
  configsChanged: boolean;
}

export class Draft {
  clusterId: string | null;
  controllerEpoch: number;
  controllerLease: ControllerLease | null;
  private brokers: Map<number, BrokerRegistration> | undefined;
  private readonly brokerBefore = new Map<number, BrokerRegistration | undefined>();
  private readonly brokersRemoved = new Map<number, BrokerRegistration>();
  private readonly topicEdits = new Map<string, TopicEdit>();
  private readonly deleted = new Map<string, TopicState>();

  constructor(
    readonly base: MetadataState,
    readonly index: number,
    readonly nowMs: number,
  ) {
    this.clusterId = base.clusterId;
    this.controllerEpoch = base.controllerEpoch;
    this.controllerLease = base.controllerLease;
  }

  broker(brokerId: number): BrokerRegistration | undefined {
    return (this.brokers ?? this.base.brokers).get(brokerId);
  }

  brokerList(): BrokerRegistration[] {
    return [...(this.brokers ?? this.base.brokers).values()];
  }

  isUnfenced(brokerId: number): boolean {
    return this.broker(brokerId)?.fenced === false;
  }

  putBroker(broker: BrokerRegistration): void {
    this.brokers ??= new Map(this.base.brokers);
    if (!this.brokerBefore.has(broker.brokerId)) this.brokerBefore.set(broker.brokerId, this.brokers.get(broker.brokerId));
    this.brokers.set(broker.brokerId, broker);
  }

  removeBroker(brokerId: number): void {
    const base = this.base.brokers.get(brokerId);
    invariant(base !== undefined, () => `removal of unknown broker ${brokerId}`);
    this.brokers ??= new Map(this.base.brokers);
    this.brokers.delete(brokerId);
    this.brokersRemoved.set(brokerId, base);
  }

  topic(topicId: string): TopicState | undefined {
    if (this.deleted.has(topicId)) return undefined;
    const edit = this.topicEdits.get(topicId);
    if (edit !== undefined) return { topicId, name: edit.name, configs: edit.configs, partitions: edit.partitions };
    return this.base.topics.get(topicId);
  }

  topicIdByName(name: string): string | undefined {
    for (const [id, edit] of this.topicEdits) if (edit.name === name && !this.deleted.has(id)) return id;
    const id = this.base.topicIdsByName.get(name);
    return id === undefined || this.deleted.has(id) ? undefined : id;
  }

  /** Topic ids in image order (base order, then topics created by this command). */
  topicIds(): string[] {
    const ids = [...this.base.topics.keys()];
    for (const id of this.topicEdits.keys()) if (!this.base.topics.has(id)) ids.push(id);
    return ids.filter((id) => !this.deleted.has(id));
  }

  private edit(topicId: string): TopicEdit {
    let edit = this.topicEdits.get(topicId);
    if (edit === undefined) {
      const base = this.base.topics.get(topicId);
      invariant(base !== undefined && !this.deleted.has(topicId), () => `edit of unknown topic ${topicId}`);
      edit = { base, name: base.name, configs: base.configs, partitions: [...base.partitions], partitionBefore: new Map(), configsChanged: false };
      this.topicEdits.set(topicId, edit);
    }
    return edit;
  }

  createTopic(topic: TopicState): void {
    invariant(this.topic(topic.topicId) === undefined && !this.base.topics.has(topic.topicId), () => `topic id ${topic.topicId} reused`);
    const partitionBefore = new Map<number, PartitionState | undefined>(topic.partitions.map((p) => [p.partition, undefined]));
    this.topicEdits.set(topic.topicId, {
      base: undefined,
      name: topic.name,
      configs: topic.configs,
      partitions: [...topic.partitions],
      partitionBefore,
      configsChanged: false,
    });
  }

  deleteTopic(topicId: string): void {
    const topic = this.topic(topicId);
    invariant(topic !== undefined, () => `delete of unknown topic ${topicId}`);
    this.deleted.set(topicId, topic);
  }

  putPartition(topicId: string, partition: PartitionState): void {
    const edit = this.edit(topicId);
    invariant(partition.partition <= edit.partitions.length, () => `partition ${partition.partition} leaves a gap`);
    checkPartition(edit.name, partition);
    if (!edit.partitionBefore.has(partition.partition)) edit.partitionBefore.set(partition.partition, edit.partitions[partition.partition]);
    edit.partitions[partition.partition] = partition;
  }

  setConfigs(topicId: string, configs: Readonly<Record<string, string>>): void {
    const edit = this.edit(topicId);
    edit.configs = configs;
    edit.configsChanged = true;
  }

  finish(): { state: MetadataState; delta: MetadataDelta } {
    const base = this.base;
    let topics: Map<string, TopicState> | undefined;
    let names: Map<string, string> | undefined;
    const topicsCreated: TopicState[] = [];
    const partitions: PartitionDelta[] = [];
    const configsChanged: string[] = [];
    for (const [topicId, edit] of this.topicEdits) {
      if (this.deleted.has(topicId)) continue;
      topics ??= new Map(base.topics);
      const topic: TopicState = { topicId, name: edit.name, configs: edit.configs, partitions: edit.partitions };
      checkTopic(topic);
      topics.set(topicId, topic);
      if (edit.base === undefined) {
        names ??= new Map(base.topicIdsByName);
        names.set(topic.name, topicId);
        topicsCreated.push(topic);
      } else if (edit.configsChanged) {
        configsChanged.push(topicId);
      }
      for (const [partition, before] of edit.partitionBefore) {
        const after = edit.partitions[partition];
        invariant(after !== undefined, () => `partition ${partition} of ${edit.name} vanished`);
        if (before !== after) partitions.push(before === undefined ? { topicId, partition, after } : { topicId, partition, before, after });
      }
    }
    const topicsDeleted: TopicState[] = [];
    for (const [topicId, topic] of this.deleted) {
      topics ??= new Map(base.topics);
      names ??= new Map(base.topicIdsByName);
      topics.delete(topicId);
      names.delete(topic.name);
      if (base.topics.has(topicId)) topicsDeleted.push(base.topics.get(topicId) ?? topic);
    }
    const brokers = [...this.brokerBefore].filter(([brokerId]) => !this.brokersRemoved.has(brokerId)).map(([brokerId, before]) => {
      const after = this.brokers?.get(brokerId);
      invariant(after !== undefined, () => `broker ${brokerId} vanished`);
      return before === undefined ? { brokerId, after } : { brokerId, before, after };
    });
    const state: MetadataState = {
      clusterId: this.clusterId,
      appliedIndex: this.index,
      clockMs: this.nowMs,
      controllerEpoch: this.controllerEpoch,
      controllerLease: this.controllerLease,
      brokers: this.brokers ?? base.brokers,
      topics: topics ?? base.topics,
      topicIdsByName: names ?? base.topicIdsByName,
    };
    const delta: MetadataDelta = {
      clusterIdChanged: this.clusterId !== base.clusterId,
      brokers,
      brokersUnregistered: [...this.brokersRemoved.values()],
      topicsCreated,
      topicsDeleted,
      partitions,
      configsChanged,
      controllerLeaseChanged: this.controllerLease !== base.controllerLease,
    };
    return { state, delta };
  }
}

export const emptyDelta: MetadataDelta = {
  clusterIdChanged: false,
  brokers: [],
  brokersUnregistered: [],
  topicsCreated: [],
  topicsDeleted: [],
  partitions: [],
  configsChanged: [],
  controllerLeaseChanged: false,
};
