#!/usr/bin/env node
// The one code-generation script for proto/ (see proto/README.md).
//
//   node proto/generate.mjs                    regenerate TypeScript and Go code in place
//   node proto/generate.mjs --check            buf lint + buf breaking against the baseline,
//                                              then fail if the committed generated code is stale
//   node proto/generate.mjs --update-baseline  refresh proto/baseline/streambus.binpb (at a release)
//
// Needs only node, go and `npm ci` (buf and ts-proto are devDependencies of
// @streambus/protocol). The Go plugins are installed at pinned versions into .tools/bin the
// first time, so a clean clone in CI works.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROTOC_GEN_GO = { module: 'google.golang.org/protobuf/cmd/protoc-gen-go', version: 'v1.36.11' };
const PROTOC_GEN_GO_GRPC = { module: 'google.golang.org/grpc/cmd/protoc-gen-go-grpc', version: 'v1.6.1' };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = 'proto';
const template = join(protoDir, 'buf.gen.yaml');
const baseline = join(protoDir, 'baseline', 'streambus.binpb');
const toolsBin = join(root, '.tools', 'bin');
const nodeBin = join(root, 'node_modules', '.bin');
// Every directory that generation owns: it is replaced whole, so code of deleted protos goes too.
const outputs = ['packages/protocol/src/gen', 'packages/sdk-go/gen/streambus'];

const env = { ...process.env, PATH: [nodeBin, toolsBin, process.env.PATH ?? ''].join(delimiter) };
const args = new Set(process.argv.slice(2));
const known = new Set(['--check', '--update-baseline', '--help']);
for (const a of args) if (!known.has(a)) fail(`unknown argument ${a} (use --check, --update-baseline or none)`);
if (args.has('--help')) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 10).join('\n') + '\n');
  process.exit(0);
}

function fail(message) {
  process.stderr.write(`proto: ${message}\n`);
  process.exit(1);
}

function run(cmd, cmdArgs, opts = {}) {
  const result = spawnSync(cmd, cmdArgs, { cwd: root, env, encoding: 'utf8', ...opts });
  if (result.error) fail(`cannot run ${cmd}: ${result.error.message}`);
  return result;
}

function mustRun(what, cmd, cmdArgs, opts = {}) {
  const result = run(cmd, cmdArgs, opts);
  if (result.status !== 0) {
    process.stderr.write(result.stdout ?? '');
    process.stderr.write(result.stderr ?? '');
    fail(`${what} failed (${cmd} ${cmdArgs.join(' ')})`);
  }
  return result;
}

function ensureNodeTools() {
  for (const tool of ['buf', 'protoc-gen-ts_proto']) {
    if (!existsSync(join(nodeBin, tool))) fail(`${tool} is missing from node_modules/.bin: run \`npm ci\` first`);
  }
}

// `go install` a plugin at its pinned version unless .tools/bin already has that version.
function ensureGoPlugin({ module, version }) {
  const name = module.split('/').pop();
  const bin = join(toolsBin, name);
  if (existsSync(bin)) {
    const out = run(bin, ['--version']).stdout ?? '';
    if (out.trim().endsWith(version.replace(/^v/, ''))) return;
  }
  process.stderr.write(`proto: installing ${name}@${version} into .tools/bin\n`);
  mkdirSync(toolsBin, { recursive: true });
  mustRun(`go install ${name}`, 'go', ['install', `${module}@${version}`], { env: { ...env, GOBIN: toolsBin } });
}

// ts-proto 1.x imports some of grpc-js's type-only exports as values, which
// `verbatimModuleSyntax` rejects. Mark every imported name that grpc-js does not export at
// run time as `type`; the check is against the installed grpc-js, so it stays exact.
const grpcRuntime = createRequire(join(root, 'packages', 'protocol', 'package.json'))('@grpc/grpc-js');
function fixTypeOnlyImports(source) {
  return source.replace(/import \{([^}]*)\} from "@grpc\/grpc-js";/, (_whole, names) => {
    const fixed = names
      .split(',')
      .map((part) => {
        const name = part.trim();
        if (name === '' || name.startsWith('type ') || name in grpcRuntime) return part;
        return part.replace(name, `type ${name}`);
      })
      .join(',');
    return `import {${fixed}} from "@grpc/grpc-js";`;
  });
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

