// Bundles the broker into dist/main.js with esbuild: our workspace packages are bundled
// from source (the `@streambus/source` condition), npm dependencies stay external and are
// loaded from node_modules at run time. One file to load keeps process start fast.
//
// Usage: node build.mjs [outdir]   (outdir defaults to dist; it must sit inside
// apps/broker so Node finds the external dependencies in node_modules above it)
import { build } from 'esbuild';
import { externalizeNpm } from '../../scripts/esbuild-app.mjs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, process.argv[2] ?? 'dist');

const started = performance.now();
const result = await build({
  // dev-cluster.js (`npm start`) spawns main.js from the same directory.
  entryPoints: { main: resolve(here, 'src/main.ts'), index: resolve(here, 'src/index.ts'), 'dev-cluster': resolve(here, 'src/dev-cluster.ts') },
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
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stderr.write(`built ${Object.keys(result.metafile.outputs).length} files (${bytes} bytes) into ${outdir} in ${Math.round(performance.now() - started)} ms\n`);
