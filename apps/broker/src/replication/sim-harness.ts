// Test support (not part of the broker's runtime): a whole replication cluster in one process
// on the testkit simulator — 3 brokers, each with its own StorageEngine on a MemFileSystem, a
// SimNetwork carrying ReplicaFetch, heartbeats and AlterPartition, and a stand-in controller
// that applies the real metadata state machine. Faults: crashes losing unsynced writes,
// partitions, message loss, controller-driven leader moves. Checks run after healing.
import { apply, emptyState, NO_LEADER, type MetadataCommand, type MetadataState, type PartitionChange, type PartitionState } from '@streambus/metadata';
import { type ReplicaFetchRequest, type ReplicaFetchResponse } from '@streambus/protocol';
import { BatchView, decodeRecords, encodeBatch } from '@streambus/record';
import { type FileSystem, type PartitionLog, StorageEngine, type WritableFile } from '@streambus/storage';
import { type MemFileSystem, type Prng, SimNetwork, simFileSystem, Simulator } from '@streambus/testkit';
import { type AlterPartitionResult, type LeaderPartition } from './leader.js';
import { type PartitionAssignment, ReplicaManager } from './replica-manager.js';
import { isReplicationError, type ReplicationConfig, type Scheduler } from './types.js';

type Msg =
  | { kind: 'fetch'; id: number; req: ReplicaFetchRequest }
  | { kind: 'fetchResp'; id: number; resp: ReplicaFetchResponse }
  | { kind: 'hb'; brokerId: number; incarnation: string }
  | { kind: 'hbResp'; brokerEpoch: number; assignments: PartitionAssignment[] }
  | { kind: 'alter'; id: number; change: PartitionChange }
  | { kind: 'alterResp'; id: number; result: AlterPartitionResult };

const CONTROLLER = 0;
const TOPIC = 't';
const BROKERS = [1, 2, 3] as const;
const ASSIGNMENT = [
  [1, 2, 3],
  [2, 3, 1],
];
const MIN_INSYNC = 2;

export interface SimOptions {
  readonly seed: number;
  /** Virtual time with faults and producers running. */
  readonly faultMs?: number;
  /** Virtual time allowed for the healed cluster to converge (liveness). */
  readonly healMsMax?: number;
  readonly config?: Partial<ReplicationConfig>;
}

export interface SimReport {
  readonly seed: number;
  readonly acked: number;
  readonly produced: number;
  readonly crashes: number;
  readonly leaderMoves: number;
  /** Follower truncations ordered by a diverging epoch (the KIP-320 path). */
  readonly divergenceTruncations: number;
  /** Followers restarted at the leader's log start (OFFSET_OUT_OF_RANGE). */
  readonly outOfRangeResets: number;
  /** Committed-prefix comparisons made while faults ran. */
  readonly prefixChecks: number;
  /** ISR changes the controller accepted from leaders (AlterPartition). */
  readonly isrChanges: number;
  /** DeleteRecords calls that advanced a leader's log start offset. */
  readonly deletes: number;
  readonly events: number;
  readonly endMs: number;
}

export const SIM_REPLICATION_CONFIG: Partial<ReplicationConfig> = {
  replicaLagTimeMaxMs: 600,
  replicaFetchWaitMaxMs: 100,
  replicaFetchBackoffMs: 50,
  alterPartitionBackoffMs: 50,
  isrCheckIntervalMs: 100,
  replicaFetchPartitionBytesMax: 4096,
  replicaFetchResponseBytesMax: 6144,
};

const HEARTBEAT_MS = 50;
const SESSION_MS = 300;
const RPC_TIMEOUT_MS = 400;
/** How often (virtual time) the committed prefixes of leader and ISR are compared while faults run. */
const PREFIX_CHECK_INTERVAL_MS = 100;

interface Acked {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
}

