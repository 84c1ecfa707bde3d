import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exampleYaml, renderConfigReference } from './config-docs.js';
import { defaultConfig, envNameOf, loadConfig, OPTIONS, renderHelp, type BrokerConfig, type ConfigIo } from './config.js';
import { ConfigError } from './errors.js';
import { CONFIG_REFERENCE_PATH } from './gen-docs.js';

const files = (contents: Record<string, string>): ConfigIo => ({
  readFile(path) {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
    return text;
  },
  hostname: () => 'broker-host',
});
const noFiles = files({});

function run(argv: string[], env: Record<string, string> = {}, io: ConfigIo = noFiles): BrokerConfig {
  const result = loadConfig(argv, env, io);
  if (result.action !== 'run') throw new Error(`expected run, got ${result.action}`);
  return result.config;
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('match the failover table of DESIGN.md §5', () => {
    const config = run([]);
    expect(config.membership).toEqual({ heartbeatIntervalMs: 500, sessionTimeoutMs: 2_000 });
    expect(config.raft.tickMs * config.raft.electionTicks).toBe(1_000);
    expect(config.replication.replicaLagMsMax).toBe(10_000);
    expect(config.replication.replicaFetchWaitMsMax).toBe(500);
    expect(config.topicDefaults.minInsyncReplicas).toBe(1);
    expect(config.topicDefaults.uncleanLeaderElectionEnable).toBe(false);
    expect(config.storage.flushMode).toBe('always');
  });

  it('make a single-node cluster with this broker as the only voter', () => {
    const config = run(['--broker-id', '7', '--client-host', '10.0.0.5', '--peer-port', '19093']);
    expect(config.bootstrapVoters).toEqual([{ id: 7, host: '10.0.0.5', port: 19093 }]);
    expect(config.advertised).toEqual({ host: '10.0.0.5', clientPort: 9092, peerPort: 19093 });
  });

  it('advertise the host name when binding a wildcard address', () => {
    expect(run([]).advertised.host).toBe('broker-host');
  });

  it('defaultConfig applies overrides', () => {
    expect(defaultConfig(['--num-partitions', '6']).topicDefaults.numPartitions).toBe(6);
  });
});

