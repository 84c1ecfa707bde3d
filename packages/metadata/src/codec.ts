/**
 * Byte formats of the metadata log entries and snapshots.
 *
 * Command: [version u8 = 1][MessagePack map of the command]. The map holds only the
 * command's own fields in a fixed order, so the same command always encodes to the same bytes.
 *
 * Snapshot: ["SBMD" magic][version u8 = 1][CRC-32C (big endian) of the payload][payload],
 * the payload a MessagePack map (layout in README.md). Brokers and topics are written in the
 * image's own order, so restore(snapshot(s)) deep-equals s and snapshots again byte-identically.
 *
 * Decoders never trust their input: every field is checked, and anything else
 * (garbage, truncation, trailing bytes, out-of-range numbers) gives a typed MetadataError.
 */
import { Packr } from 'msgpackr';
import { MetadataError, MetadataInvariantError } from './errors.js';
import { crc32c } from './ids.js';
import { ShapeError, arr, bool, int, obj, readCommand, str, stringMap } from './shape.js';
import { checkInvariants } from './state.js';
import {
  NO_LEADER,
  metadataLimits,
  type BrokerRegistration,
  type ControllerLease,
  type MetadataCommand,
  type MetadataState,
  type PartitionState,
  type TopicState,
} from './types.js';

export const COMMAND_FORMAT_VERSION = 1;
export const SNAPSHOT_FORMAT_VERSION = 1;
const snapshotMagic = [0x53, 0x42, 0x4d, 0x44]; // "SBMD"
const snapshotHeaderBytes = snapshotMagic.length + 1 + 4;

// Plain MessagePack maps (no record extension): the bytes depend on the value alone, never
// on what the encoder saw before.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

function pack(value: unknown): Uint8Array {
  // msgpackr returns a view of a reused buffer; copy it out.
  return Uint8Array.from(packr.pack(value));
}

function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes) as unknown;
  } catch (err) {
    throw new MetadataError('CORRUPT_MESSAGE', `${what} is not valid MessagePack`, { cause: err });
  }
}

export function encodeCommand(command: MetadataCommand): Uint8Array {
  const body = pack(readCommand(command, 'INVALID_REQUEST'));
  if (body.length + 1 > metadataLimits.commandBytesMax) {
    throw new MetadataError('INVALID_REQUEST', `command of ${body.length + 1} bytes exceeds ${metadataLimits.commandBytesMax}`);
  }
  const out = new Uint8Array(body.length + 1);
  out[0] = COMMAND_FORMAT_VERSION;
  out.set(body, 1);
  return out;
}

export function decodeCommand(bytes: Uint8Array): MetadataCommand {
  if (bytes.length < 2) throw new MetadataError('CORRUPT_MESSAGE', `command of ${bytes.length} bytes is too short`);
  if (bytes.length > metadataLimits.commandBytesMax) {
    throw new MetadataError('CORRUPT_MESSAGE', `command of ${bytes.length} bytes exceeds ${metadataLimits.commandBytesMax}`);
  }
  if (bytes[0] !== COMMAND_FORMAT_VERSION) {
    throw new MetadataError('UNSUPPORTED_VERSION', `command format version ${bytes[0]} (this build reads ${COMMAND_FORMAT_VERSION})`);
  }
  return readCommand(unpack(bytes.subarray(1), 'command'), 'CORRUPT_MESSAGE');
}

// ---------------------------------------------------------------------------------------
// Snapshots

type BrokerTuple = [number, string, string, number, string | null, number, number, boolean, string[]];
type PartitionTuple = [number[], number[], number, number, number, number[], number[]];

function brokerTuple(b: BrokerRegistration): BrokerTuple {
  return [b.brokerId, b.incarnationId, b.host, b.port, b.rack, b.brokerEpoch, b.lastHeartbeatMs, b.fenced, [...b.retiredIncarnationIds]];
}

function partitionTuple(p: PartitionState): PartitionTuple {
  return [[...p.replicas], [...p.isr], p.leader, p.leaderEpoch, p.partitionEpoch, [...p.addingReplicas], [...p.removingReplicas]];
}

export function snapshot(state: MetadataState): Uint8Array {
  const lease = state.controllerLease;
  const payload = pack({
    clusterId: state.clusterId,
    appliedIndex: state.appliedIndex,
    clockMs: state.clockMs,
    controllerEpoch: state.controllerEpoch,
    controllerLease: lease === null ? null : [lease.controllerId, lease.controllerEpoch, lease.leaseExpiryMs],
    brokers: [...state.brokers.values()].map(brokerTuple),
    topics: [...state.topics.values()].map((t) => [t.topicId, t.name, t.configs, t.partitions.map(partitionTuple)]),
  });
  const out = new Uint8Array(snapshotHeaderBytes + payload.length);
  out.set(snapshotMagic, 0);
  out[snapshotMagic.length] = SNAPSHOT_FORMAT_VERSION;
  new DataView(out.buffer).setUint32(snapshotMagic.length + 1, crc32c(payload));
  out.set(payload, snapshotHeaderBytes);
  return out;
}