class Controller {
  state: MetadataState = emptyState();
  private index = 0;
  readonly lastHeartbeatMs = new Map<number, number>();
  topicId = '';

  constructor(private readonly sim: Simulator) {}

  run(command: MetadataCommand): ReturnType<typeof apply> {
    this.index++;
    const r = apply(this.state, this.index, command, Math.max(1, this.sim.now));
    this.state = r.state;
    return r;
  }

  ok(command: MetadataCommand): void {
    const r = this.run(command);
    if (!r.outcome.ok) throw new Error(`controller: ${command.type} rejected: ${r.outcome.error.message}`);
  }

  partitions(): PartitionState[] {
    return [...(this.state.topics.get(this.topicId)?.partitions ?? [])];
  }

  assignments(): PartitionAssignment[] {
    return this.partitions().map((state) => ({ topic: TOPIC, topicId: this.topicId, partition: state.partition, state, minInsyncReplicas: MIN_INSYNC }));
  }

  brokerEpoch(id: number): number {
    return this.state.brokers.get(id)?.brokerEpoch ?? -1;
  }
}

class SimBroker {
  fs: MemFileSystem;
  incarnation = 0;
  /** A live process: false between crash and restart. */
  alive = false;
  ready = false;
  rm: ReplicaManager | null = null;
  brokerEpoch = -1;
  lastControllerContactMs = 0;
  private rpcId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: unknown }>();
  private generation = 0;

  constructor(
    readonly id: number,
    private readonly h: Harness,
  ) {
    this.fs = simFileSystem(h.prng.fork());
  }

  get incarnationId(): string {
    return `b${this.id}-${this.incarnation}`;
  }

  /** Timers of a dead incarnation never fire. */
  scheduler(): Scheduler {
    const gen = this.generation;
    const sim = this.h.sim;
    return {
      now: () => sim.now,
      setTimeout: (fn, ms) => sim.schedule(Math.max(0, ms), () => gen === this.generation && this.alive && fn()),
      clearTimeout: (t) => {
        if (typeof t === 'number') sim.cancel(t);
      },
    };
  }

  async start(): Promise<void> {
    this.alive = true;
    this.generation++;
    const gen = this.generation;
    const sim = this.h.sim;
    // fdatasync takes virtual time, so a leader's write is in flight while followers fetch it
    // (ADR 0011) and a crash can land in between.
    const prng = this.h.prng;
    const fs = slowSyncs(this.fs, () => new Promise((resolve) => sim.schedule(prng.range(0, 4), () => resolve())));
    let engine: StorageEngine;
    try {
      engine = await StorageEngine.open({ dir: '/data', fs, clock: { now: () => sim.now }, flush: 'always', maintenanceIntervalMs: 0 });
    } catch (err) {
      if (gen !== this.generation) return; // crashed while opening: its handles died with it
      throw err;
    }
    if (gen !== this.generation) return;
    const scheduler = this.scheduler();
    this.rm = new ReplicaManager({
      brokerId: this.id,
      brokerEpoch: () => this.brokerEpoch,
      storage: engine,
      scheduler,
      config: this.h.config,
      send: (leaderId, req) => this.rpc<ReplicaFetchResponse>(leaderId, (id) => ({ kind: 'fetch', id, req })),
      alterPartition: (change) => this.rpc<AlterPartitionResult>(CONTROLLER, (id) => ({ kind: 'alter', id, change })),
      // The stand-in for this broker's metadata image of the other brokers' registrations.
      brokerEpochOf: (id) => this.h.controller.brokerEpoch(id),
      onFollowerOutcome: (_tp, outcome) => {
        if (outcome.kind === 'truncated' && outcome.reason === 'divergingEpoch') this.h.divergenceTruncations++;
        if (outcome.kind === 'truncated' && outcome.reason === 'outOfRange') this.h.outOfRangeResets++;
      },
    });
    this.ready = true;
    this.lastControllerContactMs = sim.now;
    const beat = (): void => {
      const rm = this.rm;
      if (rm === null) return;
      this.h.net.send(this.id, CONTROLLER, { kind: 'hb', brokerId: this.id, incarnation: this.incarnationId });
      // Without the controller for a session, this broker may already be replaced: stop acking.
      if (sim.now - this.lastControllerContactMs > SESSION_MS) rm.fence();
      scheduler.setTimeout(beat, HEARTBEAT_MS);
    };
    beat();
  }

  crash(): void {
    this.alive = false;
    this.ready = false;
    this.generation++;
    this.h.net.crash(this.id);
    this.fs.crash({ tornWrites: true, garbleTornTail: this.h.prng.chance(0.5) });
    const rm = this.rm;
    this.rm = null;
    for (const p of this.pending.values()) p.reject(new Error('crashed'));
    this.pending.clear();
    if (rm !== null) void rm.stop().catch(() => undefined);
  }

  restart(): void {
    this.incarnation++;
    this.h.net.restart(this.id);
    void this.start();
  }

  private rpc<T>(to: number, make: (id: number) => Msg): Promise<T> {
    if (!this.alive) return Promise.reject(new Error('broker down'));
    const id = this.rpcId++;
    const gen = this.generation;
    return new Promise<T>((resolve, reject) => {
      const timer = this.h.sim.schedule(RPC_TIMEOUT_MS, () => {
        if (this.pending.delete(id) && gen === this.generation) reject(new Error('rpc timeout'));
      });
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.h.net.send(this.id, to, make(id));
    });
  }

  deliver(msg: Msg, from: number): void {
    if (!this.alive) return;
    switch (msg.kind) {
      case 'fetch': {
        const rm = this.rm;
        if (rm === null) return;
        const gen = this.generation;
        void rm.handleReplicaFetch(msg.req).then(
          (resp) => {
            if (gen !== this.generation) return;
            // The wire copies bytes: never share a memtable buffer between two brokers.
            const copy = { partitions: resp.partitions.map((p) => ({ ...p, records: Buffer.from(p.records) })) };
            this.h.net.send(this.id, from, { kind: 'fetchResp', id: msg.id, resp: copy });
          },
          () => undefined,
        );
        return;
      }
      case 'fetchResp':
      case 'alterResp': {
        const p = this.pending.get(msg.id);
        if (p === undefined) return;
        this.pending.delete(msg.id);
        this.h.sim.cancel(p.timer as number);
        p.resolve(msg.kind === 'fetchResp' ? msg.resp : msg.result);
        return;
      }
      case 'hbResp': {
        const rm = this.rm;
        if (rm === null) return;
        this.brokerEpoch = msg.brokerEpoch;
        this.lastControllerContactMs = this.h.sim.now;
        for (const a of msg.assignments) void rm.applyPartition(a);
        return;
      }
      case 'hb':
      case 'alter':
        return;
    }
  }
}

