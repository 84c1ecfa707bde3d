import { SimulationError } from './errors.js';
import { type Prng } from './prng.js';
import { type Simulator } from './simulator.js';

export type NodeId = string | number;

/** Called on delivery with the message and the sender's id. */
export type MessageHandler<M> = (msg: M, from: NodeId) => void;

export interface NetworkConfig {
  /** Probability that a message is lost, in [0, 1]. */
  dropRate: number;
  /** One-way delay is uniform in [delayMsMin, delayMsMax]; a range > 0 also reorders. */
  delayMsMin: number;
  delayMsMax: number;
  /** Probability that a message is delivered twice (the copy gets its own delay). */
  duplicateRate: number;
}

export const DEFAULT_NETWORK_CONFIG: Readonly<NetworkConfig> = Object.freeze({
  dropRate: 0,
  delayMsMin: 1,
  delayMsMax: 10,
  duplicateRate: 0,
});

export interface NetworkStats {
  sent: number;
  delivered: number;
  /** All drops: the four below. */
  dropped: number;
  droppedRandom: number;
  droppedPartition: number;
  /** Sender or receiver down, or the receiver restarted while the message was in flight. */
  droppedDown: number;
  droppedRule: number;
  duplicated: number;
  inFlight: number;
}

/** A trace record per network decision, for determinism tests and failure reports. */
export type NetworkEvent<M> =
  | { kind: 'send'; from: NodeId; to: NodeId; msg: M }
  | { kind: 'deliver'; from: NodeId; to: NodeId; msg: M }
  | { kind: 'drop'; from: NodeId; to: NodeId; msg: M; reason: DropReason };

/** random: dropRate; partition: a cut link; down: a crashed or restarted node; rule: dropIf. */
export type DropReason = 'random' | 'partition' | 'down' | 'rule';

interface NodeState<M> {
  handler: MessageHandler<M>;
  up: boolean;
  /** Bumped on restart: messages addressed to an earlier incarnation are lost with it. */
  incarnation: number;
}

/**
 * A simulated message network on top of a Simulator. All randomness comes from one Prng, so
 * a seed decides every drop, delay and duplicate. Partitions are checked both when a message
 * is sent and when it arrives: a link cut while a message is in flight loses it, as a
 * firewall rule would.
 */
