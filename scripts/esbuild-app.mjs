// Shared by the apps' build scripts (apps/*/build.mjs): how an app is bundled with esbuild.
//
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