export class Harness {
  readonly sim: Simulator;
  readonly prng: Prng;
  readonly net: SimNetwork<Msg>;
  readonly controller: Controller;
  readonly brokers = new Map<number, SimBroker>();
  readonly config: Partial<ReplicationConfig>;
  readonly acked: Acked[] = [];
  produced = 0;
  crashes = 0;
  leaderMoves = 0;
  divergenceTruncations = 0;
  outOfRangeResets = 0;
  isrChanges = 0;
  deletes = 0;
  private nextKey = 1;
  private readonly hwSeen = new WeakMap<LeaderPartition, number>();
  private nextPrefixCheckMs = 0;
  prefixChecks = 0;
  private producing = true;

  constructor(readonly options: SimOptions) {
    this.sim = new Simulator({ seed: options.seed, eventsMax: 2_000_000 });
    this.prng = this.sim.prng.fork();
    this.net = new SimNetwork<Msg>(this.sim, this.prng.fork(), { delayMsMin: 1, delayMsMax: 8 });
    this.controller = new Controller(this.sim);
    this.config = { ...SIM_REPLICATION_CONFIG, ...options.config };
    this.net.register(CONTROLLER, (msg, from) => this.controllerDeliver(msg, Number(from)));
    for (const id of BROKERS) {
      const b = new SimBroker(id, this);
      this.brokers.set(id, b);
      this.net.register(id, (msg, from) => b.deliver(msg, Number(from)));
    }
    const c = this.controller;
    c.ok({ type: 'InitializeCluster', clusterId: 'sim' });
    for (const id of BROKERS) {
      c.ok({ type: 'RegisterBroker', brokerId: id, incarnationId: `b${id}-0`, host: `b${id}`, port: 9092, rack: null });
      c.ok({ type: 'UnfenceBroker', brokerId: id, brokerEpoch: c.brokerEpoch(id) });
      c.lastHeartbeatMs.set(id, 0);
    }
    c.ok({ type: 'CreateTopic', name: TOPIC, assignment: ASSIGNMENT, configs: { 'min.insync.replicas': String(MIN_INSYNC) } });
    c.topicId = c.state.topicIdsByName.get(TOPIC) ?? '';
  }

