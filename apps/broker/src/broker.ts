import { type Logger } from 'pino';
import { type BrokerConfig } from './config.js';
import { openDataDir, type DataDir } from './datadir.js';
import { LifecycleError } from './errors.js';
import { OpsHttpServer, type Readiness } from './http.js';
import { componentLogger } from './log.js';
import { createBrokerMetrics, MetricsRegistry, RuntimeMetrics, type BrokerMetrics } from './metrics.js';
import { BROKER_VERSION } from './version.js';

/**
 * The seam where the data path plugs in. `Broker` owns the process shell (data dir lock,
 * metrics, health endpoints, start/stop order); the data path supplies components through
 * a `ServicesFactory`, called once the data dir is locked.
 */
export interface BrokerContext {
  readonly config: BrokerConfig;
  /** Root logger (base field brokerId); derive per-component and per-partition children. */
  readonly logger: Logger;
  readonly registry: MetricsRegistry;
  readonly metrics: BrokerMetrics;
  /** Absolute path of the locked data dir; storage and Raft keep their files under it. */
  readonly dataDir: string;
}

export interface BrokerComponent {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Finishes accepted work, persists what must survive, releases resources. When `signal`
   * aborts, the shutdown budget is spent: stop waiting and return.
   */
  stop(signal: AbortSignal): Promise<void>;
}

/** Raft module plus the metadata state machine. */
export interface MetadataComponent extends BrokerComponent {
  /** Ready once the broker has applied the committed metadata log and is registered. */
  readiness(): Readiness;
}

/** The gRPC server for the client and peer listeners. */
export interface RpcComponent extends BrokerComponent {
  /** Stops accepting connections and calls; resolves when in-flight calls have finished. */
  drain(signal: AbortSignal): Promise<void>;
  /** Ports actually bound (they differ from the config with port 0). */
  boundPorts(): { readonly client: number; readonly peer: number };
}

/**
 * Components of the data path. Start order: storage, metadata, replication, rpc. Stop order
 * is the reverse, after the rpc drain: stop accepting, finish in-flight, stop fetchers,
 * leave Raft cleanly, flush storage last.
 */
export interface BrokerServices {
  readonly storage?: BrokerComponent;
  readonly metadata?: MetadataComponent;
  readonly replication?: BrokerComponent;
  readonly rpc?: RpcComponent;
}

export type ServicesFactory = (context: BrokerContext) => BrokerServices | Promise<BrokerServices>;

export interface BrokerOptions {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  /** Omitted until the data path exists; the broker then serves ops endpoints only. */
  readonly services?: ServicesFactory;
  /** Supply one to share with code created before the broker. */
  readonly registry?: MetricsRegistry;
}

export interface BrokerAddresses {
  readonly http: { readonly host: string; readonly port: number };
  /** null until an rpc component serves them. */
  readonly client: { readonly host: string; readonly port: number } | null;
  readonly peer: { readonly host: string; readonly port: number } | null;
}

export type BrokerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

const START_ORDER = ['storage', 'metadata', 'replication', 'rpc'] as const;

