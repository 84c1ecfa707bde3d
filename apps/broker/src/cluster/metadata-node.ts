import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type Logger } from 'pino';
import {
  apply,
  brokersWithExpiredSessions,
  decodeCommand,
  electionChange,
  emptyState,
  encodeCommand,
  restore,
  snapshot,
  type ApplyOutcome,
  type MetadataCommand,
  type MetadataDelta,
  type MetadataState,
  NO_LEADER,
} from '@streambus/metadata';
import { ConfChangeType, RaftError, RaftNode, StateRole, type StateMachine } from '@streambus/raft';
import { createRaftTransportClient, ErrorCode, StreamBusError, type ErrorCodeName, type ForwardRequest, type ForwardResponse, type RaftTransportClient } from '@streambus/protocol';
import { type BrokerContext, type MetadataComponent } from '../broker.js';
import { type Readiness } from '../http.js';
import { GrpcRaftTransport } from './raft-transport.js';

/** Format of a metadata log entry: version, the leader's clock at proposal, the command. */
const ENTRY_VERSION = 1;
const ENTRY_HEADER_BYTES = 9;
/** How long a broker waits for a metadata leader to appear before failing a proposal. */
const LEADER_WAIT_MS_MAX = 10_000;
const DEFAULT_PROPOSE_TIMEOUT_MS = 15_000;
/** Leader duties (session expiry, elections for offline partitions) run this often. */
const LEADER_DUTY_INTERVAL_MS = 250;
/** Apply outcomes kept for proposers to collect; older ones are evicted. */
const OUTCOMES_KEPT_MAX = 10_000;

export type MetadataListener = (event: { readonly delta: MetadataDelta; readonly state: MetadataState } | { readonly reset: true; readonly state: MetadataState }) => void;

export function encodeEntry(command: MetadataCommand, timestampMs: number): Uint8Array {
  const body = encodeCommand(command);
  const out = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + body.length);
  out.writeUInt8(ENTRY_VERSION, 0);
  out.writeDoubleBE(timestampMs, 1);
  out.set(body, ENTRY_HEADER_BYTES);
  return out;
}

export function decodeEntry(data: Uint8Array): { command: MetadataCommand; timestampMs: number } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < ENTRY_HEADER_BYTES || buf.readUInt8(0) !== ENTRY_VERSION) throw new Error(`metadata entry of ${buf.length} bytes has an unknown format`);
  return { timestampMs: buf.readDoubleBE(1), command: decodeCommand(buf.subarray(ENTRY_HEADER_BYTES)) };
}

/** The wire error for a metadata outcome's error code name. */
export function errorCodeOf(name: string): ErrorCode {
  const code = (ErrorCode as unknown as Record<string, ErrorCode | undefined>)[name as ErrorCodeName];
  return code ?? ErrorCode.UNKNOWN_SERVER_ERROR;
}

function outcomeToError(outcome: ApplyOutcome): StreamBusError | undefined {
  return outcome.ok ? undefined : new StreamBusError(errorCodeOf(outcome.error.code), outcome.error.message);
}

/** A committed and applied command's outcome, with its metadata log index. */
interface Proposed {
  readonly outcome: ApplyOutcome;
  readonly index: number;
}

/**
 * The broker's view of the cluster metadata: a Raft node (voter or learner) over the
 * metadata log, the image it applies to, proposals (forwarded to the Raft leader when this
 * broker is not it), the broker's own registration and heartbeats, and — on the Raft
 * leader only — the duties of Kafka's quorum controller that cannot wait for the controller
 * app: fencing brokers whose session expired and electing leaders for offline partitions.
 */
export class MetadataNode implements MetadataComponent {
  readonly name = 'metadata';
  private raft: RaftNode | undefined;
  private transport: GrpcRaftTransport | undefined;
  private state: MetadataState = emptyState();
  private readonly outcomes = new Map<number, ApplyOutcome>();
  private readonly listeners: MetadataListener[] = [];
  private readonly forwardClients = new Map<number, RaftTransportClient>();
  private readonly incarnationId = randomUUID();
  private brokerEpoch: number | undefined;
  private registering: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private dutyTimer: NodeJS.Timeout | undefined;
  private dutyRunning = false;
  /** Wall-clock time this node last became the metadata leader (sessions are judged from then at the earliest). */
  private ledSinceMs = 0;
  private stopped = false;
  private readonly logger: Logger;
  private readonly voterIds: number[];
  /** Learner bootstrap only: metadata leader named by a voter's NOT_CONTROLLER answer. */
  private learnerLeaderHint = 0;
  private learnerVoterCursor = -1;

