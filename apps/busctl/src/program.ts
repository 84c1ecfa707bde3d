// The yargs command tree (nouns and verbs) and runCli(argv, io) → exit code. Handlers never
// let an exception reach yargs: they record it, and runCli turns it into one stderr line.
import yargs, { type Argv } from 'yargs';
import { CommandContext, type GlobalFlags } from './context.js';
import { bench, type BenchMode } from './commands/bench.js';
import { clusterHealth, clusterInfo } from './commands/cluster.js';
import { consume } from './commands/consume.js';
import { devUp } from './commands/dev.js';
import { produce } from './commands/produce.js';
import { profileDelete, profileList, profileSet, profileUse } from './commands/profile.js';
import { topicAddPartitions, topicAlterConfig, topicCreate, topicDelete, topicDescribe, topicList } from './commands/topic.js';
import { BusctlError, ExitCode, describeError, exitCodeOf, usageError } from './errors.js';
import { FORMATS, type Format } from './format.js';
import { type Io } from './io.js';

const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const TIMEOUT_MS_DEFAULT = 10_000;

interface RunState {
  error: unknown;
  ctx: CommandContext | undefined;
}

type Handler<A> = (ctx: CommandContext, args: A) => Promise<void>;

/** Wraps a handler: builds the context from the global flags, records failures, closes the client. */
function action<A>(io: Io, state: RunState, fn: Handler<A>, pick: (argv: Record<string, unknown>) => A) {
  return async (argv: Record<string, unknown>): Promise<void> => {
    const flags: GlobalFlags = {
      brokers: argv.brokers as string | undefined,
      profile: argv.profile as string | undefined,
      format: (argv.format as Format | undefined) ?? 'table',
      timeoutMs: argv.timeoutMs as number,
    };
    const ctx = new CommandContext(io, flags);
    state.ctx = ctx;
    try {
      await fn(ctx, pick(argv));
    } catch (err) {
      state.error = err;
    } finally {
      await ctx.close().catch(() => undefined);
    }
  };
}

/** yargs hands strings, numbers or booleans for the options declared here. */
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : v === undefined ? [] : [str(v)]);
const num = (v: unknown): number => v as number;
const optNum = (v: unknown): number | undefined => (v === undefined ? undefined : (v as number));
const optStr = (v: unknown): string | undefined => (v === undefined ? undefined : str(v));

function integer(name: string) {
  return (v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw usageError(`--${name} must be an integer, got '${str(v)}'`);
    return n;
  };
}