  // ---- the stand-in controller ---------------------------------------------------------------

  private controllerDeliver(msg: Msg, from: number): void {
    const c = this.controller;
    if (msg.kind === 'hb') {
      const reg = c.state.brokers.get(msg.brokerId);
      if (reg === undefined) return;
      if (reg.incarnationId !== msg.incarnation) {
        const r = c.run({ type: 'RegisterBroker', brokerId: msg.brokerId, incarnationId: msg.incarnation, host: `b${msg.brokerId}`, port: 9092, rack: null });
        if (!r.outcome.ok) return;
      }
      if (c.state.brokers.get(msg.brokerId)?.fenced === true) c.run({ type: 'UnfenceBroker', brokerId: msg.brokerId, brokerEpoch: c.brokerEpoch(msg.brokerId) });
      c.lastHeartbeatMs.set(msg.brokerId, this.sim.now);
      this.net.send(CONTROLLER, from, { kind: 'hbResp', brokerEpoch: c.brokerEpoch(msg.brokerId), assignments: c.assignments() });
    } else if (msg.kind === 'alter') {
      const r = c.run(msg.change);
      if (r.outcome.ok) this.isrChanges++;
      const state = c.partitions()[msg.change.partition];
      const result: AlterPartitionResult =
        r.outcome.ok && state !== undefined ? { accepted: true, state } : { accepted: false, errorCode: r.outcome.ok ? 'UNKNOWN' : r.outcome.error.code };
      this.net.send(CONTROLLER, from, { kind: 'alterResp', id: msg.id, result });
    }
  }

  /** Fences brokers whose heartbeats stopped (FenceBroker elects new leaders from the ISR). */
  private checkSessions(): void {
    const c = this.controller;
    for (const id of BROKERS) {
      const reg = c.state.brokers.get(id);
      if (reg === undefined || reg.fenced) continue;
      if (this.sim.now - (c.lastHeartbeatMs.get(id) ?? 0) > SESSION_MS) c.run({ type: 'FenceBroker', brokerId: id, brokerEpoch: reg.brokerEpoch });
    }
  }

  /** A controller-driven leader move to another live ISR member (preferred-leader style). */
  private moveLeader(): void {
    const c = this.controller;
    const parts = c.partitions();
    const p = parts[this.prng.int(parts.length)];
    if (p === undefined || p.leader === NO_LEADER) return;
    const candidates = p.isr.filter((id) => id !== p.leader && c.state.brokers.get(id)?.fenced === false);
    const to = candidates[this.prng.int(Math.max(1, candidates.length))];
    if (to === undefined) return;
    const r = c.run({ type: 'PartitionChange', topicId: c.topicId, partition: p.partition, partitionEpoch: p.partitionEpoch, leader: to });
    if (r.outcome.ok) this.leaderMoves++;
  }

