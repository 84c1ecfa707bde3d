/** Wire and storage types of the Raft core. Indexes and terms are safe-integer numbers. */

export const NONE = 0;

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

export enum ConfChangeType {
  AddVoter = 0,
  RemoveVoter = 1,
  AddLearner = 2,
  RemoveLearner = 3,
  PromoteLearner = 4,
}

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: number;
}

/** The membership a snapshot or the applied log describes. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

export interface HardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export enum MessageType {
  App = 1,
  AppResp = 2,
  Vote = 3,
  VoteResp = 4,
  PreVote = 5,
  PreVoteResp = 6,
  Heartbeat = 7,
  HeartbeatResp = 8,
  Snap = 9,
  TimeoutNow = 10,
}

/**
 * One message between peers. Fields unused by a type are zero/empty so the codec stays
 * fixed-shape: `context` carries the ReadIndex round on heartbeats and the "this election is a
 * leadership transfer" flag on votes.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: number;
  readonly to: number;
  readonly term: number;
  /** App: index of the entry before `entries`; AppResp: the follower's matched/last index. */
  readonly index: number;
  /** App: term of the entry at `index`; votes: candidate's last log term. */
  readonly logTerm: number;
  readonly commit: number;
  readonly reject: boolean;
  /** AppResp rejections: the follower's last index, the leader's probe hint. */
  readonly rejectHint: number;
  readonly context: number;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
}

export enum StateRole {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  readonly leaderId: number;
  readonly role: StateRole;
}

/** A ReadIndex round that reached a quorum: reads for `requestId` may be served once applied ≥ index. */
export interface ReadState {
  readonly requestId: number;
  readonly index: number;
}

/**
 * The work the caller must do, in order: persist `hardState`, `entries` and `snapshot`
 * durably; then send `messages`; then apply `snapshot` and `committedEntries`; then call
 * `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  /**
   * How many leading `committedEntries` are in stable storage already (from earlier Readys):
   * those may be applied before this Ready is persisted. 0 when it carries a snapshot.
   */
  readonly durableCommitted: number;
  readonly readStates: readonly ReadState[];
  /** True when hardState, entries or snapshot must be fsynced before `messages` go out. */
  readonly mustSync: boolean;
  /**
   * True when `messages` may go out before the persist: a leader's appends, heartbeats and
   * snapshots in a term and vote already persisted (Raft thesis §10.2.1: the leader writes its
   * disk in parallel with replicating). Safe because the leader counts itself towards a
   * commit only for entries it has persisted (at advance()), never for entries in flight.
   */
  readonly messagesBeforePersist: boolean;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export function entrySize(e: Entry): number {
  // Approximate encoded size: the data plus a fixed header; used by every byte limit.
  return e.data.byteLength + 24;
}

export function entriesSize(es: readonly Entry[]): number {
  let n = 0;
  for (const e of es) n += entrySize(e);
  return n;
}

export function makeMessage(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    index: 0,
    logTerm: 0,
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: 0,
    entries: [],
    snapshot: undefined,
    ...fields,
  };
}

/** Conf changes travel as entry data: 1 byte type + 4 bytes node id (big-endian). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(5);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, cc.type);
  dv.setUint32(1, cc.nodeId);
  return out;
}

const MAX_CONF_CHANGE_TYPE: number = ConfChangeType.PromoteLearner;

export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  if (data.byteLength !== 5) return undefined;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = dv.getUint8(0);
  if (type > MAX_CONF_CHANGE_TYPE) return undefined;
  return { type, nodeId: dv.getUint32(1) };
}
