/**
 * Structural checks of commands, shared by the decoder and by `apply` (a command built in
 * memory gets the same typed error as one read from a corrupt log entry).
 * Semantic rules (does the topic exist, is the epoch current) live in apply.ts.
 */
import { MetadataError, type MetadataErrorCode } from './errors.js';
import { metadataLimits, type MetadataCommand, type MetadataCommandType } from './types.js';

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

export function fail(path: string, expected: string): never {
  throw new ShapeError(`${path}: expected ${expected}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function obj(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path, 'an object');
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(`${path}.${key}`, 'no such field');
  }
  return value;
}

export function int(value: unknown, path: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(path, `an integer from ${min} to ${max}`);
  }
  // -0 would encode differently from 0 and break byte-identical snapshots.
  return value === 0 ? 0 : value;
}

export function str(value: unknown, path: string, lengthMax: number, lengthMin = 0): string {
  if (typeof value !== 'string' || value.length > lengthMax || value.length < lengthMin) {
    fail(path, `a string of ${lengthMin} to ${lengthMax} characters`);
  }
  return value;
}

export function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'a boolean');
  return value;
}

export function arr<T>(value: unknown, path: string, lengthMax: number, item: (v: unknown, p: string, i: number) => T): T[] {
  if (!Array.isArray(value) || value.length > lengthMax) fail(path, `an array of at most ${lengthMax} items`);
  return value.map((v: unknown, i) => item(v, `${path}[${i}]`, i));
}

const configKeyLengthMax = 256;

export function stringMap(value: unknown, path: string, entriesMax: number, valueLengthMax: number): Record<string, string> {
  if (!isPlainObject(value)) fail(path, 'an object of strings');
  // Sorted, so that maps equal up to key order encode to the same bytes.
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > entriesMax) fail(path, `at most ${entriesMax} entries`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length > configKeyLengthMax) fail(`${path}`, `keys of at most ${configKeyLengthMax} characters`);
    // Assigning "__proto__" would be dropped silently instead of failing as an unknown key.
    if (k === '__proto__') fail(`${path}`, 'no "__proto__" key');
    out[k] = str(v, `${path}.${k}`, valueLengthMax);
  }
  return out;
}

const L = metadataLimits;
const brokerId = (v: unknown, p: string): number => int(v, p, 0, L.brokerIdMax);
const epoch = (v: unknown, p: string): number => int(v, p, 0);
const topicId = (v: unknown, p: string): string => str(v, p, 64, 1);
const partition = (v: unknown, p: string): number => int(v, p, 0, L.partitionsPerTopicMax - 1);
const brokerList = (v: unknown, p: string): number[] => arr(v, p, L.replicationFactorMax, brokerId);
const optional = <T>(v: unknown, read: (v: unknown) => T): T | undefined => (v === undefined ? undefined : read(v));

type Reader = (c: Record<string, unknown>) => MetadataCommand;

/** Field lists double as the allow-list of keys for each command type. */
const readers: { readonly [K in MetadataCommandType]: { readonly keys: readonly string[]; readonly read: Reader } } = {
  InitializeCluster: {
    keys: ['clusterId'],
    read: (c) => ({ type: 'InitializeCluster', clusterId: str(c.clusterId, 'clusterId', L.clusterIdLengthMax, 1) }),
  },
  RegisterBroker: {
    keys: ['brokerId', 'incarnationId', 'host', 'port', 'rack', 'clusterId'],
    read: (c) => {
      const clusterId = optional(c.clusterId, (v) => str(v, 'clusterId', L.clusterIdLengthMax, 1));
      return {
        type: 'RegisterBroker',
        brokerId: brokerId(c.brokerId, 'brokerId'),
        incarnationId: str(c.incarnationId, 'incarnationId', L.incarnationIdLengthMax, 1),
        host: str(c.host, 'host', L.hostLengthMax, 1),
        port: int(c.port, 'port', 1, 65_535),
        rack: c.rack === null ? null : str(c.rack, 'rack', L.rackLengthMax, 1),
        ...(clusterId === undefined ? {} : { clusterId }),
      };
    },
  },
  BrokerHeartbeat: {
    keys: ['brokerId', 'brokerEpoch'],
    read: (c) => ({ type: 'BrokerHeartbeat', brokerId: brokerId(c.brokerId, 'brokerId'), brokerEpoch: epoch(c.brokerEpoch, 'brokerEpoch') }),
  },
  FenceBroker: {
    keys: ['brokerId', 'brokerEpoch', 'controllerEpoch'],
    read: (c) => ({ type: 'FenceBroker', brokerId: brokerId(c.brokerId, 'brokerId'), brokerEpoch: epoch(c.brokerEpoch, 'brokerEpoch'), ...stamp(c) }),
  },
  UnfenceBroker: {
    keys: ['brokerId', 'brokerEpoch', 'controllerEpoch'],
    read: (c) => ({ type: 'UnfenceBroker', brokerId: brokerId(c.brokerId, 'brokerId'), brokerEpoch: epoch(c.brokerEpoch, 'brokerEpoch'), ...stamp(c) }),
  },
  UnregisterBroker: {
    keys: ['brokerId', 'brokerEpoch', 'controllerEpoch'],
    read: (c) => ({ type: 'UnregisterBroker', brokerId: brokerId(c.brokerId, 'brokerId'), brokerEpoch: epoch(c.brokerEpoch, 'brokerEpoch'), ...stamp(c) }),
  },
  CreateTopic: {
    keys: ['name', 'assignment', 'configs', 'controllerEpoch'],
    read: (c) => ({
      type: 'CreateTopic',
      // Name rules are checked by apply so that a bad name gets INVALID_TOPIC_EXCEPTION.
      name: str(c.name, 'name', L.topicNameLengthMax * 4),
      assignment: arr(c.assignment, 'assignment', L.partitionsPerTopicMax, brokerList),
      configs: stringMap(c.configs, 'configs', L.configEntriesMax, 1024),
      ...stamp(c),
    }),
  },
  DeleteTopic: {
    keys: ['topicId', 'controllerEpoch'],
    read: (c) => ({ type: 'DeleteTopic', topicId: topicId(c.topicId, 'topicId'), ...stamp(c) }),
  },
  CreatePartitions: {
    keys: ['topicId', 'assignment', 'controllerEpoch'],
    read: (c) => ({
      type: 'CreatePartitions',
      topicId: topicId(c.topicId, 'topicId'),
      assignment: arr(c.assignment, 'assignment', L.partitionsPerTopicMax, brokerList),
      ...stamp(c),
    }),
  },
  AlterConfigs: {
    keys: ['topicId', 'set', 'delete', 'controllerEpoch'],
    read: (c) => ({
      type: 'AlterConfigs',
      topicId: topicId(c.topicId, 'topicId'),
      set: stringMap(c.set, 'set', L.configEntriesMax, 1024),
      delete: arr(c.delete, 'delete', L.configEntriesMax, (v, p) => str(v, p, 256)),
      ...stamp(c),
    }),
  },
  PartitionChange: {
    keys: ['topicId', 'partition', 'partitionEpoch', 'byLeader', 'leader', 'isr', 'replicas', 'controllerEpoch'],
    read: (c) => {
      const byLeader = optional(c.byLeader, (v) => {
        const o = obj(v, 'byLeader', ['brokerId', 'brokerEpoch', 'leaderEpoch']);
        return {
          brokerId: brokerId(o.brokerId, 'byLeader.brokerId'),
          brokerEpoch: epoch(o.brokerEpoch, 'byLeader.brokerEpoch'),
          leaderEpoch: epoch(o.leaderEpoch, 'byLeader.leaderEpoch'),
        };
      });
      const leader = optional(c.leader, (v) => int(v, 'leader', -1, L.brokerIdMax));
      const isr = optional(c.isr, (v) => brokerList(v, 'isr'));
      const replicas = optional(c.replicas, (v) => brokerList(v, 'replicas'));
      return {
        type: 'PartitionChange',
        topicId: topicId(c.topicId, 'topicId'),
        partition: partition(c.partition, 'partition'),
        partitionEpoch: epoch(c.partitionEpoch, 'partitionEpoch'),
        ...(byLeader === undefined ? {} : { byLeader }),
        ...(leader === undefined ? {} : { leader }),
        ...(isr === undefined ? {} : { isr }),
        ...(replicas === undefined ? {} : { replicas }),
        ...stamp(c),
      };
    },
  },
  BeginReassignment: {
    keys: ['topicId', 'partition', 'partitionEpoch', 'targetReplicas', 'controllerEpoch'],
    read: (c) => ({
      type: 'BeginReassignment',
      topicId: topicId(c.topicId, 'topicId'),
      partition: partition(c.partition, 'partition'),
      partitionEpoch: epoch(c.partitionEpoch, 'partitionEpoch'),
      targetReplicas: brokerList(c.targetReplicas, 'targetReplicas'),
      ...stamp(c),
    }),
  },
  CompleteReassignment: {
    keys: ['topicId', 'partition', 'partitionEpoch', 'controllerEpoch'],
    read: (c) => ({
      type: 'CompleteReassignment',
      topicId: topicId(c.topicId, 'topicId'),
      partition: partition(c.partition, 'partition'),
      partitionEpoch: epoch(c.partitionEpoch, 'partitionEpoch'),
      ...stamp(c),
    }),
  },
  CancelReassignment: {
    keys: ['topicId', 'partition', 'partitionEpoch', 'controllerEpoch'],
    read: (c) => ({
      type: 'CancelReassignment',
      topicId: topicId(c.topicId, 'topicId'),
      partition: partition(c.partition, 'partition'),
      partitionEpoch: epoch(c.partitionEpoch, 'partitionEpoch'),
      ...stamp(c),
    }),
  },
  ControllerLease: {
    keys: ['controllerId', 'controllerEpoch', 'leaseDurationMs'],
    read: (c) => ({
      type: 'ControllerLease',
      controllerId: int(c.controllerId, 'controllerId', 0, L.brokerIdMax),
      controllerEpoch: int(c.controllerEpoch, 'controllerEpoch', 1),
      leaseDurationMs: int(c.leaseDurationMs, 'leaseDurationMs', 0, L.leaseDurationMsMax),
    }),
  },
};

function stamp(c: Record<string, unknown>): { controllerEpoch?: number } {
  return c.controllerEpoch === undefined ? {} : { controllerEpoch: int(c.controllerEpoch, 'controllerEpoch', 1) };
}

export const commandTypes: readonly MetadataCommandType[] = Object.keys(readers) as MetadataCommandType[];

/**
 * Returns a fresh, fully checked copy of `value` as a command (only known fields, -0 folded
 * to 0), or throws a `MetadataError` with `code` naming what was wrong.
 */
export function readCommand(value: unknown, code: MetadataErrorCode): MetadataCommand {
  try {
    if (!isPlainObject(value)) fail('command', 'an object');
    const type = value.type;
    if (typeof type !== 'string' || !Object.hasOwn(readers, type)) {
      fail('command.type', `one of ${commandTypes.join(', ')}`);
    }
    const reader = readers[type as MetadataCommandType];
    obj(value, 'command', ['type', ...reader.keys]);
    return reader.read(value);
  } catch (err) {
    if (err instanceof ShapeError) throw new MetadataError(code, `malformed command: ${err.message}`, { cause: err });
    throw err;
  }
}