export function restore(bytes: Uint8Array): MetadataState {
  if (bytes.length < snapshotHeaderBytes + 1) throw new MetadataError('CORRUPT_MESSAGE', `snapshot of ${bytes.length} bytes is too short`);
  if (bytes.length > metadataLimits.snapshotBytesMax) throw new MetadataError('CORRUPT_MESSAGE', `snapshot of ${bytes.length} bytes is too large`);
  if (!snapshotMagic.every((b, i) => bytes[i] === b)) throw new MetadataError('CORRUPT_MESSAGE', 'not a metadata snapshot (bad magic)');
  const version = bytes[snapshotMagic.length];
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new MetadataError('UNSUPPORTED_VERSION', `snapshot format version ${version} (this build reads ${SNAPSHOT_FORMAT_VERSION})`);
  }
  const payload = bytes.subarray(snapshotHeaderBytes);
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(snapshotMagic.length + 1);
  if (crc32c(payload) !== stored) throw new MetadataError('CORRUPT_MESSAGE', 'snapshot checksum mismatch');
  const value = unpack(payload, 'snapshot');
  try {
    const state = readSnapshot(value);
    checkInvariants(state);
    return state;
  } catch (err) {
    if (err instanceof ShapeError || err instanceof MetadataInvariantError) {
      throw new MetadataError('CORRUPT_MESSAGE', `malformed snapshot: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

const L = metadataLimits;
const brokerIds = (v: unknown, p: string): number[] => arr(v, p, L.replicationFactorMax, (x, q) => int(x, q, 0, L.brokerIdMax));

function tuple(value: unknown, path: string, length: number): unknown[] {
  if (!Array.isArray(value) || value.length !== length) throw new ShapeError(`${path}: expected an array of ${length} items`);
  return value;
}

function readSnapshot(value: unknown): MetadataState {
  const o = obj(value, 'snapshot', ['clusterId', 'appliedIndex', 'clockMs', 'controllerEpoch', 'controllerLease', 'brokers', 'topics']);
  const appliedIndex = int(o.appliedIndex, 'appliedIndex', 0);
  let controllerLease: ControllerLease | null = null;
  if (o.controllerLease !== null) {
    const t = tuple(o.controllerLease, 'controllerLease', 3);
    controllerLease = { controllerId: int(t[0], 'controllerLease.controllerId', 0, L.brokerIdMax), controllerEpoch: int(t[1], 'controllerLease.controllerEpoch', 1), leaseExpiryMs: int(t[2], 'controllerLease.leaseExpiryMs', 0) };
  }
  const brokers = new Map<number, BrokerRegistration>();
  arr(o.brokers, 'brokers', Number.MAX_SAFE_INTEGER, (v, p) => {
    const t = tuple(v, p, 9);
    const b: BrokerRegistration = {
      brokerId: int(t[0], `${p}.brokerId`, 0, L.brokerIdMax),
      incarnationId: str(t[1], `${p}.incarnationId`, L.incarnationIdLengthMax, 1),
      host: str(t[2], `${p}.host`, L.hostLengthMax, 1),
      port: int(t[3], `${p}.port`, 1, 65_535),
      rack: t[4] === null ? null : str(t[4], `${p}.rack`, L.rackLengthMax, 1),
      brokerEpoch: int(t[5], `${p}.brokerEpoch`, 0),
      lastHeartbeatMs: int(t[6], `${p}.lastHeartbeatMs`, 0),
      fenced: bool(t[7], `${p}.fenced`),
      retiredIncarnationIds: arr(t[8], `${p}.retiredIncarnationIds`, L.retiredIncarnationsMax, (x, q) => str(x, q, L.incarnationIdLengthMax, 1)),
    };
    if (brokers.has(b.brokerId)) throw new ShapeError(`${p}: broker ${b.brokerId} listed twice`);
    brokers.set(b.brokerId, b);
  });
  const topics = new Map<string, TopicState>();
  const topicIdsByName = new Map<string, string>();
  arr(o.topics, 'topics', Number.MAX_SAFE_INTEGER, (v, p) => {
    const t = tuple(v, p, 4);
    const topicId = str(t[0], `${p}.topicId`, 64, 1);
    const name = str(t[1], `${p}.name`, L.topicNameLengthMax, 1);
    const configs = stringMap(t[2], `${p}.configs`, L.configEntriesMax, 1024);
    const partitions = arr(t[3], `${p}.partitions`, L.partitionsPerTopicMax, (pv, pp, partition): PartitionState => {
      const x = tuple(pv, pp, 7);
      const leader = int(x[2], `${pp}.leader`, -1, L.brokerIdMax);
      return {
        partition,
        replicas: brokerIds(x[0], `${pp}.replicas`),
        isr: brokerIds(x[1], `${pp}.isr`),
        leader,
        leaderEpoch: int(x[3], `${pp}.leaderEpoch`, 0),
        partitionEpoch: int(x[4], `${pp}.partitionEpoch`, 0),
        addingReplicas: brokerIds(x[5], `${pp}.addingReplicas`),
        removingReplicas: brokerIds(x[6], `${pp}.removingReplicas`),
        offline: leader === NO_LEADER,
      };
    });
    if (topics.has(topicId) || topicIdsByName.has(name)) throw new ShapeError(`${p}: topic ${name} (${topicId}) listed twice`);
    topics.set(topicId, { topicId, name, configs, partitions });
    topicIdsByName.set(name, topicId);
  });
  return {
    clusterId: o.clusterId === null ? null : str(o.clusterId, 'clusterId', L.clusterIdLengthMax, 1),
    appliedIndex,
    clockMs: int(o.clockMs, 'clockMs', 0),
    controllerEpoch: int(o.controllerEpoch, 'controllerEpoch', 0),
    controllerLease,
    brokers,
    topics,
    topicIdsByName,
  };
}
