import {
  type ConfChangeType as CCType,
  type Entry,
  type Message,
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  Raft,
  RaftError,
  type Ready,
  decodeConfChange,
  makeRaftConfig,
} from '../src/index.js';

/**
 * A tiny cluster for scripted interaction tests: every node is a Raft core over a
 * MemoryStorage; Readys are handled synchronously (persist, queue messages, apply, advance).
 * Commands mirror etcd's datadriven interaction tests.
 */
interface Node {
  raft: Raft;
  storage: MemoryStorage;
  applied: string[];
}

export class InteractionEnv {
  private nodes = new Map<number, Node>();
  private queue: Message[] = [];
  private cut = new Set<string>();
  private opts = { preVote: false, checkQuorum: false, electionTimeoutTicks: 10, heartbeatIntervalTicks: 5 };

  handle(cmd: string, args: string[]): string {
    const out: string[] = [];
    const num = (i: number): number => {
      const v = Number(args[i]);
      if (!Number.isInteger(v)) throw new Error(`${cmd}: argument ${i} must be an integer`);
      return v;
    };
    try {
      switch (cmd) {
        case 'add-nodes':
          this.addNodes(num(0), args.slice(1), out);
          break;
        case 'add-node':
          this.addNode(num(0), [], []);
          out.push(`node ${num(0)} started with an empty log`);
          break;
        case 'campaign':
          this.node(num(0)).raft.campaign();
          break;
        case 'propose':
          out.push(fmtIndex(this.node(num(0)).raft.propose(new TextEncoder().encode(args[1] ?? ''))));
          break;
        case 'propose-conf-change':
          out.push(fmtIndex(this.node(num(0)).raft.proposeConfChange({ type: parseCC(args[1] ?? ''), nodeId: num(2) })));
          break;
        case 'tick-election':
          for (let i = 0; i < this.opts.electionTimeoutTicks * 2; i++) this.node(num(0)).raft.tick();
          break;
        case 'tick-heartbeat':
          for (let i = 0; i < this.opts.heartbeatIntervalTicks; i++) this.node(num(0)).raft.tick();
          break;
        case 'process-ready':
          for (const id of this.ids(args)) this.processReady(id, out);
          break;
        case 'deliver-msgs':
          this.deliver(args.length > 0 ? new Set(args.map(Number)) : undefined, out);
          break;
        case 'stabilize':
          this.stabilize(out);
          break;
        case 'partition':
          this.partition(args.map(Number));
          out.push(`isolated {${args.join(',')}} from the rest`);
          break;
        case 'heal':
          this.cut.clear();
          break;
        case 'transfer-leadership':
          this.node(num(0)).raft.transferLeadership(num(1));
          break;
        case 'read-index':
          this.node(num(0)).raft.readIndex(num(1));
          break;
        case 'compact':
          this.compact(num(0), out);
          break;
        case 'status':
          for (const id of this.ids(args)) out.push(this.fmtStatus(id));
          break;
        case 'log':
          for (const id of this.ids(args)) out.push(this.fmtLog(id));
          break;
        default:
          throw new Error(`unknown command ${cmd}`);
      }
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      out.push(`error ${e.code}${e.leaderId === undefined ? '' : ` leader=${e.leaderId}`}`);
    }
    return out.length === 0 ? 'ok' : out.join('\n');
  }

  private addNodes(n: number, args: string[], out: string[]): void {
    let learners: number[] = [];
    for (const a of args) {
      const [k, v] = a.split('=');
      if (k === 'prevote') this.opts.preVote = v === 'true';
      else if (k === 'checkquorum') this.opts.checkQuorum = v === 'true';
      else if (k === 'learners') learners = (v ?? '').split(',').map(Number);
      else throw new Error(`unknown option ${a}`);
    }
    const first = this.nodes.size + 1;
    const all = Array.from({ length: n }, (_, i) => first + i);
    const voters = all.filter((id) => !learners.includes(id));
    for (const id of all) this.addNode(id, voters, learners);
    out.push(`voters=(${voters.join(' ')}) learners=(${learners.join(' ')})`);
  }

  private addNode(id: number, voters: number[], learners: number[]): void {
    const storage = MemoryStorage.bootstrap(voters, learners);
    const raft = new Raft(makeRaftConfig({ id, ...this.opts, randomSeed: id }), storage);
    this.nodes.set(id, { raft, storage, applied: [] });
  }

