// Bundles the CLI into dist/busctl.js with esbuild: our workspace packages are bundled from
// source (the `@streambus/source` condition), npm dependencies stay external and load from
// node_modules at run time. One file keeps `busctl` start-up fast.
//
// Usage: node build.mjs [outdir]   (outdir defaults to dist; it must sit inside apps/busctl
// so Node finds the external dependencies in node_modules above it)
import { build } from 'esbuild';
import { externalizeNpm } from '../../scripts/esbuild-app.mjs';
import { chmodSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, process.argv[2] ?? 'dist');

const started = performance.now();
const result = await build({
  entryPoints: { busctl: resolve(here, 'src/cli.ts'), index: resolve(here, 'src/index.ts') },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['@streambus/source'],
  plugins: [externalizeNpm],
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  // CommonJS code bundled into ESM may call require(); give it one.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __streambusCreateRequire } from 'node:module';\nconst require = __streambusCreateRequire(import.meta.url);" },
});
chmodSync(join(outdir, 'busctl.js'), 0o755);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stderr.write(`built ${Object.keys(result.metafile.outputs).length} files (${bytes} bytes) into ${outdir} in ${Math.round(performance.now() - started)} ms\n`);
