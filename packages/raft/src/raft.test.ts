import { describe, expect, it } from 'vitest';
import { makeRaftConfig } from './config.js';
import { RaftError } from './errors.js';
import { Raft } from './raft.js';
import { MemoryStorage } from './storage.js';
import { ConfChangeType, type Message, type Ready, StateRole } from './types.js';

function cluster(ids: number[], extra: Partial<Parameters<typeof makeRaftConfig>[0]> = {}): Map<number, { raft: Raft; storage: MemoryStorage }> {
  const out = new Map<number, { raft: Raft; storage: MemoryStorage }>();
  for (const id of ids) {
    const storage = MemoryStorage.bootstrap(ids);
    out.set(id, { raft: new Raft(makeRaftConfig({ id, preVote: true, checkQuorum: true, ...extra }), storage), storage });
  }
  return out;
}

/** Processes every Ready and delivers every message until nothing moves (bounded). */
function stabilize(nodes: Map<number, { raft: Raft; storage: MemoryStorage }>): void {
  for (let round = 0; round < 50; round++) {
    const msgs: Message[] = [];
    for (const { raft, storage } of nodes.values()) {
      if (!raft.hasReady()) continue;
      const rd: Ready = raft.ready();
      if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      msgs.push(...rd.messages);
      raft.advance(rd);
    }
    if (msgs.length === 0) return;
    for (const m of msgs) nodes.get(m.to)?.raft.step(m);
  }
  throw new Error('did not stabilize');
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RaftError);
    return (e as RaftError).code;
  }
  return 'no error';
}

