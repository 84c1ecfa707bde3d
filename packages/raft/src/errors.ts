export type RaftErrorCode =
  | 'NOT_LEADER'
  | 'PROPOSAL_DROPPED'
  | 'CONF_CHANGE_IN_PROGRESS'
  | 'COMPACTED'
  | 'UNAVAILABLE'
  | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE'
  | 'SNAPSHOT_OUT_OF_DATE'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'CODEC'
  | 'STORAGE'
  | 'STOPPED'
  | 'INVARIANT';

const RETRIABLE: Record<RaftErrorCode, boolean> = {
  NOT_LEADER: true,
  PROPOSAL_DROPPED: true,
  CONF_CHANGE_IN_PROGRESS: true,
  COMPACTED: false,
  UNAVAILABLE: false,
  SNAPSHOT_TEMPORARILY_UNAVAILABLE: true,
  SNAPSHOT_OUT_OF_DATE: false,
  INVALID_CONFIG: false,
  INVALID_ARGUMENT: false,
  CODEC: false,
  STORAGE: false,
  STOPPED: false,
  INVARIANT: false,
};

/** Every failure of the raft package. `leaderId` is set on NOT_LEADER when a leader is known. */
export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly retriable: boolean;
  readonly leaderId: number | undefined;

  constructor(code: RaftErrorCode, message: string, options: { cause?: unknown; leaderId?: number | undefined } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RaftError';
    this.code = code;
    this.retriable = RETRIABLE[code];
    this.leaderId = options.leaderId;
  }
}

export function notLeader(leaderId: number): RaftError {
  const known = leaderId === 0 ? undefined : leaderId;
  return new RaftError('NOT_LEADER', known === undefined ? 'not the leader; leader unknown' : `not the leader; leader is ${known}`, {
    leaderId: known,
  });
}

/** Invariant checks stay on in production: a broken invariant means the log may be unsafe. */
export function assert(cond: boolean, what: string): asserts cond {
  if (!cond) throw new RaftError('INVARIANT', `raft invariant violated: ${what}`);
}