  /** DeleteRecords on the current leader: followers must follow the log start offset. */
  private deleteRecords(): void {
    const c = this.controller;
    const p = c.partitions()[this.prng.int(ASSIGNMENT.length)];
    if (p === undefined || p.leader === NO_LEADER) return;
    const rm = this.brokers.get(p.leader)?.rm;
    const tp = { topic: TOPIC, partition: p.partition };
    const leader = rm?.leaderOf(tp);
    const log = rm?.logOf(tp);
    if (rm === null || rm === undefined || leader === undefined || log === undefined || leader.highWatermark <= log.logStartOffset) return;
    const offset = log.logStartOffset + this.prng.int(leader.highWatermark - log.logStartOffset + 1);
    void rm.deleteRecordsBefore(tp, offset).then(
      () => this.deletes++,
      () => undefined,
    );
  }

  // ---- clients -------------------------------------------------------------------------------

  private produceOnce(): void {
    if (!this.producing) return;
    const partition = this.prng.int(ASSIGNMENT.length);
    const meta = this.controller.partitions()[partition];
    // Mostly the leader the client last heard of; sometimes any broker (a stale client).
    const target = this.prng.chance(0.8) && meta !== undefined && meta.leader !== NO_LEADER ? meta.leader : (BROKERS[this.prng.int(BROKERS.length)] ?? 1);
    const b = this.brokers.get(target);
    const rm = b?.rm;
    if (b === undefined || rm === null || rm === undefined || !b.ready) return;
    const key = `k${this.nextKey++}`;
    const timestamp = this.sim.now;
    this.produced++;
    // Sealing an uncompressed batch settles in microtasks, before runUntil's setImmediate lets
    // the next simulated event run, so the produce still starts within this event's turn and a
    // seed replays exactly.
    void encodeBatch([{ key: Buffer.from(key), value: Buffer.from(`v-${key}`), timestamp }], { now: () => timestamp })
      .then((batch) => rm.produce({ topic: TOPIC, partition }, batch, -1, 800))
      .then(
        (r) => {
          this.acked.push({ partition, offset: r.baseOffset, key });
        },
        (err: unknown) => {
          if (!isReplicationError(err)) throw err;
        },
      );
  }

  // ---- faults ----------------------------------------------------------------------------------

  private injectFault(): void {
    const down = [...this.brokers.values()].filter((b) => !b.alive);
    const up = [...this.brokers.values()].filter((b) => b.alive);
    const roll = this.prng.int(100);
    if (roll < 30 && up.length > 1) {
      const b = up[this.prng.int(up.length)];
      if (b === undefined) return;
      b.crash();
      this.crashes++;
      this.sim.schedule(this.prng.range(100, 1200), () => {
        if (!b.alive) b.restart();
      });
    } else if (roll < 45 && down.length > 0) {
      const b = down[this.prng.int(down.length)];
      b?.restart();
    } else if (roll < 60) {
      const id = BROKERS[this.prng.int(BROKERS.length)] ?? 1;
      this.net.isolate(id);
      this.sim.schedule(this.prng.range(100, 900), () => this.net.heal());
    } else if (roll < 70) {
      const id = BROKERS[this.prng.int(BROKERS.length)] ?? 1;
      this.net.partition([id], [CONTROLLER]);
      this.sim.schedule(this.prng.range(100, 900), () => this.net.heal());
    } else if (roll < 78) {
      const a = BROKERS[this.prng.int(BROKERS.length)] ?? 1;
      const b = BROKERS[this.prng.int(BROKERS.length)] ?? 2;
      this.net.partitionOneWay(a, b);
      this.sim.schedule(this.prng.range(100, 900), () => this.net.heal());
    } else if (roll < 82) {
      this.deleteRecords();
    } else if (roll < 88) {
      // A lossy, slow link: drops, duplicates and reordering.
      this.net.configure({ dropRate: 0.1, duplicateRate: 0.05, delayMsMax: 60 });
      this.sim.schedule(this.prng.range(100, 800), () => this.net.configure({ dropRate: 0, duplicateRate: 0, delayMsMax: 8 }));
    } else {
      this.moveLeader();
    }
  }

