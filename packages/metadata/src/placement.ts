/**
 * Replica placement for new topics and partitions. It runs on the proposer, before the
 * CreateTopic/CreatePartitions command is written, so `apply` only checks the result.
 *
 * Greedy and deterministic, in two levels so that rack spread and balance agree:
 *  1. racks: each partition hands its rf slots to racks, distinct racks first, then the
 *     racks holding the fewest replicas (rack-unaware placement is one rack of everyone);
 *  2. brokers: within a rack, the brokers holding the fewest replicas take its slots. The
 *     leader is the candidate with the fewest leaders; followers prefer brokers that already
 *     lead more, which keeps low-leader brokers free to lead the next partitions.
 * Taking the least-loaded racks and brokers every time keeps replica counts within one of
 * each other when racks are of equal size (or unset). Ties are broken by a rotation on the
 * partition index, so followers of one leader spread out (Kafka's "replica shift").
 */
import { MetadataError } from './errors.js';
import { metadataLimits, type MetadataState } from './types.js';

export interface PlacementBroker {
  readonly brokerId: number;
  readonly rack: string | null;
  readonly fenced?: boolean;
}

export interface BrokerLoad {
  readonly replicas: number;
  readonly leaders: number;
}

interface Candidate {
  readonly brokerId: number;
  readonly rack: number;
  readonly position: number;
  replicas: number;
  leaders: number;
}

/**
 * Replica lists for `partitions` new partitions with `replicationFactor` replicas each,
 * over the unfenced `brokers`. Racks are used only when every such broker has one
 * (Kafka refuses mixed rack information; here it falls back to rack-unaware placement).
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  partitions: number,
  replicationFactor: number,
  existingLoad: ReadonlyMap<number, BrokerLoad> = new Map(),
): number[][] {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > metadataLimits.partitionsPerTopicMax) {
    throw new MetadataError('INVALID_PARTITIONS', `partition count ${partitions} is not from 1 to ${metadataLimits.partitionsPerTopicMax}`);
  }
  const eligible = [...new Map(brokers.filter((b) => b.fenced !== true).map((b) => [b.brokerId, b])).values()].sort((a, b) => a.brokerId - b.brokerId);
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > metadataLimits.replicationFactorMax) {
    throw new MetadataError('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is not from 1 to ${metadataLimits.replicationFactorMax}`);
  }
  if (replicationFactor > eligible.length) {
    throw new MetadataError('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the ${eligible.length} unfenced brokers`);
  }
  const rackAware = eligible.every((b) => b.rack !== null) && new Set(eligible.map((b) => b.rack)).size > 1;
  const rackNames = rackAware ? [...new Set(eligible.map((b) => b.rack ?? ''))].sort() : [''];
  const candidates: Candidate[] = eligible.map((b, position) => {
    const load = existingLoad.get(b.brokerId);
    return { brokerId: b.brokerId, rack: rackAware ? rackNames.indexOf(b.rack ?? '') : 0, position, replicas: load?.replicas ?? 0, leaders: load?.leaders ?? 0 };
  });
  const racks = rackNames.map((_, r) => candidates.filter((c) => c.rack === r));
  const n = candidates.length;
  const out: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const slots = rackSlots(racks, replicationFactor, p);
    // A broker may lead only if taking it keeps its rack's choice among the least loaded.
    const eligibleLeaders = racks.flatMap((members, r) => {
      const count = slots[r] ?? 0;
      if (count === 0) return [];
      const threshold = [...members.map((c) => c.replicas)].sort((a, b) => a - b)[count - 1] ?? 0;
      return members.filter((c) => c.replicas <= threshold);
    });
    const leader = pick(eligibleLeaders, (c) => [c.leaders, c.replicas, mod(c.position - p, n)]);
    const chosen = [leader];
    const shift = Math.floor(p / n);
    racks.forEach((members, r) => {
      let count = (slots[r] ?? 0) - (leader.rack === r ? 1 : 0);
      while (count > 0) {
        const rest = members.filter((c) => !chosen.includes(c));
        chosen.push(pick(rest, (c) => [c.replicas, -c.leaders, mod(c.position - leader.position - 1 - shift, n)]));
        count -= 1;
      }
    });
    for (const c of chosen) c.replicas += 1;
    leader.leaders += 1;
    out.push(chosen.map((c) => c.brokerId));
  }
  return out;
}

/** How many of a partition's replicas go to each rack: distinct racks first, then the least loaded. */
function rackSlots(racks: readonly (readonly Candidate[])[], replicationFactor: number, p: number): number[] {
  const slots = racks.map(() => 0);
  const load = racks.map((members) => members.reduce((sum, c) => sum + c.replicas, 0));
  for (let i = 0; i < replicationFactor; i++) {
    let best = -1;
    for (let r = 0; r < racks.length; r++) {
      if ((slots[r] ?? 0) >= (racks[r]?.length ?? 0)) continue;
      if (best < 0) {
        best = r;
        continue;
      }
      const a = [slots[r] ?? 0, load[r] ?? 0, mod(r - p, racks.length)];
      const b = [slots[best] ?? 0, load[best] ?? 0, mod(best - p, racks.length)];
      if (less(a, b)) best = r;
    }
    if (best < 0) throw new MetadataError('INVALID_REPLICATION_FACTOR', 'no broker left to place a replica on');
    slots[best] = (slots[best] ?? 0) + 1;
  }
  return slots;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** The candidate with the lexicographically smallest key; keys end in a unique position, so no ties. */
function pick(candidates: readonly Candidate[], key: (c: Candidate) => number[]): Candidate {
  let best: Candidate | undefined;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const k = key(c);
    if (best === undefined || less(k, bestKey)) {
      best = c;
      bestKey = k;
    }
  }
  if (best === undefined) throw new MetadataError('INVALID_REPLICATION_FACTOR', 'no broker left to place a replica on');
  return best;
}

function less(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** Replicas and preferred leaders (first replica) per broker, over every partition of the image. */
export function brokerLoad(state: MetadataState): Map<number, BrokerLoad> {
  const load = new Map<number, { replicas: number; leaders: number }>();
  const entry = (id: number): { replicas: number; leaders: number } => {
    let e = load.get(id);
    if (e === undefined) {
      e = { replicas: 0, leaders: 0 };
      load.set(id, e);
    }
    return e;
  };
  for (const topic of state.topics.values()) {
    for (const p of topic.partitions) {
      for (const id of p.replicas) entry(id).replicas += 1;
      const preferred = p.replicas[0];
      if (preferred !== undefined) entry(preferred).leaders += 1;
    }
  }
  return load;
}

/** Placement over the image's brokers, balancing against what they already hold. */
export function placeReplicasFor(state: MetadataState, partitions: number, replicationFactor: number): number[][] {
  return placeReplicas([...state.brokers.values()], partitions, replicationFactor, brokerLoad(state));
}