describe('precedence: flag > env > YAML > default', () => {
  const spec = OPTIONS.find((o) => o.flag === 'num-partitions');
  if (spec === undefined) throw new Error('num-partitions option missing');

  it('holds for every combination of sources', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        (flag, env, yaml) => {
          const argv = ['--config', 'c.yaml', ...(flag === undefined ? [] : [`--${spec.flag}=${flag}`])];
          const envVars = env === undefined ? {} : { [envNameOf(spec.flag)]: String(env) };
          const io = files({ 'c.yaml': yaml === undefined ? 'clusterId: x\n' : `topicDefaults:\n  numPartitions: ${yaml}\n` });
          const expected = flag ?? env ?? yaml ?? spec.default;
          expect(run(argv, envVars, io).topicDefaults.numPartitions).toBe(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reads the config file path from STREAMBUS_CONFIG too', () => {
    const io = files({ '/etc/sb.yaml': 'logLevel: debug\nlisteners:\n  http:\n    port: 1234\n' });
    const config = run([], { STREAMBUS_CONFIG: '/etc/sb.yaml' }, io);
    expect(config.logLevel).toBe('debug');
    expect(config.listeners.http.port).toBe(1234);
  });

  it('loads the documented example YAML', () => {
    const io = files({ 'example.yaml': exampleYaml().join('\n') });
    const config = run(['--config', 'example.yaml'], {}, io);
    expect(config.bootstrapVoters.map((v) => v.id)).toEqual([0, 1, 2]);
    expect(config.storage.memtableBudgetBytes).toBe(512 * 1024 * 1024);
    expect(config.topicDefaults.minInsyncReplicas).toBe(2);
  });
});

describe('parsing', () => {
  it('accepts byte suffixes on byte options only', () => {
    expect(run(['--wal-segment-bytes', '64MiB']).storage.walSegmentBytes).toBe(64 * 1024 * 1024);
    expect(run(['--replica-fetch-bytes-max=512KiB']).replication.replicaFetchBytesMax).toBe(512 * 1024);
    expect(run(['--replica-fetch-response-bytes-max=20MiB']).replication.replicaFetchResponseBytesMax).toBe(20 * 1024 * 1024);
    expect(problemsOf(() => run(['--raft-tick-ms', '10MiB']))[0]).toContain('--raft-tick-ms');
  });

  it('accepts -1 for unlimited retention', () => {
    expect(run(['--retention-ms', '-1']).topicDefaults.retentionMs).toBe(-1);
    expect(run(['--retention-bytes=-1']).topicDefaults.retentionBytes).toBe(-1);
  });

  it('parses booleans strictly', () => {
    expect(run(['--unclean-leader-election-enable']).topicDefaults.uncleanLeaderElectionEnable).toBe(true);
    expect(run([], { STREAMBUS_UNCLEAN_LEADER_ELECTION_ENABLE: 'false' }).topicDefaults.uncleanLeaderElectionEnable).toBe(false);
    expect(problemsOf(() => run(['--unclean-leader-election-enable=maybe']))[0]).toContain('true or false');
  });

  it('parses voter lists, including bracketed IPv6 hosts', () => {
    const config = run(['--broker-id', '2', '--bootstrap-voters', '1@a.example:9093, 2@[::1]:9094,3@10.0.0.3:9093']);
    expect(config.bootstrapVoters).toEqual([
      { id: 1, host: 'a.example', port: 9093 },
      { id: 2, host: '::1', port: 9094 },
      { id: 3, host: '10.0.0.3', port: 9093 },
    ]);
  });

  it('accepts voters as a YAML list', () => {
    const io = files({ 'c.yaml': 'brokerId: 1\nbootstrapVoters:\n  - 1@h1:9093\n  - 2@h2:9093\n' });
    expect(run(['--config', 'c.yaml'], {}, io).bootstrapVoters).toHaveLength(2);
  });

  it('rejects integers outside the safe range with a typed error', () => {
    const problems = problemsOf(() => run(['--retention-ms', '9007199254740993']));
    expect(problems[0]).toContain('--retention-ms');
    expect(problems[0]).toContain('not a safe integer');
  });

  it('never throws anything but ConfigError on arbitrary flag values', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPTIONS.map((o) => o.flag)), fc.string({ maxLength: 40 }), (flag, value) => {
        try {
          loadConfig([`--${flag}=${value}`], {}, noFiles);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('validation errors name their source', () => {
  it('names the flag', () => {
    const problems = problemsOf(() => run(['--client-port', '70000']));
    expect(problems).toEqual(['--client-port="70000" is invalid: expected an integer from 0 to 65535']);
  });

  it('names the env var and its flag', () => {
    const problems = problemsOf(() => run([], { STREAMBUS_LOG_LEVEL: 'loud' }));
    expect(problems[0]).toContain('STREAMBUS_LOG_LEVEL="loud" (env, for --log-level)');
    expect(problems[0]).toContain('one of fatal, error, warn, info, debug, trace, silent');
  });

  it('hints at Kubernetes service links for tcp:// values', () => {
    const problems = problemsOf(() => run([], { STREAMBUS_CLIENT_PORT: 'tcp://10.96.0.12:9092' }));
    expect(problems[0]).toContain('enableServiceLinks: false');
  });

  it('names the YAML key and file', () => {
    const io = files({ 'c.yaml': 'storage:\n  flushMode: sometimes\n' });
    const problems = problemsOf(() => run(['--config', 'c.yaml'], {}, io));
    expect(problems[0]).toContain('storage.flushMode: "sometimes" in c.yaml (for --flush-mode)');
  });

  it('reports every problem at once', () => {
    expect(problemsOf(() => run(['--client-port', 'x', '--log-level', 'y', '--raft-tick-ms', '0']))).toHaveLength(3);
  });

  it('rejects unknown flags and positional arguments', () => {
    expect(problemsOf(() => run(['--client-prot', '1']))[0]).toContain('unknown option --client-prot');
    expect(problemsOf(() => run(['serve']))[0]).toContain('serve');
    expect(problemsOf(() => run(['--', 'foo']))[0]).toContain('unexpected argument(s) "foo"');
  });

  it('rejects unknown YAML keys, top level and nested', () => {
    const io = files({ 'c.yaml': 'brokerID: 1\nstorage:\n  flushmode: always\n' });
    expect(problemsOf(() => run(['--config', 'c.yaml'], {}, io))).toEqual(['unknown key brokerID in c.yaml', 'unknown key storage.flushmode in c.yaml']);
  });

  it('rejects unreadable, invalid and non-mapping YAML files', () => {
    expect(problemsOf(() => run(['--config', 'missing.yaml']))[0]).toContain('cannot read config file missing.yaml');
    expect(problemsOf(() => run(['--config', 'c.yaml'], {}, files({ 'c.yaml': 'a: [1,\n' })))[0]).toContain('not valid YAML');
    expect(problemsOf(() => run(['--config', 'c.yaml'], {}, files({ 'c.yaml': '- 1\n- 2\n' })))[0]).toContain('mapping');
    expect(problemsOf(() => run(['--config', 'c.yaml'], {}, files({ 'c.yaml': 'a: 1\na: 2\n' })))[0]).toContain('not valid YAML');
  });

  it('warns about, but accepts, unknown STREAMBUS_* env vars', () => {
    const result = loadConfig([], { STREAMBUS_PORT: 'tcp://10.0.0.1:9092', STREAMBUS_LONG: '1', PATH: '/bin' }, noFiles);
    expect(result.action === 'run' && result.warnings).toEqual(['ignoring unknown environment variable STREAMBUS_PORT']);
  });

  it('rejects voter lists that are malformed or repeat an id', () => {
    expect(problemsOf(() => run(['--broker-id', '1', '--bootstrap-voters', '1@h:1,1@h:2']))[0]).toContain('voter id 1 appears twice');
    expect(problemsOf(() => run(['--bootstrap-voters', 'h:9093']))[0]).toContain('"h:9093" is not id@host:port');
  });
});

describe('cross-option rules', () => {
  const cases: [string, string[], string][] = [
    ['broker id required with several voters', ['--bootstrap-voters', '1@a:1,2@b:1'], '--broker-id (default) must be set explicitly'],
    ['election beyond heartbeat', ['--raft-election-ticks', '2', '--raft-heartbeat-ticks', '2'], '--raft-election-ticks'],
    ['session timeout two heartbeats', ['--session-timeout-ms', '900'], '--session-timeout-ms (900) must be at least twice --heartbeat-interval-ms (default) (500)'],
    ['fetch wait below replica lag', ['--replica-fetch-wait-ms-max', '10000'], '--replica-fetch-wait-ms-max'],
    ['min ISR within RF', ['--min-insync-replicas', '2'], '--min-insync-replicas (2) must not exceed --default-replication-factor (default) (1)'],
    ['message within request', ['--max-message-bytes', '1GiB', '--request-bytes-max', '1MiB'], '--max-message-bytes'],
    ['distinct ports', ['--client-port', '9000', '--http-port', '9000'], 'each listener needs its own port'],
  ];
  for (const [name, argv, expected] of cases) {
    it(name, () => {
      expect(problemsOf(() => run(argv)).join('\n')).toContain(expected);
    });
  }

  it('allows port 0 on every listener', () => {
    expect(run(['--client-port', '0', '--peer-port', '0', '--http-port', '0']).listeners.http.port).toBe(0);
  });
});

describe('help and docs', () => {
  it('--help lists every flag', () => {
    const result = loadConfig(['--help'], {}, noFiles);
    expect(result.action).toBe('help');
    for (const spec of OPTIONS) expect(renderHelp()).toContain(`--${spec.flag} `);
  });

  it('--version is recognised', () => {
    expect(loadConfig(['--version'], {}, noFiles).action).toBe('version');
  });

  it('every option has a distinct flag, env var and YAML key', () => {
    expect(new Set(OPTIONS.map((o) => o.flag)).size).toBe(OPTIONS.length);
    expect(new Set(OPTIONS.map((o) => o.key)).size).toBe(OPTIONS.length);
  });

  it('docs/operations/configuration.md is generated from OPTIONS (run `npm run docs -w @streambus/broker`)', () => {
    expect(readFileSync(CONFIG_REFERENCE_PATH, 'utf8')).toBe(renderConfigReference());
  });
});
