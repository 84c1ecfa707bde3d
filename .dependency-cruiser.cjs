// The dependency direction of DESIGN.md §1, enforced by `npm run lint`.
// An arrow means "may import": apps → packages; client → protocol, record;
// broker → metadata, raft, storage, record, protocol; metadata → raft (types only);
// storage → record (at run time: ADR 0003); raft → nothing of ours. No package imports an app.
const pkg = (name) => `^(packages/${name}/|node_modules/@streambus/${name}/)`;
const ours = (names) => `^(packages|node_modules/@streambus)/(${names.join('|')})/`;
// Tests, test helpers and benchmarks may use the test kit and anything below them.
const testCode = '(\\.test\\.ts$|^packages/[^/]+/(test|bench)/)';
const ALL = ['record', 'storage', 'raft', 'metadata', 'protocol', 'client', 'testkit', 'sdk-go'];
const allowed = {
  record: [],
  raft: [],
  storage: ['record'],
  metadata: ['raft', 'record'],
  protocol: ['record'],
  client: ['protocol', 'record'],
  testkit: ['record', 'storage', 'raft', 'metadata', 'protocol', 'client'],
};

const packageRules = Object.entries(allowed).map(([from, may]) => ({
  name: `${from}-imports-only-${may.length ? may.join('-') : 'nothing-of-ours'}`,
  comment: `packages/${from} may import only: ${may.length ? may.join(', ') : 'nothing of ours'} (DESIGN.md §1)`,
  severity: 'error',
  from: { path: pkg(from), pathNot: testCode },
  to: { path: ours(ALL.filter((n) => n !== from && !may.includes(n))) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Cycles are a build error (DESIGN.md §1).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-never-import-apps',
      comment: 'No package imports an app (DESIGN.md §1).',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'raft-and-storage-never-import-networking',
      comment: 'raft and storage never import networking (DESIGN.md §1).',
      severity: 'error',
      from: { path: '^packages/(raft|storage)/src/', pathNot: '\\.test\\.ts$' },
      to: { path: '(^node:(net|http|http2|https|dgram|tls)$|^(net|http|http2|https|dgram|tls)$|@grpc/grpc-js)', dependencyTypesNot: ['local'] },
    },
    ...packageRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(node_modules|/dist/|packages/protocol/src/gen/|packages/sdk-go/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { conditionNames: ['@streambus/source', 'import', 'node', 'default'], exportsFields: ['exports'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
    combinedDependencies: false,
  },
};