  // ---- the run -------------------------------------------------------------------------------

  async run(): Promise<SimReport> {
    const faultMs = this.options.faultMs ?? 4_000;
    for (const b of this.brokers.values()) void b.start();
    this.sim.every(50, () => this.checkSessions());
    const produceLoop = (): void => {
      if (!this.producing) return;
      this.produceOnce();
      this.sim.schedule(this.prng.range(5, 30), produceLoop);
    };
    this.sim.schedule(100, produceLoop);
    const faultLoop = (until: number): void => {
      if (this.sim.now >= until) return;
      this.injectFault();
      this.sim.schedule(this.prng.range(100, 600), () => faultLoop(until));
    };
    this.sim.schedule(300, () => faultLoop(faultMs));
    await this.runUntil(() => false, faultMs);
    // Heal: no new faults, every broker back, the network whole; producers stop.
    this.producing = false;
    this.net.heal();
    this.net.configure({ dropRate: 0, duplicateRate: 0, delayMsMax: 8 });
    for (const b of this.brokers.values()) if (!b.alive) b.restart();
    const converged = await this.runUntil(() => this.converged(), this.options.healMsMax ?? 20_000);
    if (!converged) throw new Error(`liveness: no convergence ${this.options.healMsMax ?? 20_000} ms after healing: ${this.describe()}`);
    // Let acks in flight resolve, then check the logs.
    await this.runUntil(() => false, 100);
    await this.checkLogs();
    return {
      seed: this.options.seed,
      acked: this.acked.length,
      produced: this.produced,
      crashes: this.crashes,
      leaderMoves: this.leaderMoves,
      divergenceTruncations: this.divergenceTruncations,
      outOfRangeResets: this.outOfRangeResets,
      prefixChecks: this.prefixChecks,
      isrChanges: this.isrChanges,
      deletes: this.deletes,
      events: this.sim.eventsRun,
      endMs: this.sim.now,
    };
  }

  /** Steps the simulator, letting storage promises settle between events, and checks invariants. */
  async runUntil(pred: () => boolean, maxMs: number): Promise<boolean> {
    let expired = false;
    const timer = this.sim.schedule(maxMs, () => (expired = true));
    for (;;) {
      await settle();
      this.checkRunningInvariants();
      if (this.sim.now >= this.nextPrefixCheckMs) {
        this.nextPrefixCheckMs = this.sim.now + PREFIX_CHECK_INTERVAL_MS;
        await this.checkCommittedPrefixes();
      }
      if (pred()) {
        this.sim.cancel(timer);
        return true;
      }
      if (expired || !this.sim.step()) return pred();
    }
  }

  /**
   * While faults run: every broker that believes it leads, and every member of the ISR it
   * believes in, hold the same batches below min(its high watermark, the member's log end).
   * A replica outside the ISR may still hold a divergent suffix; an ISR member may not.
   */
  private async checkCommittedPrefixes(): Promise<void> {
    this.prefixChecks++;
    for (const b of this.brokers.values()) {
      for (let p = 0; p < ASSIGNMENT.length; p++) {
        const tp = { topic: TOPIC, partition: p };
        const leader = b.rm?.leaderOf(tp);
        const leaderLog = b.rm?.logOf(tp);
        if (leader === undefined || leaderLog === undefined) continue;
        const hw = leader.highWatermark;
        for (const id of leader.isr) {
          const member = this.brokers.get(id);
          const log = member?.rm?.logOf(tp);
          if (id === b.id || member === undefined || !member.ready || log === undefined) continue;
          const from = Math.max(leaderLog.logStartOffset, log.logStartOffset);
          const to = Math.min(hw, log.logEndOffset);
          if (to <= from) continue;
          const mine = await readRange(leaderLog, from, to);
          const theirs = await readRange(log, from, to);
          if (!mine.equals(theirs)) {
            throw new Error(`p${p}: ISR member ${id} disagrees with leader ${b.id} (epoch ${leader.leaderEpoch}) below the high watermark ${hw} in [${from}, ${to}): ${this.describe()}`);
          }
        }
      }
    }
  }

