import { RaftError } from './errors.js';

/** Every bound of the core, named with its unit last. Ticks are the caller's unit of time. */
export interface RaftConfig {
  /** This node's id (> 0). */
  readonly id: number;
  /** Election timeout; each follower waits a random value in [e, 2e) ticks. */
  readonly electionTimeoutTicks: number;
  /** Leader heartbeat period; must be smaller than the election timeout. */
  readonly heartbeatIntervalTicks: number;
  /** Run a pre-election so a partitioned node cannot inflate terms and depose a leader. */
  readonly preVote: boolean;
  /** Leader steps down without a quorum; followers ignore votes while a leader is live. */
  readonly checkQuorum: boolean;
  /** Maximum bytes of entries in one append message (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** Maximum append messages in flight to one follower. */
  readonly inflightMessagesMax: number;
  /** Maximum entry bytes in flight to one follower (0 = unbounded). */
  readonly inflightBytesMax: number;
  /** Maximum bytes of proposed but uncommitted entries on a leader (0 = unbounded). */
  readonly uncommittedBytesMax: number;
  /** Maximum bytes of committed entries handed out in one Ready. */
  readonly applyBytesMax: number;
  /** Ticks a follower may stay in snapshot state before the leader probes it again. */
  readonly snapshotRetryTicks: number;
  /** Seed of the election-timeout randomness; defaults to the node id. */
  readonly randomSeed?: number;
}

export const DEFAULT_RAFT_CONFIG: Omit<RaftConfig, 'id'> = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  appendBytesMax: 1 << 20,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 << 20,
  uncommittedBytesMax: 64 << 20,
  applyBytesMax: 16 << 20,
  snapshotRetryTicks: 20,
};

export function makeRaftConfig(partial: Partial<RaftConfig> & { id: number }): RaftConfig {
  const c: RaftConfig = { ...DEFAULT_RAFT_CONFIG, ...partial };
  validateRaftConfig(c);
  return c;
}

export function validateRaftConfig(c: RaftConfig): void {
  const bad = (what: string): never => {
    throw new RaftError('INVALID_CONFIG', `invalid raft config: ${what}`);
  };
  const posInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
  if (!posInt(c.id)) bad('id must be a positive integer');
  if (!posInt(c.heartbeatIntervalTicks)) bad('heartbeatIntervalTicks must be a positive integer');
  if (!posInt(c.electionTimeoutTicks) || c.electionTimeoutTicks <= c.heartbeatIntervalTicks) {
    bad('electionTimeoutTicks must be an integer greater than heartbeatIntervalTicks');
  }
  if (!posInt(c.appendBytesMax)) bad('appendBytesMax must be positive');
  if (!posInt(c.inflightMessagesMax)) bad('inflightMessagesMax must be positive');
  if (!Number.isSafeInteger(c.inflightBytesMax) || c.inflightBytesMax < 0) bad('inflightBytesMax must be ≥ 0');
  if (!Number.isSafeInteger(c.uncommittedBytesMax) || c.uncommittedBytesMax < 0) bad('uncommittedBytesMax must be ≥ 0');
  if (!posInt(c.applyBytesMax)) bad('applyBytesMax must be positive');
  if (!posInt(c.snapshotRetryTicks)) bad('snapshotRetryTicks must be positive');
}
