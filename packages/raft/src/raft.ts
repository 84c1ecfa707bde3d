import { type RaftConfig, validateRaftConfig } from './config.js';
import { RaftError, assert, notLeader } from './errors.js';
import { RaftLog } from './log.js';
import { Progress, ProgressState } from './progress.js';
import { type Storage } from './storage.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  StateRole,
  decodeConfChange,
  encodeConfChange,
  entriesSize,
  makeMessage,
} from './types.js';

const CAMPAIGN_TRANSFER = 1;

interface PendingRead {
  readonly requestId: number;
  readonly index: number;
  readonly seq: number;
  readonly acks: Set<number>;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
}

export interface RaftStatus {
  readonly id: number;
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly role: StateRole;
  readonly leaderId: number;
  readonly leadTransferee: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly progress: ReadonlyMap<number, ProgressStatus>;
}

/**
 * The Raft consensus algorithm as a pure state machine (after etcd's raft). Inputs:
 * tick(), step(message), campaign(), propose(), proposeConfChange(), readIndex(),
 * transferLeadership(). Output: ready() / advance(). No timers, I/O or wall clock inside.
 */
export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  leaderId = NONE;
  role: StateRole = StateRole.Follower;
  readonly log: RaftLog;

  private readonly cfg: RaftConfig;
  private voters = new Set<number>();
  private learners = new Set<number>();
  private prs = new Map<number, Progress>();
  private votes = new Map<number, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term. */
  private deferredReads: number[] = [];
  private readSeq = 0;
  private leadTransferee = NONE;
  /** Index of the latest conf change appended by this leader; a new one waits until it is applied. */
  private pendingConfIndex = 0;
  /**
   * Membership takes effect when a conf entry is appended (Raft thesis §4.1): the current
   * configuration is the latest one in the log, committed or not. confBase is the
   * configuration as of the last committed conf entry folded in (or the snapshot); confLog
   * holds the configurations of conf entries still above it, so a truncation can undo them.
   */
  private confBase: ConfState = { voters: [], learners: [] };
  private confLog: { index: number; cs: ConfState }[] = [];
  private uncommittedBytes = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private rngState: number;
  private stepRole: (m: Message) => void;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private outstanding: Ready | undefined = undefined;

  constructor(config: RaftConfig, storage: Storage) {
    validateRaftConfig(config);
    this.cfg = config;
    this.id = config.id;
    this.rngState = (config.randomSeed ?? config.id) >>> 0 || 0x9e3779b9;
    this.log = new RaftLog(storage, config.applyBytesMax);
    const { hardState, confState } = storage.initialState();
    this.confBase = confState;
    this.applyConfState(confState);
    this.log.onAppend = (ents) => this.onEntriesAppended(ents);
    if (hardState.term !== 0 || hardState.commit !== 0) {
      assert(hardState.commit >= this.log.committed && hardState.commit <= this.log.lastIndex(), `restored commit ${hardState.commit} within the log`);
      this.log.commitTo(hardState.commit);
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    // Conf entries already in the log define the membership from the start.
    const first = this.log.firstIndex();
    if (this.log.lastIndex() >= first) this.onEntriesAppended(this.log.slice(first, this.log.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
    this.stepRole = (m) => this.stepFollower(m);
    this.becomeFollower(this.term, NONE);
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardState();
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick: elections on followers, heartbeats on the leader. */
  tick(): void {
    if (this.role === StateRole.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (etcd's MsgHup), if this node may become leader. */
  campaign(): void {
    this.hup(false);
  }

  /** Appends data to the leader's log. Throws NOT_LEADER on other nodes. */
  propose(data: Uint8Array): { index: number; term: number } {
    const [first] = this.proposeBatch([data]);
    return first!;
  }

  /** Appends several proposals as consecutive entries, replicated together. */
  proposeBatch(datas: readonly Uint8Array[]): { index: number; term: number }[] {
    this.checkCanPropose();
    const ents = datas.map((data) => ({ type: EntryType.Normal, data }));
    return this.appendAndBroadcast(ents);
  }

  /** Proposes one membership change; refused while another is not yet applied. */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new RaftError('CONF_CHANGE_IN_PROGRESS', `conf change at ${this.pendingConfIndex} not yet applied (applied ${this.log.applied})`);
    }
    this.validateConfChange(cc);
    const [r] = this.appendAndBroadcast([{ type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
    this.pendingConfIndex = r!.index;
    return r!;
  }

  /**
   * Starts a linearizable read: once a quorum confirms this node is still leader, a ReadState
   * {requestId, index} appears in a Ready; serve the read after applying up to index.
   */
  readIndex(requestId: number): void {
    if (this.role !== StateRole.Leader) throw notLeader(this.leaderId);
    if (this.log.term(this.log.committed) !== this.term) {
      // The commit index of a new leader may lag; a read must wait for its first commit (Raft §6.4).
      this.deferredReads.push(requestId);
      return;
    }
    this.startRead(requestId);
  }

  /** Hands leadership to `to` (a voter) with TimeoutNow once it has caught up. */
  transferLeadership(to: number): void {
    if (this.role !== StateRole.Leader) throw notLeader(this.leaderId);
    if (to === this.id) return;
    if (!this.voters.has(to)) throw new RaftError('INVALID_ARGUMENT', `transfer target ${to} is not a voter`);
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout, or proposals resume here.
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /** Feeds one message from a peer. Messages from unknown or stale terms are handled per §5.1. */
  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === CAMPAIGN_TRANSFER;
        const inLease = this.cfg.checkQuorum && this.leaderId !== NONE && this.electionElapsed < this.cfg.electionTimeoutTicks;
        // A live leader's followers ignore elections: a rejoining node cannot depose it.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; the term moves only once we win.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // Tell a stale leader our term; otherwise, with PreVote/CheckQuorum, it could stay stuck.
        this.send(makeMessage({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term }));
      } else if (m.type === MessageType.PreVote || m.type === MessageType.Vote) {
        // A rejection in our term moves a lagging candidate up. Without it, a candidate whose
        // term trails a voter that keeps campaigning on a stale configuration never learns the
        // term it needs, and neither wins (found by the simulator, mixed configurations).
        const type = m.type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
        this.send(makeMessage({ type, from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const ss = this.softState();
    const hs = this.hardState();
    return (
      ss.leaderId !== this.prevSoftState.leaderId ||
      ss.role !== this.prevSoftState.role ||
      !hardStateEqual(hs, this.prevHardState) ||
      this.msgs.length > 0 ||
      this.log.unstable.entries.length > 0 ||
      this.log.unstable.snapshot !== undefined ||
      this.log.hasNextCommittedEntries() ||
      this.readStates.length > 0
    );
  }

  /**
   * Collects the work accumulated since the last advance(). The caller must, in this order:
   * 1. persist `hardState`, `entries` and `snapshot` (fsync when `mustSync`);
   * 2. only then send `messages` (a vote or append ack must never outrun its persistence),
   *    unless `messagesBeforePersist`: then they may go out before step 1;
   * 3. apply `snapshot` (if any) and then `committedEntries` to the state machine, and serve
   *    `readStates` once applied ≥ their index. The first `durableCommitted` of them are in
   *    stable storage already (from earlier Readys) and may be applied before step 1: they are
   *    committed, and no later write can change them;
   * 4. call advance(ready). No other ready() may be taken before advance().
   * The core may be stepped, ticked and proposed to between ready() and advance().
   */
  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called twice without advance()');
    const ss = this.softState();
    const hs = this.hardState();
    assert(hs.commit >= this.prevHardState.commit, `commit index never decreases (${this.prevHardState.commit} → ${hs.commit})`);
    assert(hs.term >= this.prevHardState.term, 'term never decreases');
    const softChanged = ss.leaderId !== this.prevSoftState.leaderId || ss.role !== this.prevSoftState.role;
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const entries = this.log.unstableEntries();
    const snapshot = this.log.unstable.snapshot;
    const committedEntries = this.log.nextCommittedEntries();
    const stable = this.log.stableLastIndex();
    let durableCommitted = 0;
    if (snapshot === undefined) while ((committedEntries[durableCommitted]?.index ?? Infinity) <= stable) durableCommitted++;
    const rd: Ready = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      entries,
      snapshot,
      messages: this.msgs,
      committedEntries,
      durableCommitted,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
      messagesBeforePersist:
        this.role === StateRole.Leader &&
        hs.term === this.prevHardState.term &&
        hs.vote === this.prevHardState.vote &&
        this.msgs.every((m) => m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap),
    };
    this.msgs = [];
    this.readStates = [];
    this.prevSoftState = ss;
    this.outstanding = rd;
    return rd;
  }

  /**
   * A leader's entries committed since the outstanding Ready was taken, for the caller to apply
   * now, while that Ready's write is still in flight: an entry commits once a quorum holds it
   * durably, and a leader's followers can form that quorum before the leader's own write is
   * done (Raft thesis §10.2.1). Only entries already handed out in a Ready (stable or being
   * persisted) are returned, so they are on this node's disk once the outstanding write is.
   * The caller must first have applied every committed entry of the outstanding Ready, and must
   * apply these in order before any later ones; advance() then skips them. Empty on
   * followers, with no Ready outstanding, or while a snapshot is being persisted.
   */
  takeCommitted(): Entry[] {
    const rd = this.outstanding;
    if (rd === undefined || this.role !== StateRole.Leader || rd.snapshot !== undefined) return [];
    const handedLast = rd.entries[rd.entries.length - 1]?.index ?? this.log.stableLastIndex();
    const after = Math.max(this.log.applied, rd.committedEntries[rd.committedEntries.length - 1]?.index ?? 0);
    const ents = this.log.nextCommittedEntries(after, handedLast);
    const last = ents[ents.length - 1];
    if (last === undefined) return [];
    this.log.appliedTo(last.index);
    this.releaseUncommitted(ents);
    this.foldCommittedConf();
    return ents;
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() must receive the last ready()');
    this.outstanding = undefined;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) {
      this.log.stableTo(lastEntry.index, lastEntry.term);
      // The leader's own copy counts towards a commit once it is on disk, not when appended:
      // its appends may go out before its own write (messagesBeforePersist).
      if (this.role === StateRole.Leader) {
        this.prs.get(this.id)?.maybeUpdate(lastEntry.index);
        if (this.maybeCommit()) this.bcastAppend();
      }
    }
    if (rd.snapshot !== undefined) {
      this.log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > this.log.applied) this.log.appliedTo(rd.snapshot.metadata.index);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      // Entries after it may have been applied already through takeCommitted().
      if (lastCommitted.index > this.log.applied) this.log.appliedTo(lastCommitted.index);
      this.releaseUncommitted(rd.committedEntries);
    }
    this.foldCommittedConf();
  }

  /** A leader's committed entries no longer count against uncommittedBytesMax. */
  private releaseUncommitted(ents: readonly Entry[]): void {
    if (this.role === StateRole.Leader) this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entriesSize(ents));
  }

  softState(): SoftState {
    return { leaderId: this.leaderId, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** The membership as of the applied index: what a snapshot taken now must record. */
  appliedConfState(): ConfState {
    let cs = this.confBase;
    for (const c of this.confLog) if (c.index <= this.log.applied) cs = c.cs;
    return cs;
  }

  status(): RaftStatus {
    const progress = new Map<number, ProgressStatus>();
    if (this.role === StateRole.Leader) {
      for (const [id, pr] of this.prs) progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner });
    }
    const cs = this.confState();
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      role: this.role,
      leaderId: this.leaderId,
      leadTransferee: this.leadTransferee,
      voters: cs.voters,
      learners: cs.learners,
      progress,
    };
  }

  isVoter(): boolean {
    return this.voters.has(this.id);
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: number): void {
    this.reset(term);
    this.stepRole = (m) => this.stepFollower(m);
    this.leaderId = leaderId;
    this.role = StateRole.Follower;
  }

  private becomePreCandidate(): void {
    assert(this.role !== StateRole.Leader, 'leader cannot become pre-candidate');
    // No term change: a pre-election must not disturb anyone if it fails.
    this.stepRole = (m) => this.stepCandidate(m);
    this.votes.clear();
    this.leaderId = NONE;
    this.role = StateRole.PreCandidate;
  }

  private becomeCandidate(): void {
    assert(this.role !== StateRole.Leader, 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.stepRole = (m) => this.stepCandidate(m);
    this.vote = this.id;
    this.role = StateRole.Candidate;
  }

  private becomeLeader(): void {
    assert(this.role === StateRole.Candidate, 'only a candidate becomes leader');
    assert(this.vote === this.id, 'a leader voted for itself in its term');
    this.reset(this.term);
    this.stepRole = (m) => this.stepLeader(m);
    this.leaderId = this.id;
    this.role = StateRole.Leader;
    this.prs.get(this.id)?.becomeReplicate();
    // An empty entry of the new term commits everything before it (Raft §5.4.2, §8).
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    // No conf change until that entry is applied: with append-time membership, a leader that
    // changes the configuration before committing in its term can split the quorum (the
    // single-server bug, thesis §4.1 errata). It also covers uncommitted conf entries before it.
    this.pendingConfIndex = this.log.lastIndex();
    this.uncommittedBytes = 0;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `term moves forward only (${this.term} → ${term})`);
      this.term = term;
      this.vote = NONE;
    }
    this.leaderId = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTimeoutTicks + this.randomInt(this.cfg.electionTimeoutTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    const last = this.log.lastIndex();
    // Our own match counts persisted entries only (see advance()).
    const stable = Math.min(last, this.log.unstable.offset - 1);
    for (const id of [...this.prs.keys()]) {
      const pr = this.newProgress(id);
      if (id === this.id) pr.match = stable;
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.pendingReads = [];
    this.deferredReads = [];
  }

  // ---------------------------------------------------------------- elections

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.leadTransferee = NONE;
    }
    for (const [id, pr] of this.prs) {
      if (pr.state === ProgressState.Snapshot && ++pr.snapshotTicks >= this.cfg.snapshotRetryTicks) {
        // The snapshot or its ack was probably lost: probe again (which resends it if needed).
        pr.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(0);
    }
  }

  private checkQuorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.prs.get(id);
      if (id === this.id || pr?.recentActive === true) active++;
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
    return active >= this.quorum();
  }

  private hup(transfer: boolean): void {
    if (this.role === StateRole.Leader || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.runElection(true, false);
    else this.runElection(false, transfer);
  }

  private runElection(pre: boolean, transfer: boolean): void {
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const term = pre ? this.term + 1 : this.term;
    if (this.poll(this.id, true) === 'won') {
      if (pre) this.runElection(false, transfer);
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(
        makeMessage({
          type: pre ? MessageType.PreVote : MessageType.Vote,
          from: this.id,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: transfer ? CAMPAIGN_TRANSFER : 0,
        }),
      );
    }
  }

  private poll(id: number, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const [voter, v] of this.votes) {
      if (!this.voters.has(voter)) continue;
      if (v) yes++;
      else no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (no > this.voters.size - q) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.leaderId === NONE) || (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Reply with the request's term so a pre-candidate can tell the answer is for its round.
      this.send(makeMessage({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  // ---------------------------------------------------------------- role step functions

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign at once, past any lease the voters hold.
        this.hup(true);
        return;
      case MessageType.AppResp:
      case MessageType.HeartbeatResp:
      case MessageType.Vote:
      case MessageType.VoteResp:
      case MessageType.PreVote:
      case MessageType.PreVoteResp:
        // Stale answers from an earlier role, or votes (handled in step()).
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === StateRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.AppResp:
      case MessageType.HeartbeatResp:
      case MessageType.TimeoutNow:
      case MessageType.Vote:
      case MessageType.PreVote:
      case MessageType.VoteResp:
      case MessageType.PreVoteResp:
        break;
    }
    if (m.type !== myVoteResp) return;
    const result = this.poll(m.from, !m.reject);
    if (result === 'won') {
      if (this.role === StateRole.PreCandidate) this.runElection(false, false);
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    switch (m.type) {
      case MessageType.App:
      case MessageType.Heartbeat:
      case MessageType.Snap:
        assert(false, `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      case MessageType.AppResp:
        if (pr !== undefined) this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        if (pr !== undefined) this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.TimeoutNow:
      case MessageType.Vote:
      case MessageType.PreVote:
      case MessageType.VoteResp:
      case MessageType.PreVoteResp:
        // Late election traffic of this term: the election is over.
        return;
    }
  }

  // ---------------------------------------------------------------- follower handlers

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: lastNew }));
      return;
    }
    // Reject with a hint: the last index that may match, and its term, so the leader can skip
    // a whole divergent term at once instead of one entry per round trip.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      makeMessage({
        type: MessageType.AppResp,
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: this.log.term(hintIndex) ?? 0,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(makeMessage({ type: MessageType.HeartbeatResp, from: this.id, to: m.from, term: this.term, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s !== undefined && this.restore(s)) {
      this.send(makeMessage({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: this.log.lastIndex() }));
    } else {
      this.send(makeMessage({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
    }
  }

  private restore(s: Snapshot): boolean {
    const meta = s.metadata;
    if (meta.index <= this.log.committed) return false;
    // The snapshot may predate this node's membership; the entries after it will add it.
    const cs = meta.confState;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already have the snapshot's entries: just learn that they are committed.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(s);
    this.confBase = cs;
    this.confLog = [];
    this.applyConfState(cs);
    return true;
  }

  // ---------------------------------------------------------------- leader handlers

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
      if (pr.state === ProgressState.Probe) pr.becomeReplicate();
      else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);

      if (this.maybeCommit()) this.bcastAppend();
      else if (wasPaused) this.sendAppend(m.from);
      // Pipeline: keep sending while the window has room.
      for (let i = 0; i < this.cfg.inflightMessagesMax && this.maybeSendAppend(m.from, false); i++);
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // Appends may have been lost; free a slot so a full window cannot stall replication forever.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context > 0) this.ackRead(m.from, m.context);
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.prs.get(id)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[this.quorum() - 1]!;
    const before = this.log.committed;
    const committed = this.log.maybeCommit(quorumIndex, this.term);
    assert(this.log.committed >= before, 'commit index never decreases');
    if (committed && this.deferredReads.length > 0 && this.log.term(this.log.committed) === this.term) {
      const reads = this.deferredReads;
      this.deferredReads = [];
      for (const r of reads) this.startRead(r);
    }
    return committed;
  }

  private startRead(requestId: number): void {
    const index = this.log.committed;
    if (this.quorum() <= 1 && this.voters.has(this.id)) {
      this.readStates.push({ requestId, index });
      return;
    }
    const seq = ++this.readSeq;
    this.pendingReads.push({ requestId, index, seq, acks: new Set([this.id]) });
    this.bcastHeartbeat(seq);
  }

  private ackRead(from: number, seq: number): void {
    let release = -1;
    for (let i = 0; i < this.pendingReads.length; i++) {
      const r = this.pendingReads[i]!;
      if (r.seq <= seq) r.acks.add(from);
      let n = 0;
      for (const id of r.acks) if (this.voters.has(id)) n++;
      if (n >= this.quorum()) release = i;
    }
    // A quorum confirming a later round also confirms every earlier one.
    if (release >= 0) {
      for (const r of this.pendingReads.splice(0, release + 1)) this.readStates.push({ requestId: r.requestId, index: r.index });
    }
  }

  private checkCanPropose(): void {
    if (this.role !== StateRole.Leader) throw notLeader(this.leaderId);
    if (!this.prs.has(this.id)) throw new RaftError('PROPOSAL_DROPPED', 'this leader was removed from the configuration');
    if (this.leadTransferee !== NONE) {
      throw new RaftError('PROPOSAL_DROPPED', `leadership transfer to ${this.leadTransferee} in progress`);
    }
  }

  private appendAndBroadcast(ents: { type: EntryType; data: Uint8Array }[]): { index: number; term: number }[] {
    let bytes = 0;
    for (const e of ents) bytes += e.data.byteLength + 24;
    if (this.cfg.uncommittedBytesMax > 0 && this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      throw new RaftError('PROPOSAL_DROPPED', `uncommitted bytes would exceed uncommittedBytesMax (${this.cfg.uncommittedBytesMax})`);
    }
    const out = this.appendEntries(ents);
    this.uncommittedBytes += bytes;
    this.bcastAppend();
    return out;
  }

  private appendEntries(ents: { type: EntryType; data: Uint8Array }[]): { index: number; term: number }[] {
    let index = this.log.lastIndex();
    const full: Entry[] = ents.map((e) => ({ term: this.term, index: ++index, type: e.type, data: e.data }));
    this.log.append(full);
    // No self progress here: the leader's entries count once persisted (advance()). A conf
    // entry applied on append can still shrink the quorum to what is already acknowledged.
    this.maybeCommit();
    return full.map((e) => ({ index: e.index, term: e.term }));
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: number): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send(makeMessage({ type: MessageType.Heartbeat, from: this.id, to: id, term: this.term, commit, context }));
    }
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.appendBytesMax);
      } catch (e) {
        if (!(e instanceof RaftError && e.code === 'COMPACTED')) throw e;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      makeMessage({ type: MessageType.App, from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, commit: this.log.committed, entries: ents }),
    );
    const last = ents[ents.length - 1];
    pr.sentEntries(last?.index ?? prevIndex, ents.length, entriesSize(ents));
    return true;
  }

  private sendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    if (snap.metadata.index === 0) return false;
    pr.becomeSnapshot(snap.metadata.index);
    this.send(makeMessage({ type: MessageType.Snap, from: this.id, to, term: this.term, snapshot: snap }));
    return true;
  }

  private sendTimeoutNow(to: number): void {
    this.send(makeMessage({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term }));
  }

  private send(m: Message): void {
    assert(m.to !== this.id, 'no message to self');
    this.msgs.push(m);
  }

  // ---------------------------------------------------------------- membership

  private validateConfChange(cc: ConfChange): void {
    const bad = (why: string): never => {
      throw new RaftError('INVALID_ARGUMENT', `conf change refused: ${why}`);
    };
    if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0 || cc.nodeId > 0xffffffff) bad(`node id ${cc.nodeId}`);
    const isVoter = this.voters.has(cc.nodeId);
    const isLearner = this.learners.has(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddVoter:
        if (isVoter) bad(`${cc.nodeId} is already a voter`);
        return;
      case ConfChangeType.AddLearner:
        if (isVoter || isLearner) bad(`${cc.nodeId} is already a member`);
        return;
      case ConfChangeType.RemoveVoter:
        if (!isVoter) bad(`${cc.nodeId} is not a voter`);
        if (this.voters.size <= 1) bad('cannot remove the last voter');
        return;
      case ConfChangeType.RemoveLearner:
        if (!isLearner) bad(`${cc.nodeId} is not a learner`);
        return;
      case ConfChangeType.PromoteLearner:
        if (!isLearner) bad(`${cc.nodeId} is not a learner`);
        return;
    }
  }

  /** Log hook: entries from ents[0].index on were (re)written; recompute the membership. */
  private onEntriesAppended(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    const before = this.confLog.length;
    this.confLog = this.confLog.filter((c) => c.index < from);
    let changed = this.confLog.length !== before;
    for (const e of ents) {
      if (e.type !== EntryType.ConfChange) continue;
      const cc = decodeConfChange(e.data);
      // A malformed conf entry cannot come from this code; every replica ignores it alike.
      if (cc === undefined) continue;
      this.confLog.push({ index: e.index, cs: nextConfState(this.currentConf(), cc) });
      changed = true;
    }
    if (changed) this.applyConfState(this.currentConf());
  }

  private currentConf(): ConfState {
    return this.confLog[this.confLog.length - 1]?.cs ?? this.confBase;
  }

  /** Applied conf entries are committed and can never be truncated: fold them into the base. */
  private foldCommittedConf(): void {
    while (this.confLog.length > 0 && this.confLog[0]!.index <= this.log.applied) this.confBase = this.confLog.shift()!.cs;
    // A leader that removed itself hands over once the removal is committed (thesis §4.2.2).
    if (this.role === StateRole.Leader && !this.voters.has(this.id) && this.confLog.length === 0) {
      this.bcastAppend();
      this.becomeFollower(this.term, NONE);
    }
  }

  private applyConfState(cs: ConfState): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    assert(![...this.learners].some((id) => this.voters.has(id)), 'no node is both voter and learner');
    const next = new Map<number, Progress>();
    const last = this.log.lastIndex();
    for (const id of [...this.voters, ...this.learners]) {
      const old = this.prs.get(id);
      if (old !== undefined) {
        old.isLearner = this.learners.has(id);
        next.set(id, old);
      } else {
        const pr = this.newProgress(id);
        // A new member starts probing from the end of the log and counts as active, so a
        // snapshot can be sent to it right away.
        pr.recentActive = true;
        if (id === this.id) pr.match = last;
        next.set(id, pr);
      }
    }
    this.prs = next;
    if (this.role === StateRole.Leader) {
      if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
      // A smaller quorum may already cover more of the log.
      if (this.maybeCommit()) this.bcastAppend();
    }
  }

  private newProgress(id: number): Progress {
    const pr = new Progress(this.log.lastIndex() + 1, this.cfg.inflightMessagesMax, this.cfg.inflightBytesMax, this.learners.has(id));
    pr.recentActive = id === this.id;
    return pr;
  }

  private promotable(): boolean {
    return this.voters.has(this.id);
  }

  private quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  private randomInt(n: number): number {
    // xorshift32: deterministic per seed, so a simulation replays exactly.
    let x = this.rngState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rngState = x >>> 0;
    return this.rngState % n;
  }
}

/** The membership after one single-server change; invalid changes leave it as it was. */
export function nextConfState(cs: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  switch (cc.type) {
    case ConfChangeType.AddVoter:
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case ConfChangeType.RemoveVoter:
      if (voters.size > 1) voters.delete(cc.nodeId);
      break;
    case ConfChangeType.AddLearner:
      if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
      break;
    case ConfChangeType.RemoveLearner:
      learners.delete(cc.nodeId);
      break;
    case ConfChangeType.PromoteLearner:
      if (learners.delete(cc.nodeId)) voters.add(cc.nodeId);
      break;
  }
  return { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