  private checkRunningInvariants(): void {
    for (const b of this.brokers.values()) {
      const rm = b.rm;
      if (rm === null) continue;
      for (let p = 0; p < ASSIGNMENT.length; p++) {
        const leader = rm.leaderOf({ topic: TOPIC, partition: p });
        if (leader === undefined) continue;
        const seen = this.hwSeen.get(leader) ?? 0;
        if (leader.highWatermark < seen) throw new Error(`high watermark went back on broker ${b.id} p${p}: ${seen} → ${leader.highWatermark}`);
        if (leader.highWatermark > leader.logEndOffset) throw new Error(`high watermark ${leader.highWatermark} above log end ${leader.logEndOffset} on broker ${b.id}`);
        this.hwSeen.set(leader, leader.highWatermark);
      }
    }
  }

  private converged(): boolean {
    const c = this.controller;
    for (const b of this.brokers.values()) if (!b.ready || b.rm === null) return false;
    for (const p of c.partitions()) {
      if (p.leader === NO_LEADER || p.isr.length !== BROKERS.length) return false;
      const leader = this.brokers.get(p.leader)?.rm?.leaderOf({ topic: TOPIC, partition: p.partition });
      if (leader === undefined || leader.leaderEpoch !== p.leaderEpoch || leader.isr.length !== BROKERS.length) return false;
      // An append still in flight would move every log end again (and followers may hold it already).
      if (leader.highWatermark !== leader.logEndOffset || leader.appendsInFlight > 0) return false;
      for (const id of BROKERS) {
        if (id === p.leader) continue;
        const st = this.brokers.get(id)?.rm?.status({ topic: TOPIC, partition: p.partition });
        if (st === undefined || st.role !== 'follower' || st.logEndOffset !== leader.logEndOffset) return false;
      }
    }
    return true;
  }

  describe(): string {
    const c = this.controller;
    const parts = c.partitions().map((p) => `p${p.partition}: leader ${p.leader} e${p.leaderEpoch} pe${p.partitionEpoch} isr [${p.isr.join(',')}]`);
    const brokers = [...this.brokers.values()].map((b) => {
      const st = [0, 1].map((p) => {
        const s = b.rm?.status({ topic: TOPIC, partition: p });
        return s === undefined ? '-' : `${s.role}/e${s.leaderEpoch} leo ${s.logEndOffset} hw ${s.highWatermark}${s.transitionsPending > 0 ? ` (${s.transitionsPending} transitions pending)` : ''}`;
      });
      return `b${b.id}${b.ready ? '' : ' (down)'}: ${st.join(' | ')}`;
    });
    return `t=${this.sim.now} ${parts.join('; ')} || ${brokers.join(' || ')}`;
  }

