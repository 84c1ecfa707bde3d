import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfChangeType, MemoryNetwork, RaftError, RaftNode, type StateMachine } from '../src/index.js';

/** A list state machine: applied payloads in order; snapshot = JSON of the list. */
class ListMachine implements StateMachine {
  items: string[] = [];
  apply(data: Uint8Array): void {
    this.items.push(new TextDecoder().decode(data));
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dirs: string[] = [];
const nodes: RaftNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function waitFor(what: string, cond: () => boolean, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Cluster {
  net: MemoryNetwork;
  machines: Map<number, ListMachine>;
  dirs: Map<number, string>;
  nodes: Map<number, RaftNode>;
}

type Extra = { snapshotEntriesMax?: number; requestTimeoutMs?: number };

async function startNode(c: Cluster, id: number, voters: number[], extra: Extra = {}): Promise<RaftNode> {
  let dir = c.dirs.get(id);
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), `raft-node-${id}-`));
    dirs.push(dir);
    c.dirs.set(id, dir);
  }
  const sm = new ListMachine();
  c.machines.set(id, sm);
  const node = await RaftNode.start({
    id,
    dir,
    voters,
    transport: c.net.transport(id),
    stateMachine: sm,
    // Generous timeouts: these tests share a loaded machine and must not see spurious elections.
    tickMs: 10,
    raft: { electionTimeoutTicks: 30, heartbeatIntervalTicks: 3 },
    sync: false,
    ...extra,
  });
  nodes.push(node);
  c.nodes.set(id, node);
  return node;
}

async function startCluster(n: number, extra: Extra = {}): Promise<Cluster> {
  const c: Cluster = { net: new MemoryNetwork(true), machines: new Map(), dirs: new Map(), nodes: new Map() };
  const voters = Array.from({ length: n }, (_, i) => i + 1);
  for (const id of voters) await startNode(c, id, voters, extra);
  c.nodes.get(1)!.campaign();
  await waitFor('a leader', () => leader(c) !== undefined);
  return c;
}

function leader(c: Cluster): RaftNode | undefined {
  return [...c.nodes.values()].find((n) => n.isLeader());
}

describe('RaftNode', () => {
  it('commits proposals on every node in order and resolves them once applied', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => l.propose(enc(`v${i}`))));
    expect(results.map((r) => r.index)).toEqual([...results.map((r) => r.index)].sort((a, b) => a - b));
    expect(c.machines.get(l.id)!.items).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    await waitFor('replication', () => [...c.machines.values()].every((m) => m.items.length === 50));
    for (const m of c.machines.values()) expect(m.items).toEqual(c.machines.get(l.id)!.items);
  });

  it('answers NOT_LEADER with the leader id on a follower', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    const follower = [...c.nodes.values()].find((n) => n !== l)!;
    await waitFor('follower knows the leader', () => follower.status().leaderId === l.id);
    const err = await follower.propose(enc('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftError);
    expect((err as RaftError).code).toBe('NOT_LEADER');
    expect((err as RaftError).leaderId).toBe(l.id);
    expect((err as RaftError).retriable).toBe(true);
  });

  it('serves linearizable reads after a quorum round', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    const { index } = await l.propose(enc('a'));
    const readAt = await l.readIndex();
    expect(readAt).toBeGreaterThanOrEqual(index);
  });

  it('transfers leadership to a caught-up voter', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    await l.propose(enc('a'));
    const target = [...c.nodes.keys()].find((id) => id !== l.id)!;
    await l.transferLeadership(target, 10_000);
    await waitFor('target leads', () => c.nodes.get(target)!.isLeader());
  });

  it('recovers its log from level after a restart', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    for (let i = 0; i < 10; i++) await l.propose(enc(`r${i}`));
    const victim = [...c.nodes.keys()].find((id) => id !== l.id)!;
    await waitFor('victim caught up', () => c.machines.get(victim)!.items.length === 10);
    await c.nodes.get(victim)!.stop();
    const restarted = await startNode(c, victim, [1, 2, 3]);
    await waitFor('replayed', () => c.machines.get(victim)!.items.length === 10);
    expect(c.machines.get(victim)!.items).toEqual(c.machines.get(l.id)!.items);
    expect(restarted.status().commit).toBeGreaterThanOrEqual(11);
  });

  it('compacts and catches a lagging follower up with a snapshot', async () => {
    const c = await startCluster(3, { snapshotEntriesMax: 20 });
    const l = leader(c)!;
    const victim = [...c.nodes.keys()].find((id) => id !== l.id)!;
    c.net.disconnect(victim);
    for (let i = 0; i < 60; i++) await l.propose(enc(`s${i}`));
    expect(l.status().lastIndex).toBeGreaterThan(60);
    c.net.connect(victim);
    await waitFor('snapshot catch-up', () => c.machines.get(victim)!.items.length === 60);
    expect(c.machines.get(victim)!.items).toEqual(c.machines.get(l.id)!.items);
  });

  it('adds a voter through a membership change', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    await l.propose(enc('before'));
    await startNode(c, 4, []);
    await l.changeMembership({ type: ConfChangeType.AddVoter, nodeId: 4 });
    await waitFor('new voter caught up', () => c.machines.get(4)!.items.length === 1);
    expect(l.status().voters).toEqual([1, 2, 3, 4]);
    const again = await l.changeMembership({ type: ConfChangeType.AddVoter, nodeId: 4 }).catch((e: unknown) => e);
    expect((again as RaftError).code).toBe('INVALID_ARGUMENT');
  });

  it('starts a non-voter empty and lets it follow once the leader adds it as a learner', async () => {
    const c = await startCluster(3);
    const l = leader(c)!;
    await l.propose(enc('x'));
    // The broker's pattern: a learner passes the voter list and itself as learner.
    const startLearner = async (): Promise<RaftNode> => {
      const dir = mkdtempSync(join(tmpdir(), 'raft-node-4-'));
      dirs.push(dir);
      const sm = new ListMachine();
      c.machines.set(4, sm);
      const n = await RaftNode.start({ id: 4, dir, voters: [1, 2, 3], learners: [4], transport: c.net.transport(4), stateMachine: sm, tickMs: 10, sync: false });
      nodes.push(n);
      return n;
    };
    const learner = await startLearner();
    expect(learner.status().lastIndex).toBe(0);
    await l.changeMembership({ type: ConfChangeType.AddLearner, nodeId: 4 });
    await l.propose(enc('y'));
    await waitFor('learner caught up', () => c.machines.get(4)!.items.length === 2);
    expect(learner.status().learners).toEqual([4]);
  });

  it('fails a proposal that cannot commit with UNAVAILABLE after requestTimeoutMs', async () => {
    const c = await startCluster(3, { requestTimeoutMs: 300 });
    const l = leader(c)!;
    c.net.disconnect(l.id);
    const err = await l.propose(enc('lost')).catch((e: unknown) => e);
    expect((err as RaftError).code).toBe('UNAVAILABLE');
  });

  it('fails pending work with STOPPED', async () => {
    const c = await startCluster(1);
    const l = leader(c)!;
    await l.stop();
    const err = await l.propose(enc('late')).catch((e: unknown) => e);
    expect((err as RaftError).code).toBe('STOPPED');
  });
});
