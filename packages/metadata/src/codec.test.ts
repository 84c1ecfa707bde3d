import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { cluster, sampleCommands } from '../test/helpers.js';
import { MetadataError, commandTypes, decodeCommand, encodeCommand, restore, snapshot, type MetadataCommand } from './index.js';

const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true });
const raw = (value: unknown): Uint8Array => Uint8Array.from([1, ...rawPackr.pack(value)]);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MetadataError) return err.code;
    throw err;
  }
  return 'OK';
}

describe('command codec', () => {
  it('covers every command type in the samples', () => {
    expect(new Set(sampleCommands.map((c) => c.type))).toEqual(new Set(commandTypes));
  });

  it.each(sampleCommands.map((c) => [c.type, c] as const))('round-trips %s', (_type, command) => {
    const bytes = encodeCommand(command);
    expect(bytes[0]).toBe(1);
    expect(decodeCommand(bytes)).toEqual(command);
    expect(encodeCommand(decodeCommand(bytes))).toEqual(bytes);
  });

  it('encodes the same command to the same bytes whatever the key order of the input', () => {
    const a: MetadataCommand = { type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: 2 };
    const b = { brokerEpoch: 2, brokerId: 1, type: 'BrokerHeartbeat' } as MetadataCommand;
    expect(encodeCommand(a)).toEqual(encodeCommand(b));
    const c1: MetadataCommand = { type: 'AlterConfigs', topicId: 'x', set: { 'retention.ms': '1', 'cleanup.policy': 'compact' }, delete: [] };
    const c2: MetadataCommand = { type: 'AlterConfigs', topicId: 'x', set: { 'cleanup.policy': 'compact', 'retention.ms': '1' }, delete: [] };
    expect(encodeCommand(c1)).toEqual(encodeCommand(c2));
  });

  it('refuses to encode a malformed command', () => {
    expect(codeOf(() => encodeCommand({ type: 'BrokerHeartbeat', brokerId: -1, brokerEpoch: 0 }))).toBe('INVALID_REQUEST');
  });

  it('rejects an unknown format version as UNSUPPORTED_VERSION', () => {
    const bytes = encodeCommand({ type: 'DeleteTopic', topicId: 'x' });
    bytes[0] = 2;
    expect(codeOf(() => decodeCommand(bytes))).toBe('UNSUPPORTED_VERSION');
  });

  it.each<[string, Uint8Array]>([
    ['empty input', new Uint8Array()],
    ['a version byte alone', Uint8Array.of(1)],
    ['a non-map body', raw([1, 2, 3])],
    ['an unknown type', raw({ type: 'Explode' })],
    ['an unknown field', raw({ type: 'DeleteTopic', topicId: 'x', force: true })],
    ['a missing field', raw({ type: 'BrokerHeartbeat', brokerId: 1 })],
    ['a float where an integer belongs', raw({ type: 'BrokerHeartbeat', brokerId: 1, brokerEpoch: 1.5 })],
    ['an int64 beyond the safe range', Uint8Array.from([1, 0x83, 0xa4, ...Buffer.from('type'), 0xaf, ...Buffer.from('BrokerHeartbeat'), 0xa8, ...Buffer.from('brokerId'), 1, 0xab, ...Buffer.from('brokerEpoch'), 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['a timestamp extension', Uint8Array.from([1, 0xd6, 0xff, 0, 0, 0, 1])],
    ['trailing bytes', Uint8Array.from([...encodeCommand({ type: 'DeleteTopic', topicId: 'x' }), 0])],
    ['a truncated body', encodeCommand({ type: 'DeleteTopic', topicId: 'x' }).subarray(0, 6)],
    ['a huge claimed array', Uint8Array.from([1, 0xdd, 0xff, 0xff, 0xff, 0xff])],
  ])('rejects %s as CORRUPT_MESSAGE', (_name, bytes) => {
    expect(codeOf(() => decodeCommand(bytes))).toBe('CORRUPT_MESSAGE');
  });

  it('cannot be steered into prototype pollution by a "__proto__" key', () => {
    const bytes = raw(JSON.parse('{"type":"AlterConfigs","topicId":"x","set":{"__proto__":{"polluted":"1"}},"delete":[]}'));
    expect(codeOf(() => decodeCommand(bytes))).toBe('CORRUPT_MESSAGE');
    const renamed = decodeCommand(raw(JSON.parse('{"type":"AlterConfigs","topicId":"x","set":{"__proto__":"1"},"delete":[]}')));
    if (renamed.type !== 'AlterConfigs') throw new Error('decoded another command type');
    expect(Object.getPrototypeOf(renamed.set)).toBe(Object.prototype);
    expect(Object.hasOwn(renamed.set, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('gives a typed error or a valid command for any bytes, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const code = codeOf(() => decodeCommand(Uint8Array.from([1, ...bytes])));
        return code === 'OK' || code === 'CORRUPT_MESSAGE';
      }),
      { numRuns: 3_000 },
    );
  });

  it('rejects or decodes to a well-formed command every truncation and bit flip of a valid entry', () => {
    for (const command of sampleCommands) {
      const bytes = encodeCommand(command);
      for (let cut = 0; cut < bytes.length; cut++) expect(codeOf(() => decodeCommand(bytes.subarray(0, cut)))).not.toBe('OK');
      for (let bit = 8; bit < bytes.length * 8; bit++) {
        const flipped = Uint8Array.from(bytes);
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const code = codeOf(() => decodeCommand(flipped));
        if (code === 'OK') {
          // A flip may land inside a string or number and still decode: the result must be well-formed.
          const decoded = decodeCommand(flipped);
          expect(decodeCommand(encodeCommand(decoded))).toEqual(decoded);
        }
        else expect(code).toBe('CORRUPT_MESSAGE');
      }
    }
  });
});

function busyState(): ReturnType<typeof cluster>['state'] {
  const log = cluster(4, ['a', 'b']);
  log.ok({ type: 'ControllerLease', controllerId: 100, controllerEpoch: 1, leaseDurationMs: 3_000 });
  const t = log.createTopic('orders', [[1, 2, 3], [2, 3, 4]], { 'cleanup.policy': 'compact' });
  log.createTopic('events', [[4, 1]]);
  log.ok({ type: 'BeginReassignment', topicId: t.topicId, partition: 0, partitionEpoch: 0, targetReplicas: [4, 2, 3] });
  log.fence(3);
  log.register(2, 'b', 'inc-2-b');
  return log.state;
}

describe('snapshot', () => {
  it('restores to a deep-equal image that snapshots to the same bytes', () => {
    const state = busyState();
    const bytes = snapshot(state);
    const restored = restore(bytes);
    expect(restored).toEqual(state);
    expect([...restored.topics.keys()]).toEqual([...state.topics.keys()]);
    expect([...restored.brokers.keys()]).toEqual([...state.brokers.keys()]);
    expect(snapshot(restored)).toEqual(bytes);
  });

  it('rejects bad magic, unknown versions, short input and checksum mismatches', () => {
    const bytes = snapshot(busyState());
    const badMagic = Uint8Array.from(bytes);
    badMagic[0] = 0;
    expect(codeOf(() => restore(badMagic))).toBe('CORRUPT_MESSAGE');
    const badVersion = Uint8Array.from(bytes);
    badVersion[4] = 9;
    expect(codeOf(() => restore(badVersion))).toBe('UNSUPPORTED_VERSION');
    expect(codeOf(() => restore(bytes.subarray(0, 9)))).toBe('CORRUPT_MESSAGE');
    expect(codeOf(() => restore(bytes.subarray(0, bytes.length - 1)))).toBe('CORRUPT_MESSAGE');
  });

  it('detects every single bit flip', () => {
    const bytes = snapshot(busyState());
    for (let bit = 0; bit < bytes.length * 8; bit += 3) {
      const flipped = Uint8Array.from(bytes);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(codeOf(() => restore(flipped))).not.toBe('OK');
    }
  });

  it('rejects a well-framed payload that breaks an invariant', () => {
    const state = busyState();
    const bytes = snapshot({ ...state, topicIdsByName: new Map(), topics: state.topics });
    // topicIdsByName is rebuilt on restore, so break something restore cannot rebuild: a leader outside the ISR.
    const topic = [...state.topics.values()][1];
    if (topic === undefined) throw new Error('fixture lost a topic');
    const broken = new Map(state.topics);
    broken.set(topic.topicId, { ...topic, partitions: topic.partitions.map((p) => ({ ...p, leader: 3 })) });
    expect(restore(bytes)).toEqual(state);
    expect(codeOf(() => restore(snapshot({ ...state, topics: broken })))).toBe('CORRUPT_MESSAGE');
  });
});
