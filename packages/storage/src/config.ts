import { invalidArgument } from './errors.js';
import { type FileSystem, NodeFileSystem } from './fs.js';
import { type PartitionConfig } from './manifest.js';
import { type FlushMode } from './wal.js';

export interface Clock {
  now(): number;
}

const MiB = 1024 * 1024;

export interface StorageOptions {
  /** Root directory; the engine owns everything below it. */
  readonly dir: string;
  readonly fs?: FileSystem;
  readonly clock?: Clock;
  /** 'always': an append resolves after its bytes are fdatasynced. 'interval': fsync every flushIntervalMs. */
  readonly flush?: FlushMode;
  readonly flushIntervalMs?: number;
  /** A WAL file is sealed and a new one started past this size. */
  readonly walRollBytes?: number;
  /** Bytes written by one group commit (one write + one fdatasync). */
  readonly walGroupBytesMax?: number;
  /**
   * WAL segments kept preallocated (zero-filled, or recycled from retired segments) so appends
   * overwrite a file instead of growing one; 0 turns it off. See ADR 0010.
   */
  readonly walSpareSegments?: number;
  /** Largest single append (all batches of one call). */
  readonly appendBytesMax?: number;
  /** Broker-wide memory budget for all memtables; appends wait while it is exceeded. */
  readonly memtableBytesMax?: number;
  /** A partition's memtable is flushed once it holds this much. */
  readonly memtableFlushBytes?: number;
  /** A memtable is flushed once its oldest batch is this old. */
  readonly memtableAgeMsMax?: number;
  /** Memtable flushes run at once (their fsyncs overlap). */
  readonly flushConcurrency?: number;
  readonly blockBytes?: number;
  /** Bloom filter bits per key for compacted topics; 0 disables. */
  readonly bloomBitsPerKey?: number;
  /** Merge a partition's small SSTables once it has at least this many. */
  readonly compactionMinTables?: number;
  /** Throttle for background writes (compaction, zero-filling WAL spares); 0 means unthrottled. */
  readonly compactionBytesPerSec?: number;
  /** Told how long each WAL fdatasync took, in seconds (the broker's latency histogram). */
  readonly onWalSync?: (seconds: number) => void;
  /** Period of the background maintenance (age flush, retention, compaction); 0 disables the timer. */
  readonly maintenanceIntervalMs?: number;
  readonly openTablesMax?: number;
  readonly manifestBytesMax?: number;
  /**
   * Check every batch's CRC-32C when reading SSTables (one pass over the bytes read). When false,
   * reads check block and batch headers only and leave bodies to the consumer's CRC check, as Kafka does.
   */
  readonly verifyReads?: boolean;
  /**
   * Distinct keys one key-compaction run may hold in memory (about 100 bytes each plus the key).
   * Past it the run compacts the prefix whose keys fit and the rest waits for the next run.
   */
  readonly compactionKeysMax?: number;
  /** Bound on one batch's decompressed records when storage decodes it (compaction, timestamp lookups). */
  readonly decompressedBytesMax?: number;
  /**
   * After an SSTable read, the next span (at most this many bytes) is read in the background
   * for a sequential consumer; two spans per open table at most (openTablesMax × 2 × this, at
   * worst). 0 (default): off, since the kernel's readahead already covers sequential files.
   */
  readonly readAheadBytes?: number;
  /** Check every SSTable footer and index when opening the engine. */
  readonly verifyTablesOnOpen?: boolean;
  readonly defaultPartitionConfig?: Partial<PartitionConfig>;
}

export type ResolvedOptions = Required<Omit<StorageOptions, 'defaultPartitionConfig'>> & { readonly defaultPartitionConfig: PartitionConfig };