export class Broker {
  readonly registry: MetricsRegistry;
  readonly metrics: BrokerMetrics;
  private readonly logger: Logger;
  private readonly runtime: RuntimeMetrics;
  private readonly http: OpsHttpServer;
  private state: BrokerState = 'created';
  private services: BrokerServices = {};
  private started: BrokerComponent[] = [];
  private dataDir: DataDir | undefined;
  private starting: Promise<BrokerAddresses> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: BrokerOptions) {
    const { config } = options;
    this.logger = options.logger;
    this.registry = options.registry ?? new MetricsRegistry({ labelSetsMax: config.limits.metricLabelSetsMax });
    this.metrics = createBrokerMetrics(this.registry, { brokerId: config.brokerId, clusterId: config.clusterId, rack: config.rack, version: BROKER_VERSION });
    this.runtime = new RuntimeMetrics(this.registry);
    this.registry.addCollector(() => this.metrics.ready.set(this.readiness().ready ? 1 : 0));
    this.http = new OpsHttpServer({
      host: config.listeners.http.host,
      port: config.listeners.http.port,
      registry: this.registry,
      readiness: () => this.readiness(),
      logger: componentLogger(this.logger, 'http'),
    });
  }

  get currentState(): BrokerState {
    return this.state;
  }

  /**
   * What /readyz answers. Truthful by construction: without a metadata component there is
   * no cluster metadata, so the broker cannot serve and says so.
   */
  readiness(): Readiness {
    switch (this.state) {
      case 'created':
      case 'starting':
        return { ready: false, reason: 'starting' };
      case 'stopping':
      case 'stopped':
        return { ready: false, reason: 'shutting down' };
      case 'failed':
        return { ready: false, reason: 'start failed' };
      case 'running':
        break;
    }
    const { metadata, rpc } = this.services;
    if (metadata === undefined) return { ready: false, reason: 'metadata not available' };
    const metadataReadiness = metadata.readiness();
    if (!metadataReadiness.ready) return metadataReadiness;
    if (rpc === undefined) return { ready: false, reason: 'client listener not serving' };
    return { ready: true };
  }

  /**
   * Locks the data dir, opens the ops HTTP server (so /healthz answers while Raft catches
   * up), then starts the data path in order. On failure, whatever started is stopped again
   * and the lock released before the error is thrown.
   */
  start(): Promise<BrokerAddresses> {
    if (this.state !== 'created') throw new LifecycleError('INVALID_STATE', `cannot start a broker that is ${this.state}`, false);
    this.state = 'starting';
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<BrokerAddresses> {
    const { config } = this.options;
    try {
      this.dataDir = openDataDir({ dataDir: config.dataDir, brokerId: config.brokerId, clusterId: config.clusterId });
      this.runtime.start();
      const httpPort = await this.http.listen();
      const context: BrokerContext = { config, logger: this.logger, registry: this.registry, metrics: this.metrics, dataDir: this.dataDir.path };
      this.services = this.options.services === undefined ? {} : await this.options.services(context);
      for (const name of START_ORDER) {
        const component = this.services[name];
        if (component === undefined) continue;
        const startedAt = performance.now();
        await component.start();
        this.started.push(component);
        this.logger.info({ component: component.name, durationMs: Math.round(performance.now() - startedAt) }, 'component started');
      }
      this.state = 'running';
      const ports = this.services.rpc?.boundPorts();
      return {
        http: { host: config.listeners.http.host, port: httpPort },
        client: ports === undefined ? null : { host: config.listeners.client.host, port: ports.client },
        peer: ports === undefined ? null : { host: config.listeners.peer.host, port: ports.peer },
      };
    } catch (error) {
      this.state = 'failed';
      await this.teardown(AbortSignal.timeout(config.shutdownTimeoutMs)).catch((teardownError: unknown) => {
        this.logger.error({ err: teardownError }, 'cleanup after failed start also failed');
      });
      if (error instanceof Error && 'code' in error) throw error;
      throw new LifecycleError('START_FAILED', `broker start failed: ${error instanceof Error ? error.message : String(error)}`, false, { cause: error });
    }
  }

  /**
   * Graceful stop: /readyz turns 503 at once; then stop accepting and finish in-flight
   * requests, stop replication, leave Raft, flush storage, close the ops server and release
   * the data dir. Every step runs even if an earlier one failed; the first failure is
   * rethrown at the end. Safe to call more than once and during start.
   */
  stop(signal: AbortSignal = new AbortController().signal): Promise<void> {
    this.stopping ??= this.doStop(signal);
    return this.stopping;
  }

  private async doStop(signal: AbortSignal): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined);
    if (this.state === 'failed' || this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    try {
      await this.teardown(signal);
    } finally {
      this.state = 'stopped';
    }
  }

  private async teardown(signal: AbortSignal): Promise<void> {
    const failures: unknown[] = [];
    const step = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
      const startedAt = performance.now();
      try {
        await fn();
        this.logger.info({ step: name, durationMs: Math.round(performance.now() - startedAt) }, 'stop step done');
      } catch (error) {
        failures.push(error);
        this.logger.error({ step: name, err: error }, 'stop step failed');
      }
    };
    const rpc = this.services.rpc;
    if (rpc !== undefined && this.started.includes(rpc)) await step('rpc drain', () => rpc.drain(signal));
    for (const component of [...this.started].reverse()) await step(`${component.name} stop`, () => component.stop(signal));
    this.started = [];
    await step('ops http close', () => this.http.close());
    this.runtime.stop();
    await step('data dir unlock', () => this.dataDir?.release());
    if (failures.length > 0) {
      throw new LifecycleError('STOP_HOOK_FAILED', `${failures.length} stop step(s) failed`, false, { cause: failures[0] });
    }
  }
}
