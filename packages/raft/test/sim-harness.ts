import {
  type KvInput,
  type KvOperation,
  type KvOutput,
  type Prng,
  SimNetwork,
  Simulator,
  checkLinearizable,
  kvModel,
} from '@streambus/testkit';
import {
  ConfChangeType,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  Raft,
  RaftError,
  StateRole,
  MessageType,
  makeRaftConfig,
} from '../src/index.js';

/*
 * Deterministic simulation of a Raft cluster with a key-value state machine on top.
 * Durability is modelled per Ready: a node's MemoryStorage receives a Ready's hard state,
 * entries and snapshot only when its simulated fsync completes; a crash before that loses
 * them, and the restarted core is rebuilt from exactly what was synced.
 */

export interface SimOptions {
  readonly seed: number;
  readonly nodeIds?: readonly number[];
  readonly initialVoters?: readonly number[];
  readonly chaosMs?: number;
  readonly healBoundMs?: number;
  readonly tickMs?: number;
  readonly snapshotEntriesMax?: number;
  readonly clients?: number;
  readonly keys?: readonly string[];
  readonly clientTimeoutMs?: number;
}

export interface SimResult {
  readonly virtualMs: number;
  readonly ops: number;
  readonly committed: number;
  readonly elections: number;
  readonly crashes: number;
  readonly confChanges: number;
  /** Entries leaders applied through takeCommitted() while their own write was in flight. */
  readonly appliedAhead: number;
}

interface Command {
  readonly key: string;
  readonly value: string;
}

interface PendingPut {
  readonly term: number;
  done(outcome: 'ok' | 'failed' | 'unknown'): void;
}

interface PendingGet {
  index: number | undefined;
  readonly key: string;
  done(value: string | null): void;
}

class SimNode {
  raft: Raft | undefined;
  kv = new Map<string, string>();
  applied = 0;
  syncing = false;
  /** The Ready being synced had all its committed entries applied: takeCommitted() may run. */
  applyingAhead = false;
  incarnation = 0;
  tickTimer: number | undefined;
  puts = new Map<number, PendingPut>();
  gets = new Map<number, PendingGet>();
  constructor(
    readonly id: number,
    readonly durable: MemoryStorage,
  ) {}
}

export class RaftSimulation {
  readonly sim: Simulator;
  readonly prng: Prng;
  readonly net: SimNetwork<Message>;
  private readonly nodes = new Map<number, SimNode>();
  private readonly o: Required<Omit<SimOptions, 'seed'>> & { seed: number };
  /** Election safety: the one leader of each term. */
  private readonly leaders = new Map<number, number>();
  /** State machine safety: the entry applied at each index, by anyone. */
  private readonly appliedLog = new Map<number, { term: number; key: string }>();
  private readonly history: KvOperation[] = [];
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readSeq = 0;
  private clientSeq = 0;
  private clientsRunning = true;
  /** Operations without an answer yet; at the end their outcome is unknown. */
  private readonly openOps = new Map<number, () => void>();
  private stats = { ops: 0, elections: 0, crashes: 0, confChanges: 0, appliedAhead: 0 };

  constructor(options: SimOptions) {
    this.o = {
      nodeIds: [1, 2, 3, 4, 5],
      initialVoters: [1, 2, 3],
      chaosMs: 6000,
      healBoundMs: 10_000,
      tickMs: 10,
      snapshotEntriesMax: 25,
      clients: 3,
      keys: ['x', 'y', 'z'],
      clientTimeoutMs: 400,
      ...options,
    };
    this.sim = new Simulator({ seed: options.seed, eventsMax: 5_000_000, traceLinesMax: process.env.SIM_TRACE === '1' ? 20_000 : 0 });
    this.prng = this.sim.prng.fork();
    // Most runs use the production settings; some exercise the protocol without them.
    this.preVote = this.prng.chance(0.75);
    this.checkQuorum = this.prng.chance(0.75);
    this.net = new SimNetwork<Message>(this.sim, this.sim.prng.fork(), { delayMsMin: 1, delayMsMax: 8 });
    for (const id of this.o.nodeIds) {
      const voters = this.o.initialVoters.includes(id) ? this.o.initialVoters : [];
      const node = new SimNode(id, MemoryStorage.bootstrap(voters));
      this.nodes.set(id, node);
      this.net.register(id, (m) => this.deliver(node, m));
      this.boot(node);
    }
  }

