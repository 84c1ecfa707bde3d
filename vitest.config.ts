import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One vitest run covers every workspace: each package and app is a project named after
// its package, and `test/` holds the cross-package suites. Sources are resolved through
// the `@streambus/source` export condition, so tests never need a build first.
const conditions = ['@streambus/source', 'node', 'import', 'default'];

function workspaceProjects(dir: string): { name: string; root: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
    .map((entry) => ({ name: `@streambus/${entry.name}`, root: join(dir, entry.name) }));
}

const projects = [...workspaceProjects('packages'), ...workspaceProjects('apps')].map(({ name, root }) => ({
  extends: true as const,
  test: { name, root, include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
}));

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [...projects, { extends: true as const, test: { name: 'integration', root: 'test', include: ['**/*.test.ts'] } }],
  },
});
