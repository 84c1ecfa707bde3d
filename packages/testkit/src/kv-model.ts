import { type Model, type Operation } from './linearizability.js';

// A linearizable key-value register per key: get, put (a null value deletes) and
// compare-and-set. Keys are independent, so the model partitions the history by key and each
// part is checked against a single register whose state is the key's value (null = absent).

export type KvValue = string | null;

export type KvInput =
  | { kind: 'get'; key: string }
  | { kind: 'put'; key: string; value: KvValue }
  | { kind: 'cas'; key: string; expected: KvValue; value: KvValue };

export type KvOutput = { kind: 'get'; value: KvValue } | { kind: 'put' } | { kind: 'cas'; ok: boolean };

export type KvOperation = Operation<KvInput, KvOutput>;

function stepKv(state: KvValue, input: KvInput, output: KvOutput | undefined): [boolean, KvValue] {
  switch (input.kind) {
    case 'get':
      if (output === undefined) return [true, state];
      return [output.kind === 'get' && output.value === state, state];
    case 'put':
      return [output === undefined || output.kind === 'put', input.value];
    case 'cas': {
      const matches = state === input.expected;
      // A cas that never returned and is linearized here takes effect iff it matches.
      if (output === undefined) return [true, matches ? input.value : state];
      if (output.kind !== 'cas' || output.ok !== matches) return [false, state];
      return [true, matches ? input.value : state];
    }
  }
}

function describeKv(input: KvInput, output: KvOutput | undefined): string {
  const v = (x: KvValue | undefined): string => (x === null ? 'nil' : x === undefined ? '?' : JSON.stringify(x));
  switch (input.kind) {
    case 'get':
      return `get(${input.key}) -> ${output === undefined ? '?' : output.kind === 'get' ? v(output.value) : `bad output ${output.kind}`}`;
    case 'put':
      return `put(${input.key}, ${v(input.value)})${output === undefined ? ' (no reply)' : ''}`;
    case 'cas':
      return `cas(${input.key}, ${v(input.expected)} -> ${v(input.value)}) -> ${output === undefined ? '?' : output.kind === 'cas' ? String(output.ok) : `bad output ${output.kind}`}`;
  }
}

export const kvModel: Model<KvValue, KvInput, KvOutput> = {
  init: () => null,
  step: stepKv,
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      let part = byKey.get(op.input.key);
      if (part === undefined) {
        part = [];
        byKey.set(op.input.key, part);
      }
      part.push(op);
    }
    return [...byKey.values()];
  },
  describe: describeKv,
  describeState: (s) => (s === null ? 'nil' : JSON.stringify(s)),
};