  /** Chaos, then healing; throws on any safety violation or when healing does not converge. */
  run(): SimResult {
    try {
      return this.runPhases();
    } catch (e) {
      if (process.env.SIM_TRACE === '1') console.error(this.sim.traceLog().join('\n'));
      throw e;
    }
  }

  private runPhases(): SimResult {
    for (let c = 0; c < this.o.clients; c++) this.sim.schedule(this.prng.int(50), () => this.clientLoop());
    const faultTimer = this.sim.every(150, () => this.injectFault());
    const checkTimer = this.sim.every(500, () => this.checkLogMatching());
    this.sim.runFor(this.o.chaosMs);
    this.sim.cancel(faultTimer);
    this.heal();
    this.clientsRunning = false;
    this.awaitConvergence();
    this.sim.cancel(checkTimer);
    this.checkLogMatching();
    for (const close of [...this.openOps.values()]) close();
    this.checkHistory();
    return { virtualMs: this.sim.now, committed: this.appliedLog.size, ...this.stats };
  }

  // ---------------------------------------------------------------- node lifecycle

  private boot(node: SimNode): void {
    const raft = new Raft(
      makeRaftConfig({ id: node.id, electionTimeoutTicks: 10, heartbeatIntervalTicks: 2, preVote: this.preVote, checkQuorum: this.checkQuorum, randomSeed: this.prng.int(0x7fffffff) + 1, snapshotRetryTicks: 20, appendBytesMax: 4096, inflightMessagesMax: 8 }),
      node.durable,
    );
    node.raft = raft;
    node.incarnation++;
    node.syncing = false;
    node.applyingAhead = false;
    const snap = node.durable.snapshot();
    node.kv = snap.metadata.index > 0 ? decodeKv(snap.data) : new Map<string, string>();
    node.applied = snap.metadata.index;
    const inc = node.incarnation;
    node.tickTimer = this.sim.every(this.o.tickMs, () => {
      if (node.incarnation !== inc || node.raft === undefined) return;
      node.raft.tick();
      this.process(node);
    });
    this.process(node);
  }

  private crash(node: SimNode): void {
    if (node.raft === undefined) return;
    this.stats.crashes++;
    node.raft = undefined;
    node.incarnation++;
    if (node.tickTimer !== undefined) this.sim.cancel(node.tickTimer);
    this.net.crash(node.id);
    // Clients waiting on this node never hear back: their outcome stays unknown.
    node.puts.clear();
    node.gets.clear();
  }

  private restart(node: SimNode): void {
    if (node.raft !== undefined) return;
    this.net.restart(node.id);
    this.boot(node);
  }

  private deliver(node: SimNode, m: Message): void {
    if (node.raft === undefined) return;
    node.raft.step(m);
    if (node.applyingAhead) {
      for (const e of node.raft.takeCommitted()) {
        this.apply(node, e);
        this.stats.appliedAhead++;
      }
      this.serveReads(node);
    }
    this.process(node);
  }

