import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ProcessError } from './errors.js';

// Tools for integration tests that run real processes on loopback. Everything started here is
// tracked: a process-exit hook SIGKILLs children still running and removes temp dirs, so a
// crashed test run leaves neither orphans nor litter.

const DEFAULT_READY_TIMEOUT_MS = 10_000;
const DEFAULT_OUTPUT_LINES_MAX = 10_000;
const DEFAULT_STOP_GRACE_MS = 5_000;
/** After 'exit', how long to wait for the pipes to drain (a grandchild may hold them open). */
const CLOSE_GRACE_MS = 2_000;

const liveProcesses = new Set<ChildProcess>();
const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveProcesses) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone: nothing to clean.
      }
    }
    if (process.env.STREAMBUS_KEEP_TMP === '1') return;
    for (const dir of liveTempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        server.close();
        reject(new ProcessError('PROC_SPAWN_FAILED', 'could not read the listening port', true));
        return;
      }
      server.close(() => resolve(addr.port));
    });
  });
}

export interface TempDir {
  readonly path: string;
  /** Remove the directory and everything in it; idempotent. */
  cleanup(): Promise<void>;
}

/** A fresh directory under the OS temp dir; removed by cleanup() or at process exit. */
export async function tempDir(prefix = 'streambus-'): Promise<TempDir> {
  if (prefix.includes('/') || prefix.includes('\\')) {
    throw new ProcessError('PROC_BAD_ARGUMENT', `tempDir prefix must not contain a path separator: ${prefix}`, false);
  }
  installExitHook();
  const path = await mkdtemp(join(tmpdir(), prefix));
  liveTempDirs.add(path);
  return {
    path,
    cleanup: async () => {
      liveTempDirs.delete(path);
      await rm(path, { recursive: true, force: true });
    },
  };
}

export interface StartProcessOptions {
  command: string;
  args?: readonly string[];
  /** Added to the parent's environment; an undefined value removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Resolve only once a line (stdout or stderr) matches; otherwise as soon as it spawned. */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
  /** Output lines kept per stream (the oldest are dropped); for failure messages. */
  outputLinesMax?: number;
  /** A name for messages; defaults to the command. */
  name?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
  readonly pid: number;
  readonly name: string;
  /** Lines written to stdout so far (bounded by outputLinesMax). */
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  readonly exitStatus: ExitStatus | undefined;
  readonly paused: boolean;
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP: the process freezes, its sockets stay open (a paused leader). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Resolves when the process has exited and its output is read. */
  waitExit(timeoutMs?: number): Promise<ExitStatus>;
  /** Resolves with the first line (already seen or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGCONT, SIGTERM, then SIGKILL after graceMs; resolves with the exit status. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** The last `lines` lines of output, both streams interleaved, for failure messages. */
  output(lines?: number): string;
}

interface LineWaiter {
  pattern: RegExp;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

class ManagedProcess implements ProcessHandle {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private readonly combined: string[] = [];
  private exit: ExitStatus | undefined;
  private isPaused = false;
  private readonly waiters = new Set<LineWaiter>();
  private readonly closed: Promise<ExitStatus>;

  constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly name: string,
    private readonly outputLinesMax: number,
  ) {
    this.closed = new Promise((resolve) => {
      let exitTimer: NodeJS.Timeout | undefined;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (exitTimer !== undefined) clearTimeout(exitTimer);
        if (this.exit !== undefined) return;
        this.exit = { code, signal };
        liveProcesses.delete(child);
        for (const w of this.waiters) w.reject(this.notRunning(`exited (${describeExit(this.exit)}) before a line matched ${String(w.pattern)}`, 'PROC_EXITED_BEFORE_READY'));
        this.waiters.clear();
        resolve(this.exit);
      };
      child.once('close', finish);
      child.once('exit', (code, signal) => {
        exitTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(code, signal);
        }, CLOSE_GRACE_MS);
        exitTimer.unref();
      });
    });
    if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) => this.onLine(this.stdout, 'out', l));
    if (child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => this.onLine(this.stderr, 'err', l));
  }

  get exitStatus(): ExitStatus | undefined {
    return this.exit;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exit !== undefined) return;
    this.child.kill(signal);
  }

  pause(): void {
    this.requireRunning('pause');
    this.child.kill('SIGSTOP');
    this.isPaused = true;
  }

  resume(): void {
    this.requireRunning('resume');
    this.child.kill('SIGCONT');
    this.isPaused = false;
  }

  async waitExit(timeoutMs?: number): Promise<ExitStatus> {
    if (timeoutMs === undefined) return this.closed;
    return withTimeout(this.closed, timeoutMs, () => this.notRunning(`did not exit within ${timeoutMs} ms`, 'PROC_EXIT_TIMEOUT'));
  }

  async waitForLine(pattern: RegExp, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<string> {
    const seen = this.combined.find((l) => pattern.test(l.slice(4)));
    if (seen !== undefined) return seen.slice(4);
    if (this.exit !== undefined) throw this.notRunning(`exited before a line matched ${String(pattern)}`, 'PROC_EXITED_BEFORE_READY');
    let waiter: LineWaiter | undefined;
    const found = new Promise<string>((resolve, reject) => {
      waiter = { pattern, resolve, reject };
      this.waiters.add(waiter);
    });
    try {
      return await withTimeout(found, timeoutMs, () => this.notRunning(`no line matched ${String(pattern)} within ${timeoutMs} ms`, 'PROC_LINE_TIMEOUT'));
    } finally {
      if (waiter !== undefined) this.waiters.delete(waiter);
    }
  }

  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<ExitStatus> {
    if (this.exit !== undefined) return this.exit;
    // A stopped process cannot act on SIGTERM until it is continued.
    if (this.isPaused) this.resume();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    timer.unref();
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }

  output(lines = 200): string {
    return this.combined.slice(-lines).join('\n');
  }

  private onLine(target: string[], tag: 'out' | 'err', line: string): void {
    push(target, line, this.outputLinesMax);
    push(this.combined, `${tag} ${line}`, this.outputLinesMax * 2);
    for (const w of this.waiters) {
      if (w.pattern.test(line)) {
        this.waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  private requireRunning(what: string): void {
    if (this.exit !== undefined) throw this.notRunning(`cannot ${what}: process has exited (${describeExit(this.exit)})`, 'PROC_NOT_RUNNING');
  }

  private notRunning(what: string, code: 'PROC_EXITED_BEFORE_READY' | 'PROC_EXIT_TIMEOUT' | 'PROC_LINE_TIMEOUT' | 'PROC_NOT_RUNNING'): ProcessError {
    const retriable = code === 'PROC_LINE_TIMEOUT' || code === 'PROC_EXIT_TIMEOUT';
    return new ProcessError(code, `${this.name} (pid ${this.pid}) ${what}\n--- last output ---\n${this.output(50)}`, retriable);
  }
}

function push(lines: string[], line: string, max: number): void {
  if (lines.length >= max) lines.shift();
  lines.push(line);
}

function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;
}

async function withTimeout<T>(p: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Spawn a process with piped output, wait until it is ready (a matching line when readyLine
 * is set), and return a handle. On failure to start or become ready the process is killed
 * and the error carries its last output.
 */
export async function startProcess(options: StartProcessOptions): Promise<ProcessHandle> {
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const outputLinesMax = options.outputLinesMax ?? DEFAULT_OUTPUT_LINES_MAX;
  if (!(readyTimeoutMs > 0) || !(Number.isSafeInteger(outputLinesMax) && outputLinesMax > 0)) {
    throw new ProcessError('PROC_BAD_ARGUMENT', `readyTimeoutMs and outputLinesMax must be > 0, got ${readyTimeoutMs}, ${outputLinesMax}`, false);
  }
  installExitHook();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  const name = options.name ?? options.command;
  const child = spawn(options.command, options.args ?? [], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveProcesses.add(child);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } catch (err) {
    liveProcesses.delete(child);
    throw new ProcessError('PROC_SPAWN_FAILED', `could not start ${name}: ${err instanceof Error ? err.message : String(err)}`, false, { cause: err });
  }
  const pid = child.pid;
  if (pid === undefined) throw new ProcessError('PROC_SPAWN_FAILED', `${name} has no pid after spawn`, false);
  const handle = new ManagedProcess(child, pid, name, outputLinesMax);
  if (options.readyLine !== undefined) {
    try {
      await handle.waitForLine(options.readyLine, readyTimeoutMs);
    } catch (err) {
      handle.kill('SIGKILL');
      await handle.waitExit();
      if (err instanceof ProcessError && err.code === 'PROC_LINE_TIMEOUT') {
        throw new ProcessError('PROC_READY_TIMEOUT', err.message, true, { cause: err });
      }
      throw err;
    }
  }
  return handle;
}

/** SIGKILL every process this module started that is still running (for afterAll hooks). */
export async function killAllProcesses(): Promise<void> {
  const children = [...liveProcesses];
  const exits = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(exits);
}
