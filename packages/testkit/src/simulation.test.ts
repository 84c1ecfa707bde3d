import { describe, expect, it } from 'vitest';
import { SimDurableCell } from './durable.js';
import { type KvInput, kvModel, type KvOperation, type KvOutput, type KvValue } from './kv-model.js';
import { checkLinearizable } from './linearizability.js';
import { SimNetwork } from './network.js';
import { forEachSeed } from './seeds.js';
import { Simulator } from './simulator.js';

// An end-to-end use of the kit, as raft and replication tests use it: a one-server key-value
// store and its clients on a faulty simulated network, a server whose state lives in a
// SimDurableCell and that crashes, and the clients' history checked for linearizability.

type Msg = { kind: 'req'; reqId: number; input: KvInput } | { kind: 'resp'; reqId: number; output: KvOutput };

interface Scenario {
  seed: number;
  duplicateRate: number;
  /** A bug to plant: acknowledge a write before its sync completed. */
  ackBeforeSync: boolean;
  /** A bug to plant: answer reads from state not yet synced. */
  dirtyReads?: boolean;
  crashes: boolean;
}

const SERVER = 'server';

function run(s: Scenario): KvOperation[] {
  const sim = new Simulator({ seed: s.seed, eventsMax: 1_000_000 });
  const net = new SimNetwork<Msg>(sim, sim.prng.fork(), { dropRate: 0.05, duplicateRate: s.duplicateRate, delayMsMin: 1, delayMsMax: 30 });
  const prng = sim.prng.fork();
  const store = new SimDurableCell<Readonly<Record<string, KvValue>>>({}, { sim, syncDelayMs: 20 });
  const history: KvOperation[] = [];

  const apply = (input: KvInput): KvOutput => {
    const current = store.get()[input.key] ?? null;
    if (input.kind === 'get') return { kind: 'get', value: current };
    if (input.kind === 'cas' && current !== input.expected) return { kind: 'cas', ok: false };
    store.set({ ...store.get(), [input.key]: input.value });
    return input.kind === 'put' ? { kind: 'put' } : { kind: 'cas', ok: true };
  };
  net.register(SERVER, (msg, from) => {
    if (msg.kind !== 'req') return;
    const output = apply(msg.input);
    const reply = (): void => net.send(SERVER, from, { kind: 'resp', reqId: msg.reqId, output });
    // Reads wait for the sync too: answering from unsynced state is a dirty read, and the
    // checker catches it once a crash loses the write that was read.
    if (s.ackBeforeSync || (s.dirtyReads === true && msg.input.kind === 'get')) reply();
    else store.sync((err) => err === undefined && reply());
  });
  if (s.crashes) {
    // Crash at random moments (often mid-sync), stay down 20-100 ms.
    sim.every(40, () => {
      if (!net.isUp(SERVER) || !prng.chance(0.15)) return;
      sim.schedule(prng.range(0, 39), () => {
        net.crash(SERVER);
        store.crash();
        sim.schedule(prng.range(20, 100), () => net.restart(SERVER));
      });
    });
  }

  let reqIds = 0;
  for (let c = 0; c < 3; c++) {
    const client = `client${c}`;
    let waiting: { reqId: number; finish: (output: KvOutput) => void } | undefined;
    net.register(client, (msg) => {
      // Only the reply to the request in flight counts; a late or duplicated old reply does not.
      if (msg.kind === 'resp' && msg.reqId === waiting?.reqId) waiting.finish(msg.output);
    });
    let remaining = 60;
    const next = (): void => {
      if (remaining-- <= 0) return;
      const key = prng.pick(['a', 'b']);
      const r = prng.next();
      const input: KvInput =
        r < 0.4
          ? { kind: 'get', key }
          : r < 0.8
            ? { kind: 'put', key, value: `${client}-${remaining}` }
            : { kind: 'cas', key, expected: prng.pick([null, `client0-${remaining + 1}`]), value: `${client}-${remaining}` };
      const reqId = ++reqIds;
      const call = sim.now;
      let done = false;
      const finish = (output: KvOutput | undefined): void => {
        if (done) return;
        done = true;
        waiting = undefined;
        sim.cancel(timer);
        history.push({ clientId: client, input, output, call, return: output === undefined ? Infinity : sim.now });
        sim.schedule(prng.range(1, 10), next);
      };
      waiting = { reqId, finish };
      const timer = sim.schedule(120, () => finish(undefined));
      net.send(client, SERVER, { kind: 'req', reqId, input });
    };
    sim.schedule(prng.range(0, 20), next);
  }
  sim.runFor(60_000);
  return history;
}

function violations(base: Omit<Scenario, 'seed'>, seeds: number): number {
  let failed = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = checkLinearizable(run({ ...base, seed }), kvModel, { timeoutMs: 20_000 });
    expect(r.ok).not.toBe('unknown');
    if (r.ok === false) failed++;
  }
  return failed;
}

describe('simulation kit end to end: a crashing one-server kv store', () => {
  it('the same seed yields the same client history', () => {
    const a = run({ seed: 11, duplicateRate: 0.05, ackBeforeSync: false, crashes: true });
    expect(a.length).toBe(180);
    expect(run({ seed: 11, duplicateRate: 0.05, ackBeforeSync: false, crashes: true })).toEqual(a);
    expect(run({ seed: 12, duplicateRate: 0.05, ackBeforeSync: false, crashes: true })).not.toEqual(a);
  });

  it('a correct server (ack after sync) is linearizable under drops, delays and crashes', () => {
    forEachSeed(10, (seed) => {
      const r = checkLinearizable(run({ seed, duplicateRate: 0, ackBeforeSync: false, crashes: true }), kvModel, { timeoutMs: 20_000 });
      if (r.ok !== true) throw new Error(r.ok === false ? r.counterexample.message : r.reason);
    });
  });

  it('the checker catches acknowledged writes lost because they were acked before sync', () => {
    expect(violations({ duplicateRate: 0, ackBeforeSync: true, crashes: true }, 10)).toBeGreaterThan(0);
  });

  it('the checker catches dirty reads of writes a crash then lost', () => {
    expect(violations({ duplicateRate: 0, ackBeforeSync: false, dirtyReads: true, crashes: true }, 10)).toBeGreaterThan(0);
  });

  it('the checker catches stale writes re-applied by duplicated network delivery', () => {
    expect(violations({ duplicateRate: 0.3, ackBeforeSync: false, crashes: false }, 40)).toBeGreaterThan(0);
  });
});