  /** Takes one Ready and completes it after a simulated fsync; one in flight per node. */
  private process(node: SimNode): void {
    const raft = node.raft;
    if (raft === undefined || node.syncing || !raft.hasReady()) return;
    const rd = raft.ready();
    node.syncing = true;
    const inc = node.incarnation;
    const wasLeader = rd.softState?.role === StateRole.Leader;
    if (rd.softState !== undefined) this.sim.trace(`${node.id} ${rd.softState.role} term ${raft.term} last ${raft.log.lastTerm()}/${raft.log.lastIndex()} commit ${raft.log.committed} voters ${raft.status().voters.join(',')}`);
    if (wasLeader) this.onLeader(node, raft);
    // As RaftNode does: a leader's appends go out while its own write is still in flight, so
    // a crash before the write completes is explored with followers already holding them.
    if (rd.messagesBeforePersist) for (const m of rd.messages) this.net.send(node.id, m.to, m);
    // As RaftNode does: committed entries already durable here apply before the write, and
    // with all of them applied, what followers commit meanwhile applies at once.
    for (const e of rd.committedEntries.slice(0, rd.durableCommitted)) this.apply(node, e);
    node.applyingAhead = rd.durableCommitted === rd.committedEntries.length;
    this.sim.schedule(rd.mustSync ? 1 + this.prng.int(3) : 0, () => {
      if (node.incarnation !== inc) return; // crashed before the sync completed: all lost
      node.applyingAhead = false;
      if (process.env.SIM_TRACE === '1') {
        for (const m of rd.messages) if (m.type === MessageType.Vote || m.type === MessageType.VoteResp) this.sim.trace(`${MessageType[m.type]} ${m.from}->${m.to} t${m.term} last ${m.logTerm}/${m.index}${m.reject ? ' reject' : ''}`);
        if (rd.hardState !== undefined) this.sim.trace(`${node.id} persist hs t${rd.hardState.term} v${rd.hardState.vote} c${rd.hardState.commit} entries ${rd.entries.length > 0 ? `${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}` : '-'}`);
      }
      if (rd.snapshot !== undefined) node.durable.applySnapshot(rd.snapshot);
      node.durable.append(rd.entries);
      if (rd.hardState !== undefined) node.durable.setHardState(rd.hardState);
      if (!rd.messagesBeforePersist) for (const m of rd.messages) this.net.send(node.id, m.to, m);
      if (rd.snapshot !== undefined) {
        node.kv = decodeKv(rd.snapshot.data);
        node.applied = rd.snapshot.metadata.index;
        // A snapshot hides whether a proposal it covers was committed as proposed.
        for (const [i, p] of node.puts) {
          if (i > node.applied) continue;
          node.puts.delete(i);
          p.done('unknown');
        }
      }
      for (const e of rd.committedEntries.slice(rd.durableCommitted)) this.apply(node, e);
      for (const rs of rd.readStates) {
        const g = node.gets.get(rs.requestId);
        if (g !== undefined) g.index = rs.index;
      }
      this.serveReads(node);
      raft.advance(rd);
      if (node.applied - node.durable.snapshot().metadata.index >= this.o.snapshotEntriesMax) {
        // As LevelStorage.compact does: the applied index may be ahead of the last hard state.
        const hs = node.durable.initialState().hardState;
        if (hs.commit < node.applied) node.durable.setHardState({ ...hs, commit: node.applied });
        node.durable.createSnapshot(node.applied, raft.appliedConfState(), encodeKv(node.kv));
        node.durable.compact(node.applied);
      }
      node.syncing = false;
      this.process(node);
    });
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1) throw new Error(`node ${node.id} applied ${e.index} after ${node.applied}`);
    node.applied = e.index;
    const key = `${e.type}:${this.dec.decode(e.data)}`;
    const seen = this.appliedLog.get(e.index);
    if (seen === undefined) this.appliedLog.set(e.index, { term: e.term, key });
    else if (seen.term !== e.term || seen.key !== key) {
      throw new Error(`state machine safety: node ${node.id} applied ${e.term}/${e.index} "${key}", another applied ${seen.term}/${e.index} "${seen.key}"`);
    }
    if (e.type === EntryType.Normal && e.data.byteLength > 0) {
      const cmd = JSON.parse(this.dec.decode(e.data)) as Command;
      node.kv.set(cmd.key, cmd.value);
    }
    const p = node.puts.get(e.index);
    if (p !== undefined) {
      node.puts.delete(e.index);
      // Another term's entry at this index means ours was overwritten: it never commits.
      p.done(p.term === e.term ? 'ok' : 'failed');
    }
  }

  private serveReads(node: SimNode): void {
    for (const [id, g] of node.gets) {
      if (g.index !== undefined && g.index <= node.applied) {
        node.gets.delete(id);
        g.done(node.kv.get(g.key) ?? null);
      }
    }
  }

  private onLeader(node: SimNode, raft: Raft): void {
    this.stats.elections++;
    const prev = this.leaders.get(raft.term);
    if (prev !== undefined && prev !== node.id) throw new Error(`election safety: ${prev} and ${node.id} both lead term ${raft.term}`);
    this.leaders.set(raft.term, node.id);
    // Leader completeness: every entry applied anywhere is in the new leader's log.
    const first = raft.log.firstIndex();
    for (const [index, e] of this.appliedLog) {
      if (index < first) continue;
      const t = raft.log.term(index);
      if (t !== e.term) throw new Error(`leader completeness: leader ${node.id} term ${raft.term} has ${t}/${index}, committed ${e.term}/${index}`);
    }
  }

  // ---------------------------------------------------------------- faults

  private injectFault(): void {
    const ids = this.o.nodeIds;
    const node = this.nodes.get(this.prng.pick(ids))!;
    const roll = this.prng.int(100);
    if (roll < 12) {
      this.sim.trace(`crash ${node.id}`);
      this.crash(node);
    }
    else if (roll < 30) {
      this.sim.trace(`restart ${node.id}`);
      this.restart(node);
    }
    else if (roll < 40) {
      const shuffled = this.prng.shuffle([...ids]);
      const cut = 1 + this.prng.int(ids.length - 1);
      this.net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      this.sim.trace(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
    } else if (roll < 45) {
      this.net.partitionOneWay(this.prng.pick(ids), this.prng.pick(ids));
    } else if (roll < 60) {
      this.sim.trace('heal');
      this.net.heal();
    }
    else if (roll < 70) this.net.configure({ dropRate: this.prng.pick([0, 0.02, 0.1, 0.3]), duplicateRate: this.prng.pick([0, 0.05]) });
    else if (roll < 80) this.changeMembership();
    else if (roll < 85) this.transferLeadership();
  }

  private changeMembership(): void {
    const leader = this.leader();
    if (leader?.raft === undefined) return;
    const cs = leader.raft.appliedConfState();
    const id = this.prng.pick(this.o.nodeIds);
    const isVoter = cs.voters.includes(id);
    const isLearner = cs.learners.includes(id);
    let type: ConfChangeType;
    if (isVoter) {
      if (cs.voters.length <= 2) return;
      type = ConfChangeType.RemoveVoter;
    } else if (isLearner) type = this.prng.chance(0.7) ? ConfChangeType.PromoteLearner : ConfChangeType.RemoveLearner;
    else type = this.prng.chance(0.7) ? ConfChangeType.AddLearner : ConfChangeType.AddVoter;
    try {
      const r = leader.raft.proposeConfChange({ type, nodeId: id });
      this.sim.trace(`conf ${ConfChangeType[type]}(${id}) at ${r.term}/${r.index} by ${leader.id}`);
      this.stats.confChanges++;
      this.process(leader);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  private transferLeadership(): void {
    const leader = this.leader();
    if (leader?.raft === undefined) return;
    const to = this.prng.pick(leader.raft.appliedConfState().voters);
    try {
      leader.raft.transferLeadership(to);
      this.sim.trace(`transfer ${leader.id} -> ${to}`);
      this.process(leader);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  private heal(): void {
    this.net.heal();
    this.net.configure({ dropRate: 0, duplicateRate: 0 });
    for (const node of this.nodes.values()) this.restart(node);
  }

  /** Liveness: after healing, a leader commits a fresh entry that every member applies. */
  private awaitConvergence(): void {
    let probeIndex = 0;
    let probeTerm = 0;
    const ok = this.sim.runUntil(
      () => {
        const l = this.leader();
        if (l?.raft === undefined) return false;
        if (probeTerm !== l.raft.term) {
          try {
            const r = l.raft.propose(this.enc.encode(JSON.stringify({ key: '__probe', value: String(l.raft.term) })));
            probeIndex = r.index;
            probeTerm = r.term;
            this.process(l);
          } catch (e) {
            if (!(e instanceof RaftError)) throw e;
            return false;
          }
        }
        const cs = l.raft.appliedConfState();
        return [...cs.voters, ...cs.learners].every((id) => {
          const n = this.nodes.get(id)!;
          return n.raft !== undefined && n.applied >= probeIndex && this.appliedLog.get(probeIndex)?.term === probeTerm;
        });
      },
      { timeoutMs: this.o.healBoundMs },
    );
    if (!ok) {
      const states = [...this.nodes.values()].map((n) => {
        const s = n.raft?.status();
        return s === undefined ? `${n.id}:down` : `${n.id}:${s.role} t${s.term} c${s.commit} a${n.applied} v(${s.voters.join(',')})`;
      });
      throw new Error(`liveness: no leader committed within ${this.o.healBoundMs} ms after healing [${states.join(' ')}]`);
    }
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === StateRole.Leader && (best === undefined || n.raft.term > best.raft!.term)) best = n;
    }
    return best;
  }

  // ---------------------------------------------------------------- clients

  private clientLoop(): void {
    if (!this.clientsRunning) return;
    const clientId = ++this.clientSeq;
    const key = this.prng.pick(this.o.keys);
    const isPut = this.prng.chance(0.6);
    const input: KvInput = isPut ? { kind: 'put', key, value: `v${clientId}` } : { kind: 'get', key };
    const call = this.sim.now;
    // Clients mostly find the leader, sometimes ask a random node (and get NOT_LEADER).
    const target = this.prng.chance(0.8) ? (this.leader() ?? this.nodes.get(this.prng.pick(this.o.nodeIds))!) : this.nodes.get(this.prng.pick(this.o.nodeIds))!;
    let finished = false;
    const finish = (output: KvOutput | undefined, definite: 'ok' | 'failed' | 'unknown'): void => {
      if (finished) return;
      finished = true;
      this.openOps.delete(clientId);
      this.stats.ops++;
      this.sim.trace(`client ${clientId} ${input.kind} ${input.key} via ${target.id}: ${definite}`);
      if (definite === 'ok') this.history.push({ clientId, input, output, call, return: this.sim.now });
      else if (definite === 'unknown' && input.kind === 'put') this.history.push({ clientId, input, output: undefined, call, return: Infinity });
      this.sim.schedule(1 + this.prng.int(20), () => this.clientLoop());
    };
    this.openOps.set(clientId, () => finish(undefined, 'unknown'));
    this.sim.schedule(this.o.clientTimeoutMs, () => finish(undefined, 'unknown'));
    this.sim.schedule(1 + this.prng.int(3), () => {
      const raft = target.raft;
      if (raft === undefined) return finish(undefined, 'failed');
      try {
        if (input.kind === 'put') {
          const r = raft.propose(this.enc.encode(JSON.stringify({ key, value: input.value })));
          target.puts.set(r.index, {
            term: r.term,
            done: (outcome) => this.sim.schedule(1, () => finish(outcome === 'ok' ? { kind: 'put' } : undefined, outcome)),
          });
        } else {
          const id = ++this.readSeq;
          target.gets.set(id, { index: undefined, key, done: (value) => this.sim.schedule(1, () => finish({ kind: 'get', value }, 'ok')) });
          raft.readIndex(id);
        }
        this.process(target);
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
        finish(undefined, 'failed');
      }
    });
  }

  // ---------------------------------------------------------------- checks

  /** Log matching: if two logs hold the same term at an index, they agree on everything before. */
  private checkLogMatching(): void {
    const up = [...this.nodes.values()].filter((n) => n.raft !== undefined);
    for (let a = 0; a < up.length; a++) {
      for (let b = a + 1; b < up.length; b++) {
        const la = up[a]!.raft!.log;
        const lb = up[b]!.raft!.log;
        const lo = Math.max(la.firstIndex(), lb.firstIndex());
        let i = Math.min(la.lastIndex(), lb.lastIndex());
        while (i >= lo && la.term(i) !== lb.term(i)) i--;
        if (i < lo) continue;
        const ea = la.slice(lo, i + 1, Number.MAX_SAFE_INTEGER);
        const eb = lb.slice(lo, i + 1, Number.MAX_SAFE_INTEGER);
        for (let k = 0; k < ea.length; k++) {
          const x = ea[k]!;
          const y = eb[k]!;
          if (x.term !== y.term || x.type !== y.type || this.dec.decode(x.data) !== this.dec.decode(y.data)) {
            throw new Error(`log matching: nodes ${up[a]!.id} and ${up[b]!.id} differ at ${x.index} below matching index ${i}`);
          }
        }
      }
    }
  }

  private checkHistory(): void {
    const result = checkLinearizable(this.history, kvModel, { timeoutMs: 20_000 });
    if (result.ok === false) throw new Error(`linearizability: ${result.counterexample.message}`);
    if (result.ok === 'unknown') throw new Error(`linearizability check inconclusive: ${result.reason}`);
  }
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([...kv]));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  return new Map<string, string>(JSON.parse(new TextDecoder().decode(data)) as [string, string][]);
}