// Generates everything into a fresh temp dir (mirroring the repository's layout) and returns it.
function generate() {
  ensureNodeTools();
  ensureGoPlugin(PROTOC_GEN_GO);
  ensureGoPlugin(PROTOC_GEN_GO_GRPC);
  const out = mkdtempSync(join(tmpdir(), 'streambus-proto-'));
  mustRun('buf generate', 'buf', ['generate', protoDir, '--template', template, '--output', out]);
  const tsFiles = listFiles(join(out, outputs[0])).filter((f) => f.endsWith('.ts'));
  for (const file of tsFiles) {
    const path = join(out, outputs[0], file);
    writeFileSync(path, fixTypeOnlyImports(readFileSync(path, 'utf8')));
  }
  writeFileSync(join(out, outputs[0], 'index.ts'), barrel(out, tsFiles));
  return out;
}

// src/gen/index.ts: an explicit export list of every message and enum, so the package entry
// needs no `export *` of generated code. The grpc-js artefacts (…Service, …Server, …Client)
// and the …Definition constants are left out: src/services.ts wraps them. `Error` is
// exported as `ErrorProto` so that importing it never shadows the global Error.
const WRAPPED_SUFFIXES = ['Service', 'Server', 'Client', 'Definition'];
function barrel(out, tsFiles) {
  const lines = ['// Code generated by proto/generate.mjs. DO NOT EDIT.', ''];
  for (const file of tsFiles) {
    const source = readFileSync(join(out, outputs[0], file), 'utf8');
    const values = new Set();
    const types = new Set();
    for (const m of source.matchAll(/^export (interface|type|const|enum) (\w+)/gm)) {
      const [, kind, name] = m;
      if (WRAPPED_SUFFIXES.some((suffix) => name.endsWith(suffix))) continue;
      (kind === 'const' || kind === 'enum' ? values : types).add(name);
    }
    const names = [...new Set([...values, ...types])].sort();
    const specifiers = names.map((name) => {
      const alias = name === 'Error' ? 'Error as ErrorProto' : name;
      return values.has(name) ? alias : `type ${alias}`;
    });
    lines.push(`export {\n${specifiers.map((s) => `  ${s},`).join('\n')}\n} from './${file.replace(/\.ts$/, '.js')}';`);
  }
  return `${lines.join('\n')}\n`;
}

function lint() {
  ensureNodeTools();
  mustRun('buf lint', 'buf', ['lint', protoDir]);
  process.stderr.write('proto: buf lint ok\n');
}

function breaking() {
  if (!existsSync(join(root, baseline))) fail(`no baseline image at ${baseline}: run \`node proto/generate.mjs --update-baseline\``);
  mustRun('buf breaking', 'buf', ['breaking', protoDir, '--against', baseline]);
  process.stderr.write(`proto: buf breaking (FILE) against ${baseline} ok\n`);
}

function firstDifference(a, b) {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i += 1) {
    if (la[i] !== lb[i]) return `line ${i + 1}: committed ${JSON.stringify(la[i] ?? '<end>')} vs generated ${JSON.stringify(lb[i] ?? '<end>')}`;
  }
  return 'identical text';
}

function check() {
  lint();
  breaking();
  const out = generate();
  const problems = [];
  try {
    for (const dir of outputs) {
      const committed = listFiles(join(root, dir));
      const fresh = listFiles(join(out, dir));
      for (const f of fresh.filter((f) => !committed.includes(f))) problems.push(`missing   ${join(dir, f)}`);
      for (const f of committed.filter((f) => !fresh.includes(f))) problems.push(`extra     ${join(dir, f)} (no proto generates it)`);
      for (const f of fresh.filter((f) => committed.includes(f))) {
        const a = readFileSync(join(root, dir, f), 'utf8');
        const b = readFileSync(join(out, dir, f), 'utf8');
        if (a !== b) problems.push(`stale     ${join(dir, f)}: ${firstDifference(a, b)}`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    process.stderr.write(`proto: generated code is stale (${problems.length} file(s)):\n`);
    for (const p of problems) process.stderr.write(`  ${p}\n`);
    fail('run `npm run proto:gen` (node proto/generate.mjs) and commit the result');
  }
  process.stderr.write('proto: generated code is up to date\n');
}

function regenerate() {
  lint();
  const out = generate();
  try {
    for (const dir of outputs) {
      rmSync(join(root, dir), { recursive: true, force: true });
      if (existsSync(join(out, dir))) cpSync(join(out, dir), join(root, dir), { recursive: true });
      process.stderr.write(`proto: wrote ${listFiles(join(root, dir)).length} file(s) to ${dir}\n`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function updateBaseline() {
  lint();
  mkdirSync(dirname(join(root, baseline)), { recursive: true });
  // Without source info the image holds only what compatibility depends on, so it changes
  // only when the schema does (not when a comment does).
  mustRun('buf build', 'buf', ['build', protoDir, '--exclude-source-info', '-o', baseline]);
  process.stderr.write(`proto: wrote ${baseline}\n`);
}

if (args.has('--update-baseline')) updateBaseline();
else if (args.has('--check')) check();
else regenerate();
