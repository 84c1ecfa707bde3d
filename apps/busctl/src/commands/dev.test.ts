import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { devUpArgs, findRepoRoot, launcherCommand } from './dev.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('dev up', () => {
  it('finds the repository root from its own location', () => {
    const root = findRepoRoot(here);
    expect(root).toBe(join(here, '../../../..'));
    expect(findRepoRoot('/')).toBeUndefined();
  });

  it('runs the launcher from sources through tsx when asked', () => {
    const root = findRepoRoot(here)!;
    expect(launcherCommand(root, true)).toEqual(['--conditions=@streambus/source', '--import', 'tsx', join(root, 'apps/broker/src/dev-cluster.ts')]);
    expect(() => launcherCommand('/nonexistent', true)).toThrow(/no dev cluster launcher/);
  });

  it('passes its flags and the broker flags after -- to the launcher', () => {
    expect(devUpArgs({ fromSource: false, brokerArgs: [] })).toEqual([]);
    expect(devUpArgs({ brokerCount: 1, basePort: 19092, dataDir: '/tmp/d', fromSource: false, brokerArgs: ['--log-level', 'debug'] })).toEqual([
      '--brokers', '1', '--base-port', '19092', '--data-dir', '/tmp/d', '--', '--log-level', 'debug',
    ]);
  });
});