/** The whole command tree; exported for tests and for generating docs. */
export function buildCli(io: Io, state: RunState = { error: undefined, ctx: undefined }): Argv {
  const run = <A>(fn: Handler<A>, pick: (argv: Record<string, unknown>) => A) => action(io, state, fn, pick);
  return yargs()
    .scriptName('busctl')
    .usage('$0 <noun> <verb> [options]\n\nThe StreamBus admin CLI.')
    .env(false)
    .exitProcess(false)
    .strict()
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .option('brokers', { alias: 'b', type: 'string', describe: 'Bootstrap brokers host:port,... (env BUSCTL_BROKERS)', global: true })
    .option('profile', { alias: 'p', type: 'string', describe: 'Named broker list from the profile file (env BUSCTL_PROFILE)', global: true })
    .option('format', { alias: 'o', choices: FORMATS, default: 'table', describe: 'Output format', global: true })
    .option('timeout-ms', { type: 'number', default: TIMEOUT_MS_DEFAULT, describe: 'Deadline of each request to the cluster', global: true, coerce: integer('timeout-ms') })
    .command('cluster', 'Cluster state', (y) =>
      y
        .command('info', 'Cluster id, metadata leader, brokers', {}, run(clusterInfo, () => undefined))
        .command('health', 'Exit 1 unless every broker is live and every partition fully replicated', {}, run(clusterHealth, () => undefined))
        .demandCommand(1, 'cluster needs a verb: info or health'),
    )
    .command('topic', 'Topics: create, list, describe, delete, alter-config, add-partitions', (y) =>
      y
        .command(
          'create <name>',
          'Create a topic',
          (c) =>
            c
              .positional('name', { type: 'string', demandOption: true })
              .option('partitions', { alias: 'n', type: 'number', default: 1, coerce: integer('partitions') })
              .option('replication-factor', { alias: 'r', type: 'number', default: 1, coerce: integer('replication-factor') })
              .option('config', { alias: 'c', type: 'string', array: true, default: [] as string[], describe: 'Topic config key=value (repeatable)' })
              .option('if-not-exists', { type: 'boolean', default: false, describe: 'Succeed when the topic already exists' }),
          run(topicCreate, (a) => ({ name: str(a.name), partitions: num(a.partitions), replicationFactor: num(a.replicationFactor), config: strs(a.config), ifNotExists: a.ifNotExists === true })),
        )
        .command('list', 'List topics', (c) => c.option('internal', { type: 'boolean', default: false, describe: 'Include internal topics' }), run(topicList, (a) => ({ internal: a.internal === true })))
        .command(
          'describe <names..>',
          'Partitions, leaders, replicas, ISR and configs',
          (c) => c.positional('names', { type: 'string', array: true, demandOption: true }).option('offsets', { type: 'boolean', default: false, describe: 'Also show log start offsets and high watermarks' }),
          run(topicDescribe, (a) => ({ names: strs(a.names), offsets: a.offsets === true })),
        )
        .command('delete <names..>', 'Delete topics', (c) => c.positional('names', { type: 'string', array: true, demandOption: true }), run(topicDelete, (a) => ({ names: strs(a.names) })))
        .command(
          'alter-config <name>',
          'Set or delete topic configs',
          (c) =>
            c
              .positional('name', { type: 'string', demandOption: true })
              .option('set', { type: 'string', array: true, default: [] as string[], describe: 'key=value (repeatable)' })
              .option('delete', { type: 'string', array: true, default: [] as string[], describe: 'key to reset to its default (repeatable)' }),
          run(topicAlterConfig, (a) => ({ name: str(a.name), set: strs(a.set), delete: strs(a.delete) })),
        )
        .command(
          'add-partitions <name>',
          'Raise the partition count',
          (c) => c.positional('name', { type: 'string', demandOption: true }).option('count', { type: 'number', demandOption: true, describe: 'The new total partition count', coerce: integer('count') }),
          run(topicAddPartitions, (a) => ({ name: str(a.name), count: num(a.count) })),
        )
        .demandCommand(1, 'topic needs a verb: create, list, describe, delete, alter-config or add-partitions'),
    )
    .command(
      'produce <topic>',
      'Produce one record per input line (stdin or --file)',
      (c) =>
        c
          .positional('topic', { type: 'string', demandOption: true })
          .option('file', { alias: 'f', type: 'string', describe: 'Read lines from this file instead of stdin' })
          .option('key-separator', { alias: 'K', type: 'string', describe: 'Split each line at the first separator into key and value (\\t allowed)' })
          .option('header', { alias: 'H', type: 'string', array: true, default: [] as string[], describe: 'Header key=value on every record (repeatable)' })
          .option('acks', { type: 'string', choices: ['0', '1', 'all', '-1'], default: 'all' })
          .option('compression', { alias: 'z', choices: COMPRESSIONS, default: 'none' })
          .option('partition', { type: 'number', describe: 'Send every record to this partition', coerce: integer('partition') })
          .option('linger-ms', { type: 'number', default: 5, coerce: integer('linger-ms') })
          .option('batch-bytes', { type: 'number', default: 65_536, coerce: integer('batch-bytes') })
          .option('in-flight-records-max', { type: 'number', default: 10_000, hidden: true, coerce: integer('in-flight-records-max') }),
      run(produce, (a) => ({
        topic: str(a.topic),
        file: optStr(a.file),
        keySeparator: optStr(a.keySeparator),
        header: strs(a.header),
        acks: str(a.acks),
        compression: a.compression as (typeof COMPRESSIONS)[number],
        partition: optNum(a.partition),
        lingerMs: num(a.lingerMs),
        batchBytes: num(a.batchBytes),
        inFlightRecordsMax: num(a.inFlightRecordsMax),
      })),
    )
    .command(
      'consume <topic>',
      'Print records (until the high watermark seen at start, or --follow)',
      (c) =>
        c
          .positional('topic', { type: 'string', demandOption: true })
          .option('from', { type: 'string', default: 'earliest', describe: 'earliest | latest | <offset> | @<timestamp-ms or ISO time>' })
          .option('partition', { type: 'number', describe: 'Only this partition', coerce: integer('partition') })
          .option('follow', { alias: 'F', type: 'boolean', default: false, describe: 'Keep tailing until Ctrl-C' })
          .option('max-messages', { alias: 'm', type: 'number', describe: 'Stop after this many records', coerce: integer('max-messages') })
          .option('binary', { type: 'boolean', default: false, describe: 'Keys, values and headers as base64' })
          .option('print-key', { type: 'boolean', default: false, describe: 'Table format: print key<separator>value' })
          .option('key-separator', { alias: 'K', type: 'string', default: '\\t', describe: 'Separator for --print-key' })
          .option('fetch-mode', { choices: ['poll', 'stream'] as const, default: 'stream' }),
      run(consume, (a) => ({
        topic: str(a.topic),
        from: str(a.from),
        partition: optNum(a.partition),
        follow: a.follow === true,
        maxMessages: optNum(a.maxMessages),
        binary: a.binary === true,
        printKey: a.printKey === true,
        keySeparator: str(a.keySeparator),
        fetchMode: a.fetchMode as 'poll' | 'stream',
      })),
    )
    .command('bench', 'Load generators: produce, consume, e2e', (y) => {
      const withOptions = (c: Argv) =>
        c
          .option('topic', { alias: 't', type: 'string', default: 'busctl-bench' })
          .option('records', { alias: 'n', type: 'number', describe: `Records to send/read (default ${100_000} unless --duration-ms)`, coerce: integer('records') })
          .option('duration-ms', { alias: 'd', type: 'number', describe: 'Stop after this long', coerce: integer('duration-ms') })
          .option('rate', { type: 'number', default: 0, describe: 'Records per second (0: unthrottled)' })
          .option('record-size', { alias: 's', type: 'number', default: 1024, coerce: integer('record-size') })
          .option('batch-bytes', { type: 'number', default: 1_048_576, coerce: integer('batch-bytes') })
          .option('linger-ms', { type: 'number', default: 5, coerce: integer('linger-ms') })
          .option('acks', { type: 'string', choices: ['0', '1', 'all', '-1'], default: 'all' })
          .option('compression', { alias: 'z', choices: COMPRESSIONS, default: 'none' })
          .option('partitions', { type: 'number', default: 16, describe: 'When creating the topic', coerce: integer('partitions') })
          .option('replication-factor', { type: 'number', default: 3, describe: 'When creating the topic', coerce: integer('replication-factor') })
          .option('in-flight-records-max', { type: 'number', default: 50_000, coerce: integer('in-flight-records-max') })
          .option('progress-interval-ms', { type: 'number', default: 5_000, describe: 'Progress line interval when stderr is not a terminal', coerce: integer('progress-interval-ms') });
      const handler = (mode: BenchMode) =>
        run(bench, (a) => ({
          mode,
          topic: str(a.topic),
          records: optNum(a.records),
          durationMs: optNum(a.durationMs),
          rate: num(a.rate),
          recordSize: num(a.recordSize),
          batchBytes: num(a.batchBytes),
          lingerMs: num(a.lingerMs),
          acks: str(a.acks),
          compression: a.compression as (typeof COMPRESSIONS)[number],
          partitions: num(a.partitions),
          replicationFactor: num(a.replicationFactor),
          inFlightRecordsMax: num(a.inFlightRecordsMax),
          progressIntervalMs: num(a.progressIntervalMs),
        }));
      return y
        .command('produce', 'Produce load; ack latency percentiles', withOptions, handler('produce'))
        .command('consume', 'Read the topic from the start; throughput', withOptions, handler('consume'))
        .command('e2e', 'Produce and consume at once; produce-to-consume latency', withOptions, handler('e2e'))
        .demandCommand(1, 'bench needs a verb: produce, consume or e2e');
    })
    .command('profile', 'Named broker lists (~/.config/streambus/busctl.yaml or $BUSCTL_CONFIG)', (y) =>
      y
        .command('list', 'List profiles', {}, run(profileList, () => undefined))
        .command(
          'set <name>',
          'Create or replace a profile',
          (c) =>
            c
              .positional('name', { type: 'string', demandOption: true })
              .option('profile-brokers', { alias: 'B', type: 'string', demandOption: true, describe: 'host:port,... of the profile' })
              .option('use', { type: 'boolean', default: false, describe: 'Make it the current profile' }),
          run(profileSet, (a) => ({ name: str(a.name), profileBrokers: str(a.profileBrokers), use: a.use === true })),
        )
        .command('use <name>', 'Make a profile the current one', (c) => c.positional('name', { type: 'string', demandOption: true }), run(profileUse, (a) => ({ name: str(a.name) })))
        .command('delete <name>', 'Delete a profile', (c) => c.positional('name', { type: 'string', demandOption: true }), run(profileDelete, (a) => ({ name: str(a.name) })))
        .demandCommand(1, 'profile needs a verb: list, set, use or delete'),
    )
    .command('dev', 'Local development cluster', (y) =>
      y
        .command(
          'up',
          'Run a local 3-broker cluster (ports 9092/9192/9292) until Ctrl-C; extra broker flags after --',
          (c) =>
            c
              .option('broker-count', { type: 'number', describe: 'Brokers (default 3)', coerce: integer('broker-count') })
              .option('base-port', { type: 'number', describe: 'Client port of broker 1 (default 9092)', coerce: integer('base-port') })
              .option('data-dir', { type: 'string', describe: 'Data directory (default <repo>/.streambus/dev)' })
              .option('from-source', { type: 'boolean', default: false, describe: 'Run the broker from TypeScript sources even if built' })
              .parserConfiguration({ 'populate--': true }),
          run(devUp, (a) => ({
            brokerCount: optNum(a.brokerCount),
            basePort: optNum(a.basePort),
            dataDir: optStr(a.dataDir),
            fromSource: a.fromSource === true,
            brokerArgs: strs(a['--']),
          })),
        )
        .demandCommand(1, 'dev needs a verb: up'),
    )
    .completion('completion', 'Print a bash/zsh completion script (source <(busctl completion))')
    .demandCommand(1, 'busctl needs a command')
    .help()
    .alias('help', 'h')
    .version(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      if (error !== undefined) throw error instanceof BusctlError ? error : usageError(error.message);
      // yargs writes some messages over several lines; an error stays one line.
      throw usageError((message ?? 'invalid command line').replace(/:?\s*\n\s*/g, ': '));
    });
}

/** Parses `argv` (without node and the script), runs the command and returns the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const state: RunState = { error: undefined, ctx: undefined };
  try {
    await buildCli(io, state).parseAsync([...argv]);
  } catch (err) {
    state.error ??= err;
  }
  if (state.error !== undefined) {
    const err = state.error;
    const code = exitCodeOf(err);
    const line = describeError(err, state.ctx?.brokersForMessages() ?? []);
    io.stderr(`busctl: ${line}\n${code === ExitCode.usage ? "Run 'busctl --help' (or '<command> --help') for usage.\n" : ''}`);
    return code;
  }
  return state.ctx?.exitCode ?? ExitCode.ok;
}
