// `busctl dev up`: runs apps/broker's dev-cluster launcher (3 brokers on 9092/9192/9292 by
// default) in the foreground until Ctrl-C. busctl only finds and spawns it; the launcher owns
// ports, data dirs and broker flags.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CommandContext } from '../context.js';
import { BusctlError } from '../errors.js';

export interface DevUpArgs {
  brokerCount?: number | undefined;
  basePort?: number | undefined;
  dataDir?: string | undefined;
  /** Run the launcher from TypeScript sources through tsx even when a bundle exists. */
  fromSource: boolean;
  /** Extra broker flags (after `--`). */
  brokerArgs: readonly string[];
}

/** The repo root: the nearest ancestor of this file holding apps/broker. */
export function findRepoRoot(start: string): string | undefined {
  let dir = start;
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'apps', 'broker', 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

/** node arguments that start the launcher: the bundle if built, else the sources via tsx. */
export function launcherCommand(root: string, fromSource: boolean): string[] {
  const bundle = join(root, 'apps', 'broker', 'dist', 'dev-cluster.js');
  if (!fromSource && existsSync(bundle) && existsSync(join(root, 'apps', 'broker', 'dist', 'main.js'))) return ['--enable-source-maps', bundle];
  const source = join(root, 'apps', 'broker', 'src', 'dev-cluster.ts');
  if (!existsSync(source)) throw new BusctlError('DEV_CLUSTER', `no dev cluster launcher under ${root}/apps/broker (build it with 'node apps/broker/build.mjs')`);
  return ['--conditions=@streambus/source', '--import', 'tsx', source];
}

export function devUpArgs(args: DevUpArgs): string[] {
  const out: string[] = [];
  if (args.brokerCount !== undefined) out.push('--brokers', String(args.brokerCount));
  if (args.basePort !== undefined) out.push('--base-port', String(args.basePort));
  if (args.dataDir !== undefined) out.push('--data-dir', resolve(args.dataDir));
  if (args.brokerArgs.length > 0) out.push('--', ...args.brokerArgs);
  return out;
}

export async function devUp(ctx: CommandContext, args: DevUpArgs): Promise<void> {
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
  if (root === undefined) throw new BusctlError('DEV_CLUSTER', 'busctl dev up runs from a StreamBus checkout (apps/broker not found)');
  const argv = [...launcherCommand(root, args.fromSource), ...devUpArgs(args)];
  const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...ctx.io.env } });
  // Ctrl-C (SIGINT) reaches the launcher itself through the terminal's process group, so only
  // a SIGTERM sent to busctl alone is passed on; forwarding both would make the launcher see
  // a second signal and kill the brokers instead of stopping them gracefully.
  const forward = (): void => {
    child.kill('SIGTERM');
  };
  process.once('SIGTERM', forward);
  const code = await new Promise<number>((resolvePromise, reject) => {
    child.once('error', (err) => reject(new BusctlError('DEV_CLUSTER', `cannot start the dev cluster: ${err.message}`, { cause: err })));
    child.once('exit', (c, signal) => resolvePromise(c ?? (signal === null ? 1 : 1)));
  }).finally(() => process.off('SIGTERM', forward));
  ctx.exitCode = code;
}
