#!/usr/bin/env node
// The one test command (`npm test`): static checks, every TypeScript suite (vitest) and every
// Go suite (go test), then one summary line `N passed, N failed` over all of them.
// Each static check counts as one test. `--long` turns on the long modes (more simulation
// seeds, longer crash loops) through STREAMBUS_LONG=1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const env = { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR };
if (args.includes('--long')) env.STREAMBUS_LONG = '1';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

let passed = 0;
let failed = 0;
const failures = [];

function run(cmd, cmdArgs, opts = {}) {
  const started = Date.now();
  const result = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit', ...opts });
  return { status: result.status ?? 1, seconds: ((Date.now() - started) / 1000).toFixed(1), stdout: result.stdout };
}

function check(name, cmd, cmdArgs) {
  process.stdout.write(`\n=== check: ${name}\n`);
  const { status, seconds } = run(cmd, cmdArgs);
  if (status === 0) passed += 1;
  else {
    failed += 1;
    failures.push(`check ${name}`);
  }
  process.stdout.write(`=== check: ${name} ${status === 0 ? 'passed' : 'FAILED'} (${seconds}s)\n`);
}

check('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
check('lint', 'npm', ['run', '--silent', 'lint']);
if (pkg.scripts?.['proto:check']) check('proto', 'npm', ['run', '--silent', 'proto:check']);

// TypeScript suites.
mkdirSync(join(root, 'test-results'), { recursive: true });
const vitestJson = join(root, 'test-results', 'vitest.json');
process.stdout.write('\n=== vitest\n');
const vitest = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`]);
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A skipped or todo test is a bug report, not a pass.
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (skipped > 0) {
    failed += skipped;
    failures.push(`${skipped} skipped/todo vitest tests`);
  }
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults ?? []) if (t.status === 'failed') failures.push(`vitest ${t.fullName}`);
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
      failed += 1;
      failures.push(`vitest suite ${file.name}: ${String(file.message ?? '').split('\n')[0]}`);
    }
  }
} else {
  failed += 1;
  failures.push('vitest produced no report');
}
if (vitest.status !== 0 && failed === 0) {
  failed += 1;
  failures.push(`vitest exited ${vitest.status}`);
}

// Go suites: every module under packages/ with a go.mod.
for (const dir of readdirSync(join(root, 'packages'))) {
  const modDir = join(root, 'packages', dir);
  if (!existsSync(join(modDir, 'go.mod'))) continue;
  process.stdout.write(`\n=== go test (${dir})\n`);
  const go = spawnSync('go', ['test', '-json', '-count=1', './...'], { cwd: modDir, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  let goPassed = 0;
  let goFailed = 0;
  for (const line of (go.stdout ?? '').split('\n')) {
    if (!line.startsWith('{')) continue;
    const ev = JSON.parse(line);
    if (ev.Action === 'output' && ev.Output && (ev.Output.includes('FAIL') || ev.Output.includes('panic:') || ev.Output.startsWith('    '))) process.stdout.write(ev.Output);
    if (!ev.Test) continue;
    if (ev.Action === 'pass') goPassed += 1;
    else if (ev.Action === 'fail') {
      goFailed += 1;
      failures.push(`go ${ev.Package} ${ev.Test}`);
    } else if (ev.Action === 'skip') {
      goFailed += 1;
      failures.push(`go ${ev.Package} ${ev.Test} (skipped)`);
    }
  }
  if (go.stderr) process.stdout.write(go.stderr);
  if (go.status !== 0 && goFailed === 0) {
    goFailed += 1;
    failures.push(`go test in packages/${dir} exited ${go.status}`);
  }
  process.stdout.write(`go (${dir}): ${goPassed} passed, ${goFailed} failed\n`);
  passed += goPassed;
  failed += goFailed;
}

if (failures.length > 0) {
  process.stdout.write('\nFailures:\n');
  for (const f of failures) process.stdout.write(`  - ${f}\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