  constructor(private readonly ctx: BrokerContext) {
    this.logger = ctx.logger.child({ component: 'metadata' });
    this.voterIds = ctx.config.bootstrapVoters.map((v) => v.id);
  }

  get brokerId(): number {
    return this.ctx.config.brokerId;
  }

  get image(): MetadataState {
    return this.state;
  }

  get currentBrokerEpoch(): number | undefined {
    return this.brokerEpoch;
  }

  /** The Raft leader as this broker knows it (0 when unknown). */
  get leaderId(): number {
    return this.raft?.status().leaderId ?? 0;
  }

  raftStatus(): ReturnType<RaftNode['status']> | undefined {
    return this.raft?.status();
  }

  onChange(listener: MetadataListener): void {
    this.listeners.push(listener);
  }

  /** The gRPC transport's server side, for the peer listener. */
  get raftTransport(): GrpcRaftTransport {
    if (this.transport === undefined) throw new Error('metadata node not started');
    return this.transport;
  }

  async start(): Promise<void> {
    const { config } = this.ctx;
    const self = config.brokerId;
    const isVoter = this.voterIds.includes(self);
    this.transport = new GrpcRaftTransport(self, config.clusterId, { peerAddress: (id) => this.peerAddressOf(id) }, this.logger);
    const electionTicks = config.raft.electionTicks;
    this.raft = await RaftNode.start({
      id: self,
      dir: join(this.ctx.dataDir, 'raft'),
      voters: this.voterIds,
      learners: isVoter ? [] : [self],
      transport: this.transport,
      stateMachine: this.stateMachine(),
      tickMs: config.raft.tickMs,
      raft: { electionTimeoutTicks: electionTicks, heartbeatIntervalTicks: config.raft.heartbeatTicks, preVote: true, checkQuorum: true },
      onLeaderChange: (leaderId, term) => {
        if (leaderId === self) this.ledSinceMs = Date.now();
        this.logger.info({ leaderId, term }, 'metadata leader changed');
      },
      onFatal: (err) => this.logger.fatal({ err }, 'raft node failed'),
    });
    // A lone voter need not wait out an election timeout to lead its own log.
    if (this.voterIds.length === 1 && this.voterIds[0] === self) this.raft.campaign();
    this.ctx.registry.addCollector(() => {
      const status = this.raft?.status();
      if (status === undefined) return;
      this.ctx.metrics.raftTerm.set(status.term);
      this.ctx.metrics.raftCommitIndex.set(status.commit);
      this.ctx.metrics.raftAppliedIndex.set(status.applied);
      this.ctx.metrics.raftLeaderId.set(status.leaderId === 0 ? -1 : status.leaderId);
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), config.membership.heartbeatIntervalMs);
    this.dutyTimer = setInterval(() => void this.leaderDuties(), LEADER_DUTY_INTERVAL_MS);
    void this.register();
  }

