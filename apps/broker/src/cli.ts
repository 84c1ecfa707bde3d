import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Broker, type ServicesFactory } from './broker.js';
import { loadConfig, type BrokerConfig } from './config.js';
import { ConfigError, DataDirError, ExitCode } from './errors.js';
import { Lifecycle, nodeProcess, type ProcessSeam } from './lifecycle.js';
import { createRootLogger } from './log.js';
import { BROKER_NODE_FLAGS, missingNodeFlags } from './node-flags.js';
import { BROKER_VERSION } from './version.js';

export interface RunOptions {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The data path; omitted until it is wired in. */
  readonly services?: ServicesFactory;
  readonly process?: ProcessSeam;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

/**
 * The broker process: parse config (exit 2 on bad config), log, lock the data dir, start,
 * and hand signals to the lifecycle. Resolves once the broker runs (the process then lives
 * on its servers) or after it has called exit.
 */
export async function runBroker(options: RunOptions): Promise<void> {
  const proc = options.process ?? nodeProcess;
  const stdout = options.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  const startedAt = performance.now();

  let config: BrokerConfig;
  let warnings: readonly string[];
  try {
    const result = loadConfig(options.argv, options.env, { readFile: (path) => readFileSync(path, 'utf8'), hostname });
    if (result.action === 'help') {
      stdout(result.text);
      proc.exit(ExitCode.ok);
      return;
    }
    if (result.action === 'version') {
      stdout(`${BROKER_VERSION}\n`);
      proc.exit(ExitCode.ok);
      return;
    }
    ({ config, warnings } = result);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // No logger yet (the log level is config): plain text on stderr, one problem per line.
    stderr(`streambus-broker: invalid configuration (${error.code}):\n  ${error.problems.join('\n  ')}\nRun with --help to list options.\n`);
    proc.exit(ExitCode.badConfig);
    return;
  }

  const logger = createRootLogger({ brokerId: config.brokerId, level: config.logLevel });
  for (const warning of warnings) logger.warn(warning);
  const lifecycle = new Lifecycle({ logger, shutdownTimeoutMs: config.shutdownTimeoutMs, process: proc });
  const broker = new Broker({ config, logger, ...(options.services === undefined ? {} : { services: options.services }) });
  lifecycle.addStopHook('broker', (signal) => broker.stop(signal));
  lifecycle.install();

  try {
    const addresses = await broker.start();
    const voter = config.bootstrapVoters.some((v) => v.id === config.brokerId);
    logger.info(
      {
        version: BROKER_VERSION,
        clusterId: config.clusterId,
        pid: process.pid,
        dataDir: config.dataDir,
        http: addresses.http,
        client: addresses.client,
        peer: addresses.peer,
        advertised: config.advertised,
        raftRole: voter ? 'voter' : 'learner',
        bootstrapVoters: config.bootstrapVoters.map((v) => `${v.id}@${v.host}:${v.port}`).join(','),
        readiness: broker.readiness(),
        startupMs: Math.round(performance.now() - startedAt),
      },
      'broker started',
    );
    const missing = missingNodeFlags(process.execArgv);
    if (missing.length > 0) logger.warn({ missing, recommended: BROKER_NODE_FLAGS }, `node started without ${missing.join(' ')}: expect about a third more CPU per MB under load (docs/operations/running.md)`);
  } catch (error) {
    if (lifecycle.isStopping) return; // a signal arrived during start; the lifecycle exits
    const code = error instanceof DataDirError ? ExitCode.dataDirUnusable : ExitCode.failure;
    logger.fatal({ err: error, code: (error as { code?: unknown }).code }, error instanceof Error ? error.message : 'broker start failed');
    lifecycle.uninstall();
    proc.exit(code);
  }
}
