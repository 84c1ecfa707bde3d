#!/usr/bin/env node
// `npm run bench`: runs every workspace's `bench` script one after another (benchmarks must
// not share the 2 cores with each other), keeps each one's final JSON line and ends with ONE
// JSON line holding all of them: { "<package>": { ...figures and ratios... }, ... }.
// `npm run bench -- record storage` runs only the named packages.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const workspaces = ['packages', 'apps']
  .flatMap((dir) => readdirSync(join(root, dir)).map((name) => ({ dir: join(root, dir, name), name })))
  .filter(({ dir }) => existsSync(join(dir, 'package.json')))
  .map(({ dir, name }) => ({ dir, name, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg, name }) => pkg.scripts?.bench && (only.length === 0 || only.includes(name)));

function runBench({ dir, name }) {
  return new Promise((resolve) => {
    process.stderr.write(`\n=== bench ${name}\n`);
    const child = spawn('npm', ['run', '--silent', 'bench'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stderr.write(chunk);
    });
    child.on('close', (code) => {
      const last = out.trim().split('\n').filter((l) => l.trim().startsWith('{')).pop();
      try {
        resolve(code === 0 && last ? JSON.parse(last) : { error: `bench exited ${code}` });
      } catch {
        resolve({ error: 'bench did not end with a JSON line' });
      }
    });
  });
}

const results = {};
for (const ws of workspaces) results[ws.name] = await runBench(ws);
const line = JSON.stringify({ at: new Date().toISOString(), results });
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results', `bench-${Date.now()}.json`), `${line}\n`);
process.stdout.write(`${line}\n`);
process.exit(Object.values(results).some((r) => r.error) ? 1 : 0);