describe('Raft core', () => {
  it('hands a leader the entries its followers commit while its own write is in flight, once', () => {
    const nodes = cluster([1, 2, 3]);
    const leader = nodes.get(1)!.raft;
    leader.campaign();
    stabilize(nodes);
    const { index } = leader.propose(new Uint8Array([7]));
    const rd = leader.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([index]);
    expect(rd.messagesBeforePersist).toBe(true);
    // The leader's write is in flight; both followers persist and acknowledge.
    expect(leader.takeCommitted()).toEqual([]);
    for (const id of [2, 3]) {
      const f = nodes.get(id)!;
      for (const m of rd.messages.filter((x) => x.to === id)) f.raft.step(m);
      const frd = f.raft.ready();
      f.storage.append(frd.entries);
      if (frd.hardState !== undefined) f.storage.setHardState(frd.hardState);
      f.raft.advance(frd);
      expect(f.raft.takeCommitted()).toEqual([]); // followers never apply ahead
      for (const m of frd.messages) leader.step(m);
    }
    expect(leader.status().commit).toBe(index);
    const taken = leader.takeCommitted();
    expect(taken.map((e) => e.index)).toEqual([index]);
    expect(leader.takeCommitted()).toEqual([]);
    nodes.get(1)!.storage.append(rd.entries);
    leader.advance(rd);
    stabilize(nodes);
    expect(leader.status().applied).toBe(index);
    // Not handed out again by a later Ready.
    const next = leader.propose(new Uint8Array([8]));
    const rd2 = leader.ready();
    expect(rd2.committedEntries.map((e) => e.index)).not.toContain(index);
    nodes.get(1)!.storage.append(rd2.entries);
    leader.advance(rd2);
    for (const m of rd2.messages) nodes.get(m.to)!.raft.step(m);
    stabilize(nodes);
    expect(leader.status().applied).toBe(next.index);
  });

  it('takes no entry that was proposed after the outstanding Ready', () => {
    const nodes = cluster([1, 2, 3]);
    const leader = nodes.get(1)!.raft;
    leader.campaign();
    stabilize(nodes);
    const first = leader.propose(new Uint8Array([1]));
    const rd = leader.ready();
    leader.propose(new Uint8Array([2])); // unstable, in no Ready yet
    for (const id of [2, 3]) {
      const f = nodes.get(id)!;
      for (const m of rd.messages.filter((x) => x.to === id)) f.raft.step(m);
      const frd = f.raft.ready();
      f.storage.append(frd.entries);
      f.raft.advance(frd);
      for (const m of frd.messages) leader.step(m);
    }
    expect(leader.takeCommitted().map((e) => e.index)).toEqual([first.index]);
  });

  it('rejects invalid configuration with INVALID_CONFIG', () => {
    expect(code(() => makeRaftConfig({ id: 0 }))).toBe('INVALID_CONFIG');
    expect(code(() => makeRaftConfig({ id: 1, electionTimeoutTicks: 2, heartbeatIntervalTicks: 2 }))).toBe('INVALID_CONFIG');
    expect(code(() => makeRaftConfig({ id: 1, inflightMessagesMax: 0 }))).toBe('INVALID_CONFIG');
  });

  it('a single voter elects itself and commits its own proposals', () => {
    const nodes = cluster([1]);
    const r = nodes.get(1)!.raft;
    r.campaign();
    stabilize(nodes);
    expect(r.role).toBe(StateRole.Leader);
    const { index } = r.propose(new Uint8Array([1]));
    stabilize(nodes);
    expect(r.status().commit).toBe(index);
  });

  it('refuses proposals on followers with NOT_LEADER carrying the leader id', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.raft.campaign();
    stabilize(nodes);
    const err = (() => {
      try {
        nodes.get(2)!.raft.propose(new Uint8Array([1]));
      } catch (e) {
        return e as RaftError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('NOT_LEADER');
    expect(err?.leaderId).toBe(1);
    expect(err?.retriable).toBe(true);
  });

  it('bounds uncommitted bytes on the leader', () => {
    const nodes = cluster([1, 2, 3], { uncommittedBytesMax: 4096 });
    nodes.get(1)!.raft.campaign();
    stabilize(nodes);
    const leader = nodes.get(1)!.raft;
    leader.propose(new Uint8Array(3000));
    expect(code(() => leader.propose(new Uint8Array(3000)))).toBe('PROPOSAL_DROPPED');
    stabilize(nodes);
    expect(code(() => leader.propose(new Uint8Array(3000)))).toBe('no error');
  });

  it('refuses a second conf change until the first is applied, and invalid ones outright', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.raft.campaign();
    stabilize(nodes);
    const leader = nodes.get(1)!.raft;
    expect(code(() => leader.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: 2 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => leader.proposeConfChange({ type: ConfChangeType.PromoteLearner, nodeId: 9 }))).toBe('INVALID_ARGUMENT');
    leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 });
    expect(code(() => leader.proposeConfChange({ type: ConfChangeType.RemoveVoter, nodeId: 3 }))).toBe('CONF_CHANGE_IN_PROGRESS');
    stabilize(nodes);
    expect(leader.status().learners).toEqual([4]);
  });

  it('refuses a transfer to a non-voter', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.raft.campaign();
    stabilize(nodes);
    expect(code(() => nodes.get(1)!.raft.transferLeadership(7))).toBe('INVALID_ARGUMENT');
  });

  it('enforces the Ready contract: one outstanding Ready at a time', () => {
    const nodes = cluster([1]);
    const r = nodes.get(1)!.raft;
    r.campaign();
    r.ready();
    expect(code(() => r.ready())).toBe('INVARIANT');
    expect(r.hasReady()).toBe(false);
  });

  it('restarts from storage with its term, vote and commit index', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.raft.campaign();
    stabilize(nodes);
    nodes.get(1)!.raft.propose(new Uint8Array([9]));
    stabilize(nodes);
    const before = nodes.get(2)!.raft.status();
    const again = new Raft(makeRaftConfig({ id: 2 }), nodes.get(2)!.storage);
    const after = again.status();
    expect([after.term, after.vote, after.commit, after.lastIndex, after.voters]).toEqual([before.term, before.vote, before.commit, before.lastIndex, before.voters]);
  });
});
