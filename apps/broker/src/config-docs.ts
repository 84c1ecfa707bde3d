import { CONFIG_FILE_FLAG, envNameOf, formatDefault, kindHint, OPTIONS, type OptionSpec } from './config.js';

/**
 * docs/operations/configuration.md, generated from OPTIONS so the reference can never
 * drift from the code (a test compares the file with this output). Regenerate with
 * `npm run docs -w @streambus/broker`.
 */
export function renderConfigReference(): string {
  const out: string[] = [
    '# Broker configuration reference',
    '',
    '<!-- Generated from apps/broker/src/config.ts by `npm run docs -w @streambus/broker`. Do not edit by hand. -->',
    '',
    'Every option of `streambus-broker` can be given three ways. Per option, the first one',
    'present wins: **flag > environment variable > YAML file > default**.',
    '',
    `- Flag: \`--client-port 9092\` or \`--client-port=9092\`. Unknown flags are an error.`,
    `- Environment: \`STREAMBUS_<FLAG>\` in upper snake case, e.g. \`STREAMBUS_CLIENT_PORT=9092\`.`,
    '  Unknown `STREAMBUS_*` variables are logged as warnings, not errors, because Kubernetes',
    '  injects service link variables such as `STREAMBUS_PORT`; set `enableServiceLinks: false`',
    '  on broker pods so they cannot shadow a real option.',
    `- YAML: the file named by \`--${CONFIG_FILE_FLAG}\` (or \`${envNameOf(CONFIG_FILE_FLAG)}\`), keyed by the dotted`,
    '  path below as nested mappings. Unknown keys are an error (typos never pass silently).',
    '',
    'Values: integers are plain decimal; options marked *bytes* also accept `KiB`, `MiB` and',
    '`GiB` suffixes (`64MiB`). Integers beyond 2^53 are rejected. Booleans are `true`/`false`',
    '(a bare `--flag` means true). Durations are milliseconds (`...Ms`).',
    '',
    'Invalid values stop the broker before it touches the data dir: it prints every problem',
    '(each naming its flag, env var or YAML key) to stderr and exits with code 2.',
    '',
    '## Example YAML',
    '',
    '```yaml',
    ...exampleYaml(),
    '```',
    '',
  ];
  let group = '';
  for (const spec of OPTIONS) {
    if (spec.group !== group) {
      group = spec.group;
      out.push(`## ${group}`, '', '| flag | env | YAML key | type | default | meaning |', '|---|---|---|---|---|---|');
    }
    out.push(`| \`--${spec.flag}\` | \`${envNameOf(spec.flag)}\` | \`${spec.key}\` | ${escapeCell(kindHint(spec.kind))}${rangeOf(spec)} | ${defaultCell(spec)} | ${escapeCell(spec.description)} |`);
    if (OPTIONS[OPTIONS.indexOf(spec) + 1]?.group !== group) out.push('');
  }
  out.push(
    '## Other flags',
    '',
    `| flag | env | meaning |`,
    '|---|---|---|',
    `| \`--${CONFIG_FILE_FLAG} <file>\` | \`${envNameOf(CONFIG_FILE_FLAG)}\` | YAML config file. |`,
    '| `--help`, `-h` | | Print every option and exit 0. |',
    '| `--version` | | Print the version and exit 0. |',
    '',
    '## Cross-option rules',
    '',
    '- `--broker-id` must be set explicitly when `--bootstrap-voters` lists more than one voter.',
    '- `--raft-election-ticks` > `--raft-heartbeat-ticks`.',
    '- `--session-timeout-ms` >= 2 x `--heartbeat-interval-ms` (one lost heartbeat never fences a broker).',
    '- `--replica-fetch-wait-ms-max` < `--replica-lag-ms-max` (an idle follower never leaves the ISR).',
    '- `--min-insync-replicas` <= `--default-replication-factor`.',
    '- `--max-message-bytes` <= `--request-bytes-max`.',
    '- The client, peer and HTTP ports differ (0, "any free port", is exempt).',
    '',
    '## Exit codes',
    '',
    '| code | meaning |',
    '|---|---|',
    '| 0 | stopped cleanly after SIGTERM/SIGINT, or `--help`/`--version` |',
    '| 1 | runtime failure: uncaught error, failed start, a stop step failed, or the graceful stop exceeded `--shutdown-timeout-ms`; also a second SIGTERM/SIGINT during the stop |',
    '| 2 | invalid configuration (flags, env vars, YAML) |',
    '| 3 | the data dir is locked by another live broker, or belongs to another broker id or cluster id (`meta.json`) |',
    '',
  );
  return out.join('\n');
}

/** The example YAML of the reference; a test loads it to prove it is valid. */
export function exampleYaml(): string[] {
  return [
    'brokerId: 1',
    'clusterId: prod-eu1',
    'rack: eu-west-1a',
    'dataDir: /var/lib/streambus',
    'listeners:',
    '  client: { host: 0.0.0.0, port: 9092 }',
    '  peer: { host: 0.0.0.0, port: 9093 }',
    '  http: { host: 0.0.0.0, port: 9094 }',
    'advertised:',
    '  host: streambus-1.streambus.default.svc',
    'bootstrapVoters: 0@streambus-0.streambus:9093,1@streambus-1.streambus:9093,2@streambus-2.streambus:9093',
    'storage:',
    '  flushMode: always',
    '  memtableBudgetBytes: 512MiB',
    'topicDefaults:',
    '  replicationFactor: 3',
    '  minInsyncReplicas: 2',
  ];
}

function rangeOf(spec: OptionSpec): string {
  if (spec.kind.type !== 'int') return '';
  const max = spec.kind.max === Number.MAX_SAFE_INTEGER ? '2^53-1' : String(spec.kind.max);
  return ` (${spec.kind.min}..${max})`;
}

function defaultCell(spec: OptionSpec): string {
  return spec.default === null ? '*unset*' : `\`${formatDefault(spec.default)}\``;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}
