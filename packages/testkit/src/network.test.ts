import { describe, expect, it } from 'vitest';
import { SimulationError } from './errors.js';
import { type NodeId, SimNetwork } from './network.js';
import { Prng } from './prng.js';
import { Simulator } from './simulator.js';

interface Ping {
  n: number;
}

function setup(ids: NodeId[], config = {}): { sim: Simulator; net: SimNetwork<Ping>; inbox: Map<NodeId, string[]> } {
  const sim = new Simulator({ seed: 1 });
  const net = new SimNetwork<Ping>(sim, sim.prng.fork(), { delayMsMin: 1, delayMsMax: 1, ...config });
  const inbox = new Map<NodeId, string[]>();
  for (const id of ids) {
    inbox.set(id, []);
    net.register(id, (msg, from) => inbox.get(id)!.push(`${String(from)}:${msg.n}`));
  }
  return { sim, net, inbox };
}

/** Sends one message on every directed link and returns which links delivered. */
function probe(ids: NodeId[], sim: Simulator, net: SimNetwork<Ping>, inbox: Map<NodeId, string[]>): string[] {
  for (const box of inbox.values()) box.length = 0;
  for (const a of ids) for (const b of ids) if (a !== b) net.send(a, b, { n: 0 });
  sim.runFor(10);
  const open: string[] = [];
  for (const [to, box] of inbox) for (const line of box) open.push(`${line.split(':')[0]}->${String(to)}`);
  return open.sort();
}

/** A deterministic scenario with every fault on; returns its full event trace. */
function chatter(seed: number): string[] {
  const sim = new Simulator({ seed });
  const net = new SimNetwork<Ping>(sim, sim.prng.fork(), { dropRate: 0.1, duplicateRate: 0.1, delayMsMin: 1, delayMsMax: 10 });
  const trace: string[] = [];
  net.onEvent = (e) => trace.push(`${sim.now} ${e.kind} ${String(e.from)}->${String(e.to)} ${e.msg.n}${e.kind === 'drop' ? ` ${e.reason}` : ''}`);
  const ids = [1, 2, 3, 4, 5];
  const driver = sim.prng.fork();
  for (const id of ids) {
    net.register(id, (msg) => {
      if (msg.n < 30) net.send(id, driver.pick(ids), { n: msg.n + 1 });
    });
  }
  for (const id of ids) net.send(id, driver.pick(ids), { n: 0 });
  sim.schedule(40, () => net.partition([1, 2], [3, 4, 5]));
  sim.schedule(80, () => net.heal());
  sim.runFor(500);
  return trace;
}

