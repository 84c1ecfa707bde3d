// Bundles the CLI into dist/busctl.js with esbuild: our workspace packages are bundled from
// source (the `@streambus/source` condition), npm dependencies stay external and load from
// node_modules at run time. One file keeps `busctl` start-up fast.
//
// Usage: node build.mjs [outdir]   (outdir defaults to dist; it must sit inside apps/busctl
// so Node finds the external dependencies in node_modules above it)
import { buildApp } from '../../scripts/esbuild-app.mjs';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, process.argv[2] ?? 'dist');
await buildApp({ busctl: resolve(here, 'src/cli.ts'), index: resolve(here, 'src/index.ts') }, outdir);
chmodSync(join(outdir, 'busctl.js'), 0o755);