export const DEFAULT_PARTITION_CONFIG: PartitionConfig = {
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  segmentBytes: 64 * MiB,
};

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) throw invalidArgument(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

export function resolvePartitionConfig(base: PartitionConfig, over: Partial<PartitionConfig> = {}): PartitionConfig {
  const c = { ...base, ...over };
  if (!Number.isSafeInteger(c.retentionMs) || c.retentionMs < -1) throw invalidArgument(`retentionMs must be -1 or >= 0`);
  if (!Number.isSafeInteger(c.retentionBytes) || c.retentionBytes < -1) throw invalidArgument(`retentionBytes must be -1 or >= 0`);
  if (c.cleanupPolicy !== 'delete' && c.cleanupPolicy !== 'compact') throw invalidArgument(`cleanupPolicy must be delete or compact`);
  positiveInt('deleteRetentionMs', c.deleteRetentionMs, 0);
  positiveInt('segmentBytes', c.segmentBytes, 1024);
  return c;
}

export function resolveOptions(o: StorageOptions): ResolvedOptions {
  if (typeof o.dir !== 'string' || o.dir.length === 0) throw invalidArgument('dir is required');
  const appendBytesMax = positiveInt('appendBytesMax', o.appendBytesMax ?? 64 * MiB);
  const memtableBytesMax = positiveInt('memtableBytesMax', o.memtableBytesMax ?? 256 * MiB);
  const flush = o.flush ?? 'always';
  if (flush !== 'always' && flush !== 'interval') throw invalidArgument(`flush must be 'always' or 'interval'`);
  return {
    dir: o.dir,
    fs: o.fs ?? new NodeFileSystem(),
    clock: o.clock ?? { now: () => Date.now() },
    flush,
    flushIntervalMs: positiveInt('flushIntervalMs', o.flushIntervalMs ?? 1000),
    walRollBytes: positiveInt('walRollBytes', o.walRollBytes ?? 64 * MiB),
    walGroupBytesMax: positiveInt('walGroupBytesMax', o.walGroupBytesMax ?? 16 * MiB),
    walSpareSegments: positiveInt('walSpareSegments', o.walSpareSegments ?? 1, 0),
    appendBytesMax,
    memtableBytesMax,
    memtableFlushBytes: positiveInt('memtableFlushBytes', o.memtableFlushBytes ?? Math.min(64 * MiB, Math.max(1, Math.floor(memtableBytesMax / 4)))),
    memtableAgeMsMax: positiveInt('memtableAgeMsMax', o.memtableAgeMsMax ?? 5 * 60 * 1000),
    flushConcurrency: positiveInt('flushConcurrency', o.flushConcurrency ?? 4),
    blockBytes: positiveInt('blockBytes', o.blockBytes ?? 64 * 1024, 64),
    bloomBitsPerKey: positiveInt('bloomBitsPerKey', o.bloomBitsPerKey ?? 10, 0),
    compactionMinTables: positiveInt('compactionMinTables', o.compactionMinTables ?? 4, 2),
    compactionBytesPerSec: positiveInt('compactionBytesPerSec', o.compactionBytesPerSec ?? 64 * MiB, 0),
    onWalSync: o.onWalSync ?? (() => undefined),
    maintenanceIntervalMs: positiveInt('maintenanceIntervalMs', o.maintenanceIntervalMs ?? 1000, 0),
    openTablesMax: positiveInt('openTablesMax', o.openTablesMax ?? 512),
    manifestBytesMax: positiveInt('manifestBytesMax', o.manifestBytesMax ?? 4 * MiB, 1024),
    compactionKeysMax: positiveInt('compactionKeysMax', o.compactionKeysMax ?? 1_000_000),
    decompressedBytesMax: positiveInt('decompressedBytesMax', o.decompressedBytesMax ?? 64 * MiB),
    readAheadBytes: positiveInt('readAheadBytes', o.readAheadBytes ?? 0, 0),
    verifyTablesOnOpen: o.verifyTablesOnOpen ?? true,
    verifyReads: o.verifyReads ?? true,
    defaultPartitionConfig: resolvePartitionConfig(DEFAULT_PARTITION_CONFIG, o.defaultPartitionConfig),
  };
}
