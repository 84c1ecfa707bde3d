// `npm start`: the dev-cluster launcher becomes ready on the ports it is given, stops every
// broker cleanly on SIGINT with exit code 0, and keeps the data for the next start.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@streambus/protocol';
import { startProcess, tempDir, type ProcessHandle, type TempDir } from '@streambus/testkit';
import { brokerBundle, REPO_ROOT } from '../helpers/cluster.js';
import { createTopic } from '../helpers/records.js';

const PORT_STEP = 3;
const BROKERS = 3;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port whose 9 consecutive ports are free right now (bounded attempts). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

const opened: ProcessHandle[] = [];
const dirs: TempDir[] = [];
afterAll(async () => {
  await Promise.all(opened.map((p) => p.stop(15_000)));
  await Promise.all(dirs.map((d) => d.cleanup()));
});

async function startDevCluster(basePort: number, dataDir: string): Promise<ProcessHandle> {
  const bundle = await brokerBundle();
  const p = await startProcess({
    command: process.execPath,
    args: [join(bundle, 'dev-cluster.js'), '--base-port', String(basePort), '--port-step', String(PORT_STEP), '--data-dir', dataDir, '--ready-timeout-ms', '30000', '--', '--raft-tick-ms', '50', '--shutdown-timeout-ms', '10000'],
    cwd: REPO_ROOT,
    name: 'dev-cluster',
    readyLine: /dev cluster ready/,
    readyTimeoutMs: 40_000,
  });
  opened.push(p);
  return p;
}

describe('dev cluster', () => {
  it('becomes ready, prints its addresses, stops cleanly on SIGINT and keeps its data', async () => {
    const basePort = await freePortRange(BROKERS * PORT_STEP);
    const dir = await tempDir('e2e-dev-');
    dirs.push(dir);
    const bootstrap = [0, 1, 2].map((i) => `127.0.0.1:${basePort + i * PORT_STEP}`).join(',');

    const first = await startDevCluster(basePort, dir.path);
    expect(first.stdout.join('\n')).toContain(`bootstrap: ${bootstrap}`);
    expect(first.stdout.join('\n')).toContain(`metrics http://127.0.0.1:${basePort + 2}/metrics`);
    const client = createClient(`127.0.0.1:${basePort + PORT_STEP}`);
    try {
      const cluster = await client.describeCluster({ includeFenced: false });
      expect(cluster.brokers.map((b) => b.brokerId)).toEqual([1, 2, 3]);
      await createTopic(client, 'survives-restart', { partitions: 2, replicationFactor: 1 });
    } finally {
      client.close();
    }
    first.kill('SIGINT');
    expect(await first.waitExit(30_000)).toEqual({ code: 0, signal: null });
    expect(first.stdout.join('\n')).toContain('stopped cleanly');

    const second = await startDevCluster(basePort, dir.path);
    const again = createClient(`127.0.0.1:${basePort}`);
    try {
      const d = await again.describeTopics({ names: ['survives-restart'], includeInternal: false });
      expect(d.topics[0]?.error).toBeUndefined();
      expect(d.topics[0]?.partitions.length).toBe(2);
    } finally {
      again.close();
    }
    second.kill('SIGTERM');
    expect(await second.waitExit(30_000)).toEqual({ code: 0, signal: null });
  });
});
