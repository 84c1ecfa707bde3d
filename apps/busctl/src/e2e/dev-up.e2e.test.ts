// `busctl dev up` starts apps/broker's dev-cluster launcher and stops it on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../../test/helpers/wait.js';

const APP_DIR = fileURLToPath(new URL('../../', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port p in a high range with p, p+1 and p+2 free (client, peer, http of broker 1). */
async function freeTriple(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await portFree(p)) && (await portFree(p + 1)) && (await portFree(p + 2))) return p;
  }
  throw new Error('no free port triple');
}

const scratch = mkdtempSync(join(tmpdir(), 'busctl-dev-'));
const outdir = join(APP_DIR, 'dist', `e2e-dev-${process.pid}-${randomBytes(4).toString('hex')}`);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

describe('busctl dev up', () => {
  it('runs a one-broker dev cluster that busctl can talk to, and stops it on SIGTERM', async () => {
    const built = spawnSync(process.execPath, [join(APP_DIR, 'build.mjs'), outdir], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const bundle = join(outdir, 'busctl.js');
    const port = await freeTriple();
    const env = { PATH: process.env.PATH ?? '', HOME: scratch, NO_COLOR: '1' };
    const child = spawn(process.execPath, [bundle, 'dev', 'up', '--broker-count', '1', '--base-port', String(port), '--data-dir', join(scratch, 'data')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`dev up exited ${child.exitCode}:\n${output}`);
          const r = spawnSync(process.execPath, [bundle, 'cluster', 'health', '--brokers', `127.0.0.1:${port}`, '--format', 'json', '--timeout-ms', '2000'], { env, encoding: 'utf8' });
          return r.status === 0 && (JSON.parse(r.stdout) as { healthy: boolean }).healthy;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: () => `the dev cluster to be healthy; output:\n${output}` },
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