export class SimNetwork<M> {
  private readonly nodes = new Map<NodeId, NodeState<M>>();
  /** Blocked directed links, keyed `from→to`. */
  private readonly blocked = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  /** Per directed link overrides of the global config (a slow or lossy link). */
  private readonly linkConfigs = new Map<string, NetworkConfig>();
  private readonly dropRules = new Set<(from: NodeId, to: NodeId, msg: M) => boolean>();
  private config: NetworkConfig;
  private readonly counters: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    droppedRandom: 0,
    droppedPartition: 0,
    droppedDown: 0,
    droppedRule: 0,
    duplicated: 0,
    inFlight: 0,
  };
  /** Optional observer of every send/deliver/drop. */
  onEvent: ((event: NetworkEvent<M>) => void) | undefined;

  constructor(
    private readonly sim: Simulator,
    private readonly prng: Prng,
    config: Partial<NetworkConfig> = {},
  ) {
    this.config = validateConfig({ ...DEFAULT_NETWORK_CONFIG, ...config });
  }

  /** Change the fault profile mid-run (e.g. calm → lossy → calm). */
  configure(config: Partial<NetworkConfig>): void {
    this.config = validateConfig({ ...this.config, ...config });
  }

  get currentConfig(): Readonly<NetworkConfig> {
    return { ...this.config };
  }

  /** Override the config of one directed link (`from → to`), e.g. a slow or lossy link. */
  configureLink(from: NodeId, to: NodeId, config: Partial<NetworkConfig>): void {
    const key = linkKey(from, to);
    this.linkConfigs.set(key, validateConfig({ ...(this.linkConfigs.get(key) ?? this.config), ...config }));
  }

  /**
   * Drop every message for which `pred` is true (scripted faults: "lose the next vote
   * response", "drop appends from 1 to 3"). Returns a function that removes the rule.
   */
  dropIf(pred: (from: NodeId, to: NodeId, msg: M) => boolean): () => void {
    this.dropRules.add(pred);
    return () => void this.dropRules.delete(pred);
  }

  register(id: NodeId, handler: MessageHandler<M>): void {
    if (this.nodes.has(id)) throw new SimulationError('SIM_BAD_ARGUMENT', `node ${String(id)} is already registered`);
    this.nodes.set(id, { handler, up: true, incarnation: 0 });
  }

  /** Replace the handler of a node (a restarted node builds a new state machine). */
  setHandler(id: NodeId, handler: MessageHandler<M>): void {
    this.node(id).handler = handler;
  }

  nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  send(from: NodeId, to: NodeId, msg: M): void {
    const sender = this.node(from);
    const receiver = this.node(to);
    this.counters.sent++;
    this.onEvent?.({ kind: 'send', from, to, msg });
    if (!sender.up || !receiver.up) return this.drop(from, to, msg, 'down');
    if (!this.linkOpen(from, to)) return this.drop(from, to, msg, 'partition');
    for (const rule of this.dropRules) if (rule(from, to, msg)) return this.drop(from, to, msg, 'rule');
    const config = (this.linkConfigs.size > 0 ? this.linkConfigs.get(linkKey(from, to)) : undefined) ?? this.config;
    if (this.prng.chance(config.dropRate)) return this.drop(from, to, msg, 'random');
    this.transmit(from, to, msg, receiver.incarnation, config);
    if (this.prng.chance(config.duplicateRate)) {
      this.counters.duplicated++;
      this.transmit(from, to, msg, receiver.incarnation, config);
    }
  }

  /** Cut every link between the two groups, both directions. */
  partition(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        if (a === b) continue;
        this.blocked.add(linkKey(a, b));
        this.blocked.add(linkKey(b, a));
      }
    }
  }

  /** Cut only `from → to`; `to → from` still works (an asymmetric firewall rule). */
  partitionOneWay(from: NodeId, to: NodeId): void {
    if (from !== to) this.blocked.add(linkKey(from, to));
  }

  /** Cut `id` off from every other node, including nodes registered later. */
  isolate(id: NodeId): void {
    this.node(id);
    this.isolated.add(id);
  }

  /** Remove every partition, isolation, per-link override and drop rule. Crashed nodes stay down. */
  heal(): void {
    this.blocked.clear();
    this.isolated.clear();
    this.linkConfigs.clear();
    this.dropRules.clear();
  }

  linkOpen(from: NodeId, to: NodeId): boolean {
    if (from === to) return true;
    // Fast paths: building the link key dominates a fault-free send.
    if (this.isolated.size > 0 && (this.isolated.has(from) || this.isolated.has(to))) return false;
    return this.blocked.size === 0 || !this.blocked.has(linkKey(from, to));
  }

  /** The node stops: messages to and from it are dropped, those in flight to it are lost. */
  crash(id: NodeId): void {
    this.node(id).up = false;
  }

  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.up) return;
    n.up = true;
    n.incarnation++;
  }

  isUp(id: NodeId): boolean {
    return this.node(id).up;
  }

  stats(): NetworkStats {
    return { ...this.counters };
  }

  private transmit(from: NodeId, to: NodeId, msg: M, incarnation: number, config: NetworkConfig): void {
    const { delayMsMin: lo, delayMsMax: hi } = config;
    // Whole milliseconds when the bounds are whole: traces stay readable and ties happen,
    // and ties are ordered by send sequence, which is deterministic.
    const delayMs = Number.isInteger(lo) && Number.isInteger(hi) ? this.prng.range(lo, hi) : lo + this.prng.next() * (hi - lo);
    this.counters.inFlight++;
    this.sim.schedule(delayMs, () => {
      this.counters.inFlight--;
      this.deliver(from, to, msg, incarnation);
    });
  }

  private deliver(from: NodeId, to: NodeId, msg: M, incarnation: number): void {
    const receiver = this.node(to);
    if (!receiver.up || receiver.incarnation !== incarnation) return this.drop(from, to, msg, 'down');
    if (!this.linkOpen(from, to)) return this.drop(from, to, msg, 'partition');
    this.counters.delivered++;
    this.onEvent?.({ kind: 'deliver', from, to, msg });
    receiver.handler(msg, from);
  }

  private drop(from: NodeId, to: NodeId, msg: M, reason: DropReason): void {
    this.counters.dropped++;
    if (reason === 'random') this.counters.droppedRandom++;
    else if (reason === 'partition') this.counters.droppedPartition++;
    else if (reason === 'down') this.counters.droppedDown++;
    else this.counters.droppedRule++;
    this.onEvent?.({ kind: 'drop', from, to, msg, reason });
  }

  private node(id: NodeId): NodeState<M> {
    const n = this.nodes.get(id);
    if (n === undefined) throw new SimulationError('SIM_BAD_ARGUMENT', `unknown node ${String(id)}`);
    return n;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  // Type-tagged so node 1 and node "1" stay distinct links.
  return `${typeof from}:${String(from)}→${typeof to}:${String(to)}`;
}

function validateConfig(c: NetworkConfig): NetworkConfig {
  const rate = (v: number, name: string): void => {
    if (!(v >= 0 && v <= 1)) throw new SimulationError('SIM_BAD_ARGUMENT', `${name} must be in [0, 1], got ${v}`);
  };
  rate(c.dropRate, 'dropRate');
  rate(c.duplicateRate, 'duplicateRate');
  if (!(Number.isFinite(c.delayMsMin) && c.delayMsMin >= 0 && Number.isFinite(c.delayMsMax) && c.delayMsMax >= c.delayMsMin)) {
    throw new SimulationError('SIM_BAD_ARGUMENT', `need 0 <= delayMsMin <= delayMsMax, got ${c.delayMsMin}, ${c.delayMsMax}`);
  }
  return c;
}