describe('SimNetwork', () => {
  it('same seed gives an identical trace; different seeds differ', () => {
    const a = chatter(7);
    expect(a.length).toBeGreaterThan(50);
    expect(chatter(7)).toEqual(a);
    expect(chatter(8)).not.toEqual(a);
  });

  it('delivers with a delay inside [delayMsMin, delayMsMax]', () => {
    const { sim, net } = setup([]);
    net.configure({ delayMsMin: 3, delayMsMax: 9 });
    const arrivals: number[] = [];
    net.register('a', () => undefined);
    net.register('b', () => arrivals.push(sim.now));
    for (let i = 0; i < 200; i++) net.send('a', 'b', { n: i });
    sim.runFor(100);
    expect(arrivals).toHaveLength(200);
    expect(Math.min(...arrivals)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...arrivals)).toBeLessThanOrEqual(9);
    expect(new Set(arrivals).size).toBeGreaterThan(1);
  });

  it('a random delay range reorders messages on one link', () => {
    const { sim, net, inbox } = setup(['a', 'b'], { delayMsMin: 1, delayMsMax: 50 });
    for (let i = 0; i < 50; i++) net.send('a', 'b', { n: i });
    sim.runFor(100);
    const order = inbox.get('b')!.map((l) => Number(l.split(':')[1]));
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('partition blocks both directions between the groups only, and heal restores', () => {
    const ids = [1, 2, 3, 4];
    const { sim, net, inbox } = setup(ids);
    net.partition([1, 2], [3, 4]);
    expect(probe(ids, sim, net, inbox)).toEqual(['1->2', '2->1', '3->4', '4->3']);
    net.heal();
    expect(probe(ids, sim, net, inbox)).toHaveLength(12);
  });

  it('partitionOneWay blocks exactly one direction', () => {
    const ids = ['a', 'b', 'c'];
    const { sim, net, inbox } = setup(ids);
    net.partitionOneWay('a', 'b');
    const open = probe(ids, sim, net, inbox);
    expect(open).not.toContain('a->b');
    expect(open).toContain('b->a');
    expect(open).toHaveLength(5);
    expect(net.linkOpen('a', 'b')).toBe(false);
    expect(net.linkOpen('b', 'a')).toBe(true);
  });

  it('isolate cuts a node off from everyone, including nodes registered later', () => {
    const ids = [1, 2, 3];
    const { sim, net, inbox } = setup(ids);
    net.isolate(2);
    inbox.set(4, []);
    net.register(4, (msg, from) => inbox.get(4)!.push(`${String(from)}:${msg.n}`));
    expect(probe([...ids, 4], sim, net, inbox)).toEqual(['1->3', '1->4', '3->1', '3->4', '4->1', '4->3']);
    net.heal();
    expect(probe([...ids, 4], sim, net, inbox)).toHaveLength(12);
  });

  it('a partition made while a message is in flight drops it', () => {
    const { sim, net, inbox } = setup(['a', 'b'], { delayMsMin: 10, delayMsMax: 10 });
    net.send('a', 'b', { n: 1 });
    sim.runFor(5);
    net.partition(['a'], ['b']);
    sim.runFor(10);
    expect(inbox.get('b')).toEqual([]);
    expect(net.stats()).toMatchObject({ sent: 1, delivered: 0, dropped: 1, droppedPartition: 1, inFlight: 0 });
  });

  it('a crashed node neither sends nor receives; messages to its old incarnation are lost', () => {
    const { sim, net, inbox } = setup(['a', 'b'], { delayMsMin: 10, delayMsMax: 10 });
    net.send('a', 'b', { n: 1 });
    sim.runFor(2);
    net.crash('b');
    net.restart('b');
    sim.runFor(20);
    expect(inbox.get('b')).toEqual([]);
    net.crash('b');
    expect(net.isUp('b')).toBe(false);
    net.send('a', 'b', { n: 2 });
    net.send('b', 'a', { n: 3 });
    sim.runFor(20);
    expect(inbox.get('a')).toEqual([]);
    net.restart('b');
    net.send('a', 'b', { n: 4 });
    sim.runFor(20);
    expect(inbox.get('b')).toEqual(['a:4']);
    expect(net.stats()).toMatchObject({ sent: 4, delivered: 1, droppedDown: 3 });
  });

  it('drop and duplicate rates act and are counted', () => {
    const { sim, net, inbox } = setup(['a', 'b'], { dropRate: 0.3, duplicateRate: 0.2 });
    for (let i = 0; i < 1000; i++) net.send('a', 'b', { n: i });
    sim.runFor(100);
    const s = net.stats();
    expect(s.droppedRandom).toBeGreaterThan(200);
    expect(s.droppedRandom).toBeLessThan(400);
    expect(s.duplicated).toBeGreaterThan(80);
    expect(s.delivered).toBe(1000 - s.droppedRandom + s.duplicated);
    expect(inbox.get('b')).toHaveLength(s.delivered);
  });

  it('configureLink slows or breaks one direction only, and heal restores the global config', () => {
    const { sim, net } = setup([]);
    const arrivals: Record<string, number[]> = { ab: [], ba: [] };
    net.register('a', () => arrivals.ba!.push(sim.now));
    net.register('b', () => arrivals.ab!.push(sim.now));
    net.configureLink('a', 'b', { delayMsMin: 50, delayMsMax: 60 });
    for (let i = 0; i < 20; i++) {
      net.send('a', 'b', { n: i });
      net.send('b', 'a', { n: i });
    }
    sim.runFor(100);
    expect(Math.min(...arrivals.ab!)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...arrivals.ba!)).toBeLessThanOrEqual(1);
    net.configureLink('b', 'a', { dropRate: 1 });
    net.send('b', 'a', { n: 99 });
    sim.runFor(10);
    expect(arrivals.ba).toHaveLength(20);
    net.heal();
    arrivals.ab!.length = 0;
    const sentAt = sim.now;
    net.send('a', 'b', { n: 100 });
    net.send('b', 'a', { n: 101 });
    sim.runFor(10);
    expect(arrivals.ab).toEqual([sentAt + 1]);
    expect(arrivals.ba).toHaveLength(21);
  });

  it('dropIf drops exactly the matching messages until removed', () => {
    const { sim, net, inbox } = setup(['a', 'b']);
    const remove = net.dropIf((from, _to, msg) => from === 'a' && msg.n % 2 === 0);
    for (let i = 0; i < 6; i++) net.send('a', 'b', { n: i });
    net.send('b', 'a', { n: 0 });
    sim.runFor(10);
    expect(inbox.get('b')).toEqual(['a:1', 'a:3', 'a:5']);
    expect(inbox.get('a')).toEqual(['b:0']);
    expect(net.stats().droppedRule).toBe(3);
    remove();
    net.send('a', 'b', { n: 8 });
    sim.runFor(10);
    expect(inbox.get('b')).toContain('a:8');
  });

  it('rejects unknown nodes, duplicate registration and bad configs', () => {
    const sim = new Simulator();
    const net = new SimNetwork<Ping>(sim, new Prng(1));
    net.register(1, () => undefined);
    expect(() => net.register(1, () => undefined)).toThrow(SimulationError);
    expect(() => net.send(1, 2, { n: 0 })).toThrow(SimulationError);
    expect(() => net.configure({ dropRate: 1.5 })).toThrow(SimulationError);
    expect(() => net.configure({ delayMsMin: 5, delayMsMax: 1 })).toThrow(SimulationError);
    expect(() => new SimNetwork<Ping>(sim, new Prng(1), { duplicateRate: Number.NaN })).toThrow(SimulationError);
  });
});