  async stop(_signal: AbortSignal): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.dutyTimer);
    for (const c of this.forwardClients.values()) c.close();
    this.forwardClients.clear();
    await this.raft?.stop();
    this.transport?.close();
  }

  readiness(): Readiness {
    if (this.raft === undefined) return { ready: false, reason: 'raft not started' };
    const status = this.raft.status();
    if (status.leaderId === 0) return { ready: false, reason: 'no metadata leader elected yet' };
    if (this.state.clusterId === null) return { ready: false, reason: 'cluster not initialized yet' };
    if (this.brokerEpoch === undefined) return { ready: false, reason: 'broker not registered yet' };
    const me = this.state.brokers.get(this.brokerId);
    if (me === undefined || me.brokerEpoch !== this.brokerEpoch) return { ready: false, reason: 'registration not applied yet' };
    if (me.fenced) return { ready: false, reason: 'broker is fenced' };
    return { ready: true };
  }

  /**
   * Proposes a command and resolves with its result once it is committed and applied.
   * Rejected commands reject with a StreamBusError carrying the metadata error's code.
   */
  async propose(command: MetadataCommand, timeoutMs = DEFAULT_PROPOSE_TIMEOUT_MS): Promise<ApplyOutcome & { ok: true }> {
    const deadline = Date.now() + timeoutMs;
    const { outcome, index } = await this.proposeRaw(command, timeoutMs);
    const err = outcomeToError(outcome);
    if (err !== undefined) throw err;
    // Read-your-writes: a forwarded command was applied at the leader; this broker's image
    // shows it once its own log has applied that far (within the caller's time budget).
    while (this.state.appliedIndex < index && !this.stopped && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return outcome as ApplyOutcome & { ok: true };
  }

  private async proposeRaw(command: MetadataCommand, timeoutMs: number): Promise<Proposed> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.stopped || this.raft === undefined) throw new StreamBusError(ErrorCode.BROKER_NOT_AVAILABLE, 'broker is shutting down');
      const leaderId = this.learnerForwardTarget() ?? (await this.waitForLeader(Math.min(LEADER_WAIT_MS_MAX, Math.max(0, deadline - Date.now()))));
      try {
        return leaderId === this.brokerId ? await this.proposeLocally(command) : await this.forward(leaderId, command, deadline - Date.now());
      } catch (err) {
        // Leadership moved between the check and the proposal: try again at the new leader.
        const retry = (err instanceof RaftError && err.code === 'NOT_LEADER') || (err instanceof StreamBusError && err.errorCode === ErrorCode.NOT_CONTROLLER);
        if (err instanceof StreamBusError && err.errorCode === ErrorCode.NOT_CONTROLLER) this.learnerLeaderHint = err.leaderId ?? 0;
        if (!retry || Date.now() >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /**
   * A learner hears from the Raft leader only once the leader has added it, which needs its
   * registration first: until then it forwards to the leader named by a voter's answer, or
   * to the bootstrap voters in turn (a non-leader voter answers NOT_CONTROLLER with a hint).
   * Undefined for voters and for learners that know the leader.
   */
  private learnerForwardTarget(): number | undefined {
    if (this.voterIds.includes(this.brokerId) || this.leaderId !== 0) return undefined;
    if (this.learnerLeaderHint !== 0 && this.learnerLeaderHint !== this.brokerId) {
      const hint = this.learnerLeaderHint;
      this.learnerLeaderHint = 0; // one try per hint; a stale hint falls back to the voters
      return hint;
    }
    this.learnerVoterCursor = (this.learnerVoterCursor + 1) % this.voterIds.length;
    return this.voterIds[this.learnerVoterCursor];
  }

  private async proposeLocally(command: MetadataCommand): Promise<Proposed> {
    const raft = this.raft;
    if (raft === undefined) throw new StreamBusError(ErrorCode.BROKER_NOT_AVAILABLE, 'raft not started');
    const { index } = await raft.propose(encodeEntry(command, Date.now()));
    const outcome = this.outcomes.get(index);
    this.outcomes.delete(index);
    if (outcome === undefined) throw new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, `no outcome recorded for metadata entry ${index}`);
    return { outcome, index };
  }

  private async forward(leaderId: number, command: MetadataCommand, timeoutMs: number): Promise<Proposed> {
    const client = this.forwardClient(leaderId);
    if (client === undefined) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, `no address known for metadata leader ${leaderId}`);
    const res = await client.forward(
      { clusterId: this.ctx.config.clusterId, fromBrokerId: this.brokerId, command: Buffer.from(encodeCommand(command)), timeoutMs },
      { timeoutMs: timeoutMs + 1000 },
    );
    if (res.error !== undefined && res.error.code !== ErrorCode.NONE) {
      throw new StreamBusError(res.error.code, res.error.message, { leaderId: res.leaderId });
    }
    const { index, ...outcome } = JSON.parse(res.result.toString('utf8')) as ApplyOutcome & { index?: number };
    return { outcome, index: index ?? 0 };
  }

  /** Server side of RaftTransport.Forward: propose a peer's command if this broker leads the log. */
  async handleForward(req: ForwardRequest): Promise<ForwardResponse> {
    const status = this.raft?.status();
    if (req.clusterId !== this.ctx.config.clusterId) {
      return { result: Buffer.alloc(0), error: new StreamBusError(ErrorCode.INVALID_REQUEST, `cluster id ${req.clusterId} is not ${this.ctx.config.clusterId}`).toProto(), leaderTerm: 0 };
    }
    if (status === undefined || status.role !== StateRole.Leader) {
      return {
        result: Buffer.alloc(0),
        error: new StreamBusError(ErrorCode.NOT_CONTROLLER, `broker ${this.brokerId} does not lead the metadata log`).toProto(),
        leaderId: status?.leaderId || undefined,
        leaderTerm: status?.term ?? 0,
      };
    }
    try {
      const command = decodeCommand(req.command);
      const { outcome, index } = await this.proposeLocally(command);
      // The entry's index lets the forwarding broker wait until it has applied it too.
      const wire = outcome.ok ? { ...outcome, index } : { ok: false, error: { code: outcome.error.code, message: outcome.error.message }, index };
      return { result: Buffer.from(JSON.stringify(wire)), leaderTerm: status.term };
    } catch (err) {
      const e = err instanceof StreamBusError ? err : err instanceof RaftError && err.code === 'NOT_LEADER' ? new StreamBusError(ErrorCode.NOT_CONTROLLER, err.message) : new StreamBusError(ErrorCode.INVALID_REQUEST, err instanceof Error ? err.message : String(err));
      return { result: Buffer.alloc(0), error: e.toProto(), leaderId: this.raft?.status().leaderId || undefined, leaderTerm: status.term };
    }
  }

  private forwardClient(brokerId: number): RaftTransportClient | undefined {
    let c = this.forwardClients.get(brokerId);
    if (c !== undefined) return c;
    const address = this.peerAddressOf(brokerId);
    if (address === undefined) return undefined;
    c = createRaftTransportClient(address);
    this.forwardClients.set(brokerId, c);
    return c;
  }

  /** The peer listener (host:port) of a broker: bootstrap voters by config, others by registration. */
  peerAddressOf(brokerId: number): string | undefined {
    const voter = this.ctx.config.bootstrapVoters.find((v) => v.id === brokerId);
    if (voter !== undefined) return `${voter.host}:${voter.port}`;
    const reg = this.state.brokers.get(brokerId);
    return reg === undefined ? undefined : `${reg.host}:${peerPortOf(reg.port, this.ctx)}`;
  }

  private async waitForLeader(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaderId = this.raft?.status().leaderId ?? 0;
      if (leaderId !== 0) return leaderId;
      if (Date.now() >= deadline || this.stopped) throw new StreamBusError(ErrorCode.LEADER_NOT_AVAILABLE, 'no metadata leader is elected yet');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  // ---- the state machine ----------------------------------------------------------------

  private stateMachine(): StateMachine {
    return {
      apply: (data, index) => this.applyEntry(data, index),
      snapshot: () => snapshot(this.state),
      restore: (data) => {
        this.state = restore(data);
        for (const l of this.listeners) l({ reset: true, state: this.state });
      },
    };
  }

  private applyEntry(data: Uint8Array, index: number): void {
    let decoded: { command: MetadataCommand; timestampMs: number };
    try {
      decoded = decodeEntry(data);
    } catch (err) {
      // Every replica skips the same undecodable entry, so images stay identical.
      this.logger.error({ err, index }, 'skipping undecodable metadata entry');
      return;
    }
    const result = apply(this.state, index, decoded.command, Math.max(0, Math.floor(decoded.timestampMs)));
    this.state = result.state;
    // Kept on every replica: whichever broker proposed the entry (the leader) takes it.
    this.outcomes.set(index, result.outcome);
    if (this.outcomes.size > OUTCOMES_KEPT_MAX) this.outcomes.delete(this.outcomes.keys().next().value as number);
    for (const l of this.listeners) {
      try {
        l({ delta: result.delta, state: this.state });
      } catch (err) {
        this.logger.error({ err, index }, 'metadata listener failed');
      }
    }
  }

  /** Registered brokers outside the Raft configuration join it as learners (they follow the log). */
  private async addLearners(): Promise<void> {
    const raft = this.raft;
    if (raft === undefined) return;
    const status = raft.status();
    for (const b of this.state.brokers.values()) {
      if (b.fenced || status.voters.includes(b.brokerId) || status.learners.includes(b.brokerId)) continue;
      this.logger.info({ learnerId: b.brokerId }, 'adding broker to the metadata log as a learner');
      await raft.changeMembership({ type: ConfChangeType.AddLearner, nodeId: b.brokerId });
      return; // one configuration change at a time
    }
  }

  // ---- registration and heartbeats --------------------------------------------------------

  private register(): Promise<void> {
    this.registering ??= (async () => {
      const { config } = this.ctx;
      while (!this.stopped) {
        try {
          const outcome = await this.propose({
            type: 'RegisterBroker',
            brokerId: config.brokerId,
            incarnationId: this.incarnationId,
            host: config.advertised.host,
            port: config.advertised.clientPort,
            rack: config.rack,
            clusterId: config.clusterId,
          });
          if (outcome.result.type === 'RegisterBroker') this.brokerEpoch = outcome.result.brokerEpoch;
          this.logger.info({ brokerEpoch: this.brokerEpoch, incarnationId: this.incarnationId }, 'broker registered');
          // The first heartbeat unfences the broker; sending it now saves a heartbeat interval of start-up.
          void this.heartbeat();
          return;
        } catch (err) {
          if (this.stopped) return;
          this.logger.debug({ err }, 'registration failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    })().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async heartbeat(): Promise<void> {
    const epoch = this.brokerEpoch;
    if (epoch === undefined || this.stopped) return;
    try {
      const outcome = await this.propose({ type: 'BrokerHeartbeat', brokerId: this.brokerId, brokerEpoch: epoch }, this.ctx.config.membership.sessionTimeoutMs);
      if (outcome.result.type === 'BrokerHeartbeat' && outcome.result.fenced) {
        await this.propose({ type: 'UnfenceBroker', brokerId: this.brokerId, brokerEpoch: epoch });
        this.logger.info({ brokerEpoch: epoch }, 'broker unfenced');
      }
    } catch (err) {
      if (err instanceof StreamBusError && err.errorCode === ErrorCode.STALE_BROKER_EPOCH) {
        this.brokerEpoch = undefined;
        void this.register();
        return;
      }
      this.logger.debug({ err }, 'heartbeat failed');
    }
  }

  /** Quorum-leader duties: initialize the cluster, fence expired sessions, elect offline partitions. */
  private async leaderDuties(): Promise<void> {
    if (this.dutyRunning || this.stopped || this.raft?.isLeader() !== true) return;
    this.dutyRunning = true;
    try {
      if (this.state.clusterId === null) {
        await this.propose({ type: 'InitializeCluster', clusterId: this.ctx.config.clusterId });
      }
      // The metadata clock lags the wall clock by at most one heartbeat interval on a busy log;
      // a just-elected leader gives every broker one full session to reach it first.
      // Heartbeats fail while no leader exists, so every session looks stale right after an
      // election: without this grace a new leader fenced live brokers and moved their leaderships.
      const now = Date.now();
      const sessionTimeoutMs = this.ctx.config.membership.sessionTimeoutMs;
      const expired = now - this.ledSinceMs > sessionTimeoutMs ? brokersWithExpiredSessions(this.state, now, sessionTimeoutMs) : [];
      for (const b of expired) {
        if (b.brokerId === this.brokerId) continue;
        this.logger.warn({ fencedBrokerId: b.brokerId, brokerEpoch: b.brokerEpoch }, 'broker session expired; fencing');
        await this.propose({ type: 'FenceBroker', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch }).catch((err: unknown) => this.logger.warn({ err }, 'fence failed'));
      }
      await this.addLearners();
      for (const topic of this.state.topics.values()) {
        for (const p of topic.partitions) {
          if (p.leader !== NO_LEADER && this.state.brokers.get(p.leader)?.fenced === false) continue;
          const change = electionChange(this.state, topic.topicId, p.partition, 'unclean');
          if (change === undefined) continue;
          await this.propose(change).catch((err: unknown) => this.logger.debug({ err }, 'election failed'));
        }
      }
    } catch (err) {
      this.logger.debug({ err }, 'leader duties failed');
    } finally {
      this.dutyRunning = false;
    }
  }
}

/**
 * Registrations carry the client port; peers listen on the peer port. Until registrations
 * carry both, a non-voter's peer port is found by the same offset as this broker's own.
 */
function peerPortOf(clientPort: number, ctx: BrokerContext): number {
  return clientPort + (ctx.config.advertised.peerPort - ctx.config.advertised.clientPort);
}
