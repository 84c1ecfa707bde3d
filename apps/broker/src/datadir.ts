import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DataDirError } from './errors.js';

/**
 * The broker's claim on its data directory.
 *
 * Lock: `<dataDir>/.lock` holds the owner's pid, its start time (Linux /proc starttime, so
 * a recycled pid is not mistaken for the owner) and host name. It is created atomically
 * (written to a temp file, then hard-linked into place, which fails if the lock exists),
 * so its content is always complete. A lock whose owner is gone (SIGKILL, crash) is stale
 * and taken over; a lock held by a live process refuses the start with DATA_DIR_LOCKED.
 *
 * Identity: `<dataDir>/meta.json` records the cluster id and broker id on first start; a
 * later start with another id refuses with DATA_DIR_MISMATCH, so a mis-mounted volume is
 * never silently adopted (Kafka's meta.properties check).
 */
export interface DataDir {
  readonly path: string;
  /** Removes the lock if this process still owns it. Idempotent and synchronous. */
  release(): void;
}

export interface DataDirOptions {
  readonly dataDir: string;
  readonly brokerId: number;
  readonly clusterId: string;
}

interface LockOwner {
  readonly pid: number;
  /** /proc/<pid>/stat field 22; null off Linux. */
  readonly startTicks: string | null;
  readonly hostname: string;
  readonly acquiredAt: string;
}

interface Meta {
  readonly formatVersion: number;
  readonly clusterId: string;
  readonly brokerId: number;
}

const LOCK_FILE = '.lock';
const META_FILE = 'meta.json';
const META_FORMAT_VERSION = 1;
/** Stale-lock takeovers tried before giving up (each loses only to a concurrent starter). */
const LOCK_ATTEMPTS_MAX = 3;

/** Lock paths this process holds: the pid check alone cannot see a second in-process claim. */
const heldHere = new Set<string>();

export function openDataDir(options: DataDirOptions): DataDir {
  const dir = resolve(options.dataDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DataDirError('DATA_DIR_IO', `cannot create data dir ${dir} (--data-dir): ${message(error)}`, { cause: error });
  }
  const lockPath = join(dir, LOCK_FILE);
  const owner = acquireLock(dir, lockPath);
  try {
    checkMeta(dir, options);
  } catch (error) {
    releaseLock(lockPath, owner);
    throw error;
  }
  let released = false;
  return {
    path: dir,
    release() {
      if (released) return;
      released = true;
      releaseLock(lockPath, owner);
    },
  };
}

function acquireLock(dir: string, lockPath: string): LockOwner {
  if (heldHere.has(lockPath)) throw lockedError(dir, lockPath, { pid: process.pid, startTicks: null, hostname: osHostname(), acquiredAt: 'earlier' });
  const owner: LockOwner = { pid: process.pid, startTicks: processStartTicks(process.pid), hostname: osHostname(), acquiredAt: new Date().toISOString() };
  const tempPath = join(dir, `${LOCK_FILE}.${process.pid}.tmp`);
  writeFileDurably(tempPath, JSON.stringify(owner) + '\n');
  try {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS_MAX; attempt++) {
      try {
        linkSync(tempPath, lockPath);
        heldHere.add(lockPath);
        return owner;
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw new DataDirError('DATA_DIR_IO', `cannot create lock ${lockPath}: ${message(error)}`, { cause: error });
      }
      const holderText = readOptional(lockPath);
      if (holderText === undefined) continue; // released between our link and read: retry
      const holder = parseOwner(holderText);
      if (holder === undefined) {
        throw new DataDirError('DATA_DIR_LOCKED', `data dir ${dir} has an unreadable lock file ${lockPath}; if no broker is running on this data dir, delete that file and start again`);
      }
      if (ownerAlive(holder)) throw lockedError(dir, lockPath, holder);
      takeOverStaleLock(lockPath, holderText);
    }
    throw new DataDirError('DATA_DIR_LOCKED', `data dir ${dir}: lost the race for ${lockPath} ${LOCK_ATTEMPTS_MAX} times; another broker is starting on the same data dir`);
  } finally {
    unlinkQuietly(tempPath);
  }
}

// Moves a stale lock aside. If, between reading it and moving it, another starter replaced
// it with a live lock, the move caught that live lock: put it back and let the loop retry.
function takeOverStaleLock(lockPath: string, staleText: string): void {
  const asidePath = `${lockPath}.stale.${process.pid}`;
  try {
    renameSync(lockPath, asidePath);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw new DataDirError('DATA_DIR_IO', `cannot move stale lock ${lockPath} aside: ${message(error)}`, { cause: error });
  }
  if (readOptional(asidePath) !== staleText) {
    try {
      linkSync(asidePath, lockPath);
    } catch {
      // Someone holds the lock path again; their lock wins and ours will fail on EEXIST.
    }
  }
  unlinkQuietly(asidePath);
}

