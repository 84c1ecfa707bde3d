// Shared by the apps' build scripts (apps/*/build.mjs): how an app is bundled with esbuild.
import { build } from 'esbuild';
import { performance } from 'node:perf_hooks';

// esbuild's `packages: 'external'` would also externalize @streambus/* (they are bare package
// imports too), and their `default` export points at an unbuilt dist/. This plugin
// externalizes every bare import except our own workspace packages, which are bundled from
// source through the `@streambus/source` condition; npm dependencies load from node_modules.
export const externalizeNpm = {
  name: 'externalize-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@streambus/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/**
 * Bundles `entryPoints` (name → source file) into `outdir` as Node 20 ESM with source maps,
 * npm dependencies external (outdir must sit inside the app so Node finds node_modules above
 * it), and prints what it built on stderr.
 */
export async function buildApp(entryPoints, outdir) {
  const started = performance.now();
  const result = await build({
    entryPoints,
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
}
