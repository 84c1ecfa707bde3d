export { type RaftConfig, DEFAULT_RAFT_CONFIG, makeRaftConfig, validateRaftConfig } from './config.js';
export { RaftError, type RaftErrorCode } from './errors.js';
export { MemoryStorage, type Storage, bootstrapEntries } from './storage.js';
export { Raft, type RaftStatus, type ProgressStatus } from './raft.js';
export { ProgressState } from './progress.js';
export {
  encodeMessage,
  decodeMessage,
  encodeEntry,
  decodeEntry,
  encodeEntries,
  decodeEntries,
  encodeHardState,
  decodeHardState,
  encodeSnapshot,
  decodeSnapshot,
} from './codec.js';
export {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  StateRole,
  decodeConfChange,
  encodeConfChange,
  makeMessage,
} from './types.js';
export { LevelStorage } from './level-storage.js';
export { RaftNode, type RaftNodeOptions, type StateMachine } from './node.js';
export { MemoryNetwork, type Transport } from './transport.js';
