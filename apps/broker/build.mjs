// Bundles the broker into dist/main.js with esbuild: our workspace packages are bundled
// from source (the `@streambus/source` condition), npm dependencies stay external and are
// loaded from node_modules at run time. One file to load keeps process start fast.
//
// Usage: node build.mjs [outdir]   (outdir defaults to dist; it must sit inside
// apps/broker so Node finds the external dependencies in node_modules above it)
import { buildApp } from '../../scripts/esbuild-app.mjs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
await buildApp(
  {
    main: resolve(here, 'src/main.ts'),
    index: resolve(here, 'src/index.ts'),
    // dev-cluster.js (`npm start`) spawns main.js from the same directory.
    'dev-cluster': resolve(here, 'src/dev-cluster.ts'),
    // BROKER_NODE_FLAGS alone, for launchers outside this app (tests, the SDK bench).
    'node-flags': resolve(here, 'src/node-flags.ts'),
  },
  resolve(here, process.argv[2] ?? 'dist'),
);
