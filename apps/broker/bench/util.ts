// Small helpers shared by the broker benchmark sections.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

export const progress = (text: string): boolean => process.stderr.write(`${text}\n`);

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Space-separated arguments from the environment (BENCH_BROKER_ARGS, BENCH_BROKER_NODE_ARGS). */
export function envArgs(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter((a) => a !== '');
}

/** BENCH_BROKER_OUTPUT=file keeps a stopped broker's last output lines there (e.g. with --trace-gc). */
export function keepBrokerOutput(output: string): void {
  const keep = process.env.BENCH_BROKER_OUTPUT;
  if (keep !== undefined && keep !== '') appendFileSync(keep, `${output}\n`);
}

/** An integer from the environment, with a default and a lower bound. */
export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytesOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** MB/s with MB = 1e6 bytes, the unit of the grpc-js baselines. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

export const MIB = 1024 * 1024;
export const KIB = 1024;

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux this runs on, read once to be sure. */
let clockTicksPerSecond: number | undefined;
function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(out.stdout.trim());
    clockTicksPerSecond = out.status === 0 && value > 0 ? value : 100;
  }
  return clockTicksPerSecond;
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMsOf(pid: number): number {
  const t = cpuTimesOf(pid);
  return t.userMs + t.sysMs;
}

/** User and system CPU time (ms, all threads) of a process. */
export function cpuTimesOf(pid: number): { userMs: number; sysMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: (Number(fields[11]) * 1000) / clockTicks(), sysMs: (Number(fields[12]) * 1000) / clockTicks() };
}

/** The whole machine's CPU time so far (ms summed over cores): busy, and idle (incl. I/O wait). */
export function machineCpuMs(): { busyMs: number; idleMs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const busy = v.reduce((a, b) => a + b, 0) - idle;
  return { busyMs: (busy * 1000) / clockTicks(), idleMs: (idle * 1000) / clockTicks() };
}

/** CPU time of this process (the benchmark's clients), in ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
