import { open, readFile, rename, unlink, readdir, mkdir, stat, truncate } from 'node:fs/promises';
import { type FileHandle } from 'node:fs/promises';

/**
 * The file-system seam. Everything the engine does to disk goes through here, so tests swap in
 * MemFileSystem and inject lost writes, torn writes, bit flips, ENOSPC, EIO and fsync failures.
 * Errors are thrown as they come (Node-style `code` such as ENOSPC/EIO); the engine classifies.
 */
export interface FileSystem {
  /** Opens for appending; creates the file when missing, empties it when `truncate`. */
  openAppend(path: string, options?: { truncate?: boolean }): Promise<WritableFile>;
  /**
   * Opens an existing file to write it again from byte 0 (a recycled WAL segment): the file
   * keeps its length and old bytes beyond what this handle writes.
   */
  openOverwrite(path: string): Promise<WritableFile>;
  /**
   * Creates `path` holding `bytes` zero bytes, written out and fdatasynced (not sparse), so a
   * later overwrite allocates nothing and its fdatasync has no metadata to commit. `pace` is
   * awaited before each chunk is written (background work stays within an I/O budget).
   */
  preallocate(path: string, bytes: number, pace?: (bytes: number) => Promise<void>): Promise<void>;
  openRead(path: string): Promise<ReadableFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Shrinks a file and makes the new length durable (used to cut a torn WAL tail). */
  truncate(path: string, length: number): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** Creates a directory and its parents; succeeds when it exists. */
  mkdir(dir: string): Promise<void>;
  /** Makes creations, renames and deletions of entries in `dir` durable. */
  syncDir(dir: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

export interface WritableFile {
  readonly path: string;
  /** Where the next append lands: the file's length, or for an overwrite how far it has got. */
  readonly size: number;
  append(chunks: readonly Uint8Array[]): Promise<void>;
  /** fdatasync: once resolved, every appended byte survives a crash. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export interface ReadableFile {
  readonly path: string;
  readonly size: number;
  /** Reads up to `length` bytes at `position`; shorter only at end of file. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

class NodeWritableFile implements WritableFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    public size: number,
  ) {}

  async append(chunks: readonly Uint8Array[]): Promise<void> {
    let pending = chunks.filter((c) => c.byteLength > 0);
    let total = pending.reduce((n, c) => n + c.byteLength, 0);
    // writev may write less than asked; keep going from where it stopped.
    while (total > 0) {
      const { bytesWritten } = await this.fh.writev(pending, this.size);
      this.size += bytesWritten;
      total -= bytesWritten;
      if (total === 0) break;
      let skip = bytesWritten;
      const rest: Uint8Array[] = [];
      for (const c of pending) {
        if (skip >= c.byteLength) {
          skip -= c.byteLength;
          continue;
        }
        rest.push(skip > 0 ? c.subarray(skip) : c);
        skip = 0;
      }
      pending = rest;
    }
  }

  async datasync(): Promise<void> {
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

class NodeReadableFile implements ReadableFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

const PREALLOCATE_CHUNK_BYTES = 1024 * 1024;
const PREALLOCATE_SYNC_BYTES = 8 * 1024 * 1024;

/** The real disk, through node:fs/promises. */
export class NodeFileSystem implements FileSystem {
  async openAppend(path: string, options: { truncate?: boolean } = {}): Promise<WritableFile> {
    const fh = await open(path, options.truncate === true ? 'w' : 'a');
    try {
      const { size } = await fh.stat();
      return new NodeWritableFile(path, fh, size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async openOverwrite(path: string): Promise<WritableFile> {
    return new NodeWritableFile(path, await open(path, 'r+'), 0);
  }

  async preallocate(path: string, bytes: number, pace?: (bytes: number) => Promise<void>): Promise<void> {
    const fh = await open(path, 'w');
    try {
      const zeros = Buffer.alloc(Math.min(bytes, PREALLOCATE_CHUNK_BYTES));
      let unsynced = 0;
      for (let pos = 0; pos < bytes; ) {
        const n = Math.min(zeros.length, bytes - pos);
        await pace?.(n);
        const { bytesWritten } = await fh.write(zeros, 0, n, pos);
        pos += bytesWritten;
        unsynced += bytesWritten;
        // Written back a few MiB at a time: one large flush at the end would hold up the
        // WAL's own fdatasyncs for as long as it takes.
        if (unsynced >= PREALLOCATE_SYNC_BYTES) {
          await fh.datasync();
          unsynced = 0;
        }
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  async openRead(path: string): Promise<ReadableFile> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      return new NodeReadableFile(path, fh, size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async truncate(path: string, length: number): Promise<void> {
    await truncate(path, length);
    const fh = await open(path, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  readdir(dir: string): Promise<string[]> {
    return readdir(dir);
  }

  async mkdir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}

/** Error shaped like Node's fs errors, for the in-memory file system and fault injection. */
export class FsError extends Error {
  override readonly name = 'FsError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
