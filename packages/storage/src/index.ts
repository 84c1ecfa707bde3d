export { StorageEngine, type CorruptTable, type EngineStats } from './engine.js';
export { PartitionLog, type AppendOptions, type AppendResult, type AssignedBatch, type ReadResult, type TopicPartition } from './partition.js';
export { type Clock, type StorageOptions, DEFAULT_PARTITION_CONFIG } from './config.js';
export { type CleanupPolicy, type EpochEntry, type PartitionConfig, type TableMeta } from './manifest.js';
export { StorageError, isStorageError, type StorageErrorCode } from './errors.js';
export { type FileSystem, type WritableFile, type ReadableFile, NodeFileSystem, FsError } from './fs.js';
export { MemFileSystem, seededRandom, type CrashOptions, type FaultCode, type FaultOp, type FaultRule, type MemFileSystemOptions } from './mem-fs.js';
export { type FlushMode, type WalPosition } from './wal.js';