  /** After healing: acknowledged writes everywhere in the ISR; all replicas byte-identical. */
  private async checkLogs(): Promise<void> {
    for (let p = 0; p < ASSIGNMENT.length; p++) {
      const tp = { topic: TOPIC, partition: p };
      const local = [...this.brokers.values()].map((b) => {
        const log = b.rm?.logOf(tp);
        if (log === undefined) throw new Error(`broker ${b.id} has no log for p${p}`);
        return { id: b.id, log };
      });
      // Log start offsets only move forward and a deposed leader may have deleted further than
      // its successor, so replicas are compared from the largest one.
      const from = Math.max(...local.map((l) => l.log.logStartOffset));
      const logs = new Map<number, { bytes: Buffer; keys: Map<number, string> }>();
      for (const { id, log } of local) logs.set(id, await readWholeLog(log, from));
      const reference = logs.get(this.controller.partitions()[p]?.leader ?? 1);
      if (reference === undefined) throw new Error('no leader log');
      for (const [id, l] of logs) {
        if (!l.bytes.equals(reference.bytes)) throw new Error(`p${p}: broker ${id}'s log differs from the leader's (${l.bytes.length} vs ${reference.bytes.length} bytes from offset ${from}): ${this.describe()}`);
      }
      for (const a of this.acked) {
        // Below the log start offset the write was deleted on purpose (DeleteRecords).
        if (a.partition !== p || a.offset < from) continue;
        for (const [id, l] of logs) {
          const got = l.keys.get(a.offset);
          if (got !== a.key) throw new Error(`p${p}: acknowledged ${a.key} at offset ${a.offset} is ${got === undefined ? 'missing' : `replaced by ${got}`} on broker ${id}: ${this.describe()}`);
        }
      }
    }
  }
}

/** The whole batches holding offsets in [from, to). */
async function readRange(log: PartitionLog, from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = from;
  for (let guard = 0; offset < to && guard < 100_000; guard++) {
    const r = await log.read(offset, 1 << 20);
    if (r.batches.length === 0) break;
    for (const batch of r.batches) {
      const view = BatchView.parse(batch);
      if (view.baseOffset >= to) return Buffer.concat(parts);
      parts.push(batch);
      offset = view.nextOffset;
    }
  }
  return Buffer.concat(parts);
}

async function readWholeLog(log: PartitionLog, from: number): Promise<{ bytes: Buffer; keys: Map<number, string> }> {
  const parts: Buffer[] = [];
  const keys = new Map<number, string>();
  let offset = from;
  const end = log.logEndOffset;
  for (let guard = 0; offset < end && guard < 100_000; guard++) {
    const r = await log.read(offset, 1 << 20);
    if (r.batches.length === 0) break;
    for (const batch of r.batches) {
      const view = BatchView.parse(batch);
      // Decoding checks the CRC too: a replica holding corrupt bytes fails the run here.
      for (const rec of await decodeRecords(view)) keys.set(rec.offset, rec.key?.toString() ?? '');
      parts.push(batch);
      offset = view.nextOffset;
    }
  }
  return { bytes: Buffer.concat(parts), keys };
}

/** `fs` whose files' fdatasync first waits for `delay` (simulated disk latency). */
export function slowSyncs(fs: FileSystem, delay: () => Promise<void>): FileSystem {
  const wrap = (f: WritableFile): WritableFile => ({
    path: f.path,
    get size() {
      return f.size;
    },
    append: (chunks) => f.append(chunks),
    datasync: async () => {
      await delay();
      await f.datasync();
    },
    close: () => f.close(),
  });
  return {
    openAppend: async (path, options) => wrap(await fs.openAppend(path, options)),
    openOverwrite: async (path) => wrap(await fs.openOverwrite(path)),
    preallocate: (path, bytes, pace) => fs.preallocate(path, bytes, pace),
    openRead: (path) => fs.openRead(path),
    readFile: (path) => fs.readFile(path),
    rename: (from, to) => fs.rename(from, to),
    unlink: (path) => fs.unlink(path),
    truncate: (path, length) => fs.truncate(path, length),
    readdir: (dir) => fs.readdir(dir),
    mkdir: (dir) => fs.mkdir(dir),
    syncDir: (dir) => fs.syncDir(dir),
    exists: (path) => fs.exists(path),
  };
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export async function runSimulation(options: SimOptions): Promise<SimReport> {
  return new Harness(options).run();
}
