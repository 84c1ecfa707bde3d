// @streambus/testkit: deterministic simulation (clock, PRNG, network, durable state), a
// linearizability checker, and tools to run real processes in integration tests.

export {
  CheckerError,
  type CheckerErrorCode,
  ProcessError,
  type ProcessErrorCode,
  SeedFailure,
  type SeedFailureCode,
  SimDiskError,
  type SimDiskErrorCode,
  SimulationError,
  type SimulationErrorCode,
} from './errors.js';
export { Prng } from './prng.js';
export { type Clock, Simulator, type SimulatorOptions, type TimerId } from './simulator.js';
export {
  DEFAULT_NETWORK_CONFIG,
  type DropReason,
  type MessageHandler,
  type NetworkConfig,
  type NetworkEvent,
  type NetworkStats,
  type NodeId,
  SimNetwork,
} from './network.js';
export { forEachSeed, seedFromEnv, type SeedOptions } from './seeds.js';
export {
  type CrashOptions,
  SimDurableCell,
  SimDurableLog,
  type SimDurableOptions,
  type SimDurableStats,
  type SyncCallback,
} from './durable.js';
export {
  checkLinearizable,
  type CheckOptions,
  type CheckResult,
  type ClientId,
  type Counterexample,
  type Model,
  type Operation,
} from './linearizability.js';
export { type KvInput, kvModel, type KvOperation, type KvOutput, type KvValue } from './kv-model.js';
export {
  type ExitStatus,
  freePort,
  killAllProcesses,
  type ProcessHandle,
  startProcess,
  type StartProcessOptions,
  type TempDir,
  tempDir,
} from './process.js';
export { simFileSystem } from './mem-fs.js';
export {
  type CrashOptions as MemFsCrashOptions,
  type FaultCode,
  type FaultOp,
  type FaultRule,
  type FileSystem,
  FsError,
  MemFileSystem,
  type MemFileSystemOptions,
} from '@streambus/storage';
export { generateKvHistory, type KvHistoryOptions } from './kv-history.js';