  private node(id: number): Node {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private ids(args: string[]): number[] {
    return args.length > 0 ? args.map(Number) : [...this.nodes.keys()].sort((a, b) => a - b);
  }

  private partition(group: number[]): void {
    const inside = new Set(group);
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) if (inside.has(a) !== inside.has(b)) this.cut.add(`${a}-${b}`);
    }
  }

  private processReady(id: number, out: string[]): boolean {
    const n = this.node(id);
    if (!n.raft.hasReady()) return false;
    const rd = n.raft.ready();
    out.push(`> ${id} handling Ready`);
    for (const line of fmtReady(rd)) out.push(`  ${line}`);
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot);
      const data = new TextDecoder().decode(rd.snapshot.data);
      n.applied = data === '' ? [] : data.split(',');
    }
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.queue.push(m);
    for (const e of rd.committedEntries) if (e.data.byteLength > 0) n.applied.push(fmtEntry(e));
    n.raft.advance(rd);
    return true;
  }

  private deliver(to: Set<number> | undefined, out: string[]): number {
    const now = this.queue.filter((m) => to === undefined || to.has(m.to));
    this.queue = this.queue.filter((m) => !(to === undefined || to.has(m.to)));
    for (const m of now) {
      const target = this.nodes.get(m.to);
      if (target === undefined || this.cut.has(`${m.from}-${m.to}`)) {
        out.push(`dropped: ${fmtMsg(m)}`);
        continue;
      }
      target.raft.step(m);
    }
    return now.length;
  }

  private stabilize(out: string[]): void {
    // Bounded: a correct cluster quiesces in a handful of rounds.
    for (let round = 0; round < 100; round++) {
      let progressed = false;
      for (const id of this.ids([])) progressed = this.processReady(id, out) || progressed;
      if (this.queue.length > 0) {
        this.deliver(undefined, out);
        progressed = true;
      }
      if (!progressed) return;
    }
    throw new Error('stabilize did not converge within 100 rounds');
  }

  private compact(id: number, out: string[]): void {
    const n = this.node(id);
    const applied = n.raft.status().applied;
    const data = new TextEncoder().encode(n.applied.join(','));
    n.storage.createSnapshot(applied, n.raft.appliedConfState(), data);
    n.storage.compact(applied);
    out.push(`snapshot at ${applied}; first index now ${n.storage.firstIndex()}`);
  }

  private fmtStatus(id: number): string {
    const s = this.node(id).raft.status();
    const lines = [
      `${id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.leaderId} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} voters=(${s.voters.join(' ')}) learners=(${s.learners.join(' ')})`,
    ];
    for (const [pid, p] of [...s.progress].sort((a, b) => a[0] - b[0])) {
      lines.push(`  ${pid}: ${p.state} match=${p.match} next=${p.next}${p.isLearner ? ' learner' : ''}`);
    }
    return lines.join('\n');
  }

  private fmtLog(id: number): string {
    const n = this.node(id);
    const first = n.storage.firstIndex();
    const last = n.storage.lastIndex();
    const ents = last >= first ? n.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [];
    return `${id}: log=[${ents.map(fmtEntry).join(' ')}] applied=[${n.applied.join(' ')}]`;
  }
}

function parseCC(s: string): CCType {
  const table: Record<string, CCType> = {
    'add-voter': ConfChangeType.AddVoter,
    'remove-voter': ConfChangeType.RemoveVoter,
    'add-learner': ConfChangeType.AddLearner,
    'remove-learner': ConfChangeType.RemoveLearner,
    'promote-learner': ConfChangeType.PromoteLearner,
  };
  const t = table[s];
  if (t === undefined) throw new Error(`unknown conf change ${s}`);
  return t;
}

function fmtIndex(r: { index: number; term: number }): string {
  return `proposed at index=${r.index} term=${r.term}`;
}

export function fmtEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} conf:${cc === undefined ? '?' : `${ConfChangeType[cc.type]}(${cc.nodeId})`}`;
  }
  return `${e.term}/${e.index} "${new TextDecoder().decode(e.data)}"`;
}

export function fmtMsg(m: Message): string {
  const parts = [`${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`];
  switch (m.type) {
    case MessageType.App:
      parts.push(`prev=${m.logTerm}/${m.index} commit=${m.commit} [${m.entries.map(fmtEntry).join(', ')}]`);
      break;
    case MessageType.AppResp:
      parts.push(`index=${m.index}`);
      if (m.reject) parts.push(`rejected hint=${m.logTerm}/${m.rejectHint}`);
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      parts.push(`last=${m.logTerm}/${m.index}${m.context !== 0 ? ' transfer' : ''}`);
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      if (m.reject) parts.push('rejected');
      break;
    case MessageType.Heartbeat:
      parts.push(`commit=${m.commit}${m.context !== 0 ? ` read=${m.context}` : ''}`);
      break;
    case MessageType.HeartbeatResp:
      if (m.context !== 0) parts.push(`read=${m.context}`);
      break;
    case MessageType.Snap:
      parts.push(`snapshot=${m.snapshot?.metadata.term}/${m.snapshot?.metadata.index} voters=(${m.snapshot?.metadata.confState.voters.join(' ')})`);
      break;
    case MessageType.TimeoutNow:
      break;
  }
  return parts.join(' ');
}

function fmtReady(rd: Ready): string[] {
  const lines: string[] = [];
  if (rd.softState !== undefined) lines.push(`role=${rd.softState.role} lead=${rd.softState.leaderId}`);
  if (rd.hardState !== undefined) lines.push(`hardState term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}`);
  if (rd.snapshot !== undefined) lines.push(`snapshot ${rd.snapshot.metadata.term}/${rd.snapshot.metadata.index}`);
  if (rd.entries.length > 0) lines.push(`entries: ${rd.entries.map(fmtEntry).join(', ')}`);
  if (rd.committedEntries.length > 0) lines.push(`committed: ${rd.committedEntries.map(fmtEntry).join(', ')}`);
  for (const r of rd.readStates) lines.push(`readState request=${r.requestId} index=${r.index}`);
  for (const m of rd.messages) lines.push(fmtMsg(m));
  return lines;
}
