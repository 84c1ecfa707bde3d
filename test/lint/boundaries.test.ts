// The dependency direction of DESIGN.md §1 is enforced by `npm run lint`. These tests prove
// the rules bite: each plants a forbidden import in a real package for the length of one
// lint run, expects the linter to reject it, and removes it again.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const planted: string[] = [];

function plant(relativePath: string, source: string): string {
  const path = join(root, relativePath);
  writeFileSync(path, source);
  planted.push(path);
  return relativePath;
}

function depcruise(target: string): { status: number; output: string } {
  const r = spawnSync('npx', ['depcruise', '--config', '.dependency-cruiser.cjs', target], { cwd: root, encoding: 'utf8' });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}

afterEach(() => {
  for (const p of planted.splice(0)) rmSync(p, { force: true });
});

describe('dependency direction (dependency-cruiser)', () => {
  it('accepts the packages as they are', () => {
    const r = depcruise('packages/raft/src');
    expect(r.output).toContain('no dependency violations');
    expect(r.status).toBe(0);
  });

  it('rejects raft importing another package of ours', () => {
    const file = plant('packages/raft/src/zz-lint-probe.ts', "import { crc32c } from '@streambus/record';\nexport const probe = crc32c;\n");
    const r = depcruise(file);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('raft-imports-only-nothing-of-ours');
  });

  it('rejects storage importing networking', () => {
    const file = plant('packages/storage/src/zz-lint-probe.ts', "import { createServer } from 'node:net';\nexport const probe = createServer;\n");
    const r = depcruise(file);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('raft-and-storage-never-import-networking');
  });

  it('rejects a package importing an app', () => {
    const file = plant('packages/record/src/zz-lint-probe.ts', "import { Broker } from '../../../apps/broker/src/broker.js';\nexport const probe = Broker;\n");
    const r = depcruise(file);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('packages-never-import-apps');
  });
});

describe('public entries only (ESLint)', () => {
  it('rejects a deep import into another package', () => {
    const file = plant('packages/client/src/zz-lint-probe.ts', "import { crc32c } from '@streambus/record/src/crc32c.js';\nexport const probe = crc32c;\n");
    const r = spawnSync('npx', ['eslint', '--no-warn-ignored', file], { cwd: root, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('Import another package through its public entry');
  });
});