function releaseLock(lockPath: string, owner: LockOwner): void {
  heldHere.delete(lockPath);
  const current = readOptional(lockPath);
  if (current === undefined) return;
  const holder = parseOwner(current);
  // Never delete a lock another process has taken over.
  if (holder?.pid === owner.pid && holder.acquiredAt === owner.acquiredAt) unlinkQuietly(lockPath);
}

function ownerAlive(holder: LockOwner): boolean {
  // A lock from another host (shared storage) cannot be checked; assume it is held.
  if (holder.hostname !== osHostname()) return true;
  // Our own pid in a lock we do not hold: a previous incarnation (e.g. pid 1 in a container).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
    // EPERM: the pid exists but belongs to another user; fall through to the start check.
  }
  if (holder.startTicks === null) return true;
  const ticks = processStartTicks(holder.pid);
  return ticks === null || ticks === holder.startTicks;
}

function lockedError(dir: string, lockPath: string, holder: LockOwner): DataDirError {
  return new DataDirError(
    'DATA_DIR_LOCKED',
    `data dir ${dir} is locked by another broker (pid ${holder.pid} on ${holder.hostname}, since ${holder.acquiredAt}); two brokers must never share a data dir. Stop that broker or use another --data-dir. The lock file is ${lockPath}`,
  );
}

function checkMeta(dir: string, options: DataDirOptions): void {
  const metaPath = join(dir, META_FILE);
  const text = readOptional(metaPath);
  if (text === undefined) {
    const meta: Meta = { formatVersion: META_FORMAT_VERSION, clusterId: options.clusterId, brokerId: options.brokerId };
    const tempPath = `${metaPath}.tmp`;
    writeFileDurably(tempPath, JSON.stringify(meta, null, 2) + '\n');
    try {
      renameSync(tempPath, metaPath);
      fsyncDir(dir);
    } catch (error) {
      throw new DataDirError('DATA_DIR_IO', `cannot write ${metaPath}: ${message(error)}`, { cause: error });
    }
    return;
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (error) {
    throw new DataDirError('DATA_DIR_MISMATCH', `${metaPath} is not valid JSON; refusing to guess which broker owns ${dir}`, { cause: error });
  }
  if (!isMeta(meta)) throw new DataDirError('DATA_DIR_MISMATCH', `${metaPath} lacks formatVersion/clusterId/brokerId; refusing to guess which broker owns ${dir}`);
  if (meta.formatVersion !== META_FORMAT_VERSION) {
    throw new DataDirError('DATA_DIR_MISMATCH', `${metaPath} has format version ${meta.formatVersion}; this broker reads version ${META_FORMAT_VERSION}`);
  }
  if (meta.clusterId !== options.clusterId) {
    throw new DataDirError('DATA_DIR_MISMATCH', `data dir ${dir} belongs to cluster ${JSON.stringify(meta.clusterId)}, not ${JSON.stringify(options.clusterId)} (--cluster-id)`);
  }
  if (meta.brokerId !== options.brokerId) {
    throw new DataDirError('DATA_DIR_MISMATCH', `data dir ${dir} belongs to broker ${meta.brokerId}, not ${options.brokerId} (--broker-id)`);
  }
}

function isMeta(value: unknown): value is Meta {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.formatVersion === 'number' && typeof v.clusterId === 'string' && typeof v.brokerId === 'number';
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v.pid !== 'number' || typeof v.hostname !== 'string' || typeof v.acquiredAt !== 'string') return undefined;
    if (v.startTicks !== null && typeof v.startTicks !== 'string') return undefined;
    return { pid: v.pid, startTicks: v.startTicks, hostname: v.hostname, acquiredAt: v.acquiredAt };
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null if unknown. */
function processStartTicks(pid: number): string | null {
  if (process.platform !== 'linux') return null;
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) return null;
  // The command name (field 2) may contain spaces and parentheses; fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? null;
}

function writeFileDurably(path: string, text: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'w', 0o644);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    throw new DataDirError('DATA_DIR_IO', `cannot write ${path}: ${message(error)}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new DataDirError('DATA_DIR_IO', `cannot read ${path}: ${message(error)}`, { cause: error });
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or the directory vanished; nothing to clean up.
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
