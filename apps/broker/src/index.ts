export {
  Broker,
  type BrokerAddresses,
  type BrokerComponent,
  type BrokerContext,
  type BrokerOptions,
  type BrokerServices,
  type BrokerState,
  type MetadataComponent,
  type RpcComponent,
  type ServicesFactory,
} from './broker.js';
export { runBroker, type RunOptions } from './cli.js';
export {
  CLEANUP_POLICIES,
  COMPRESSION_TYPES,
  defaultConfig,
  envNameOf,
  FLUSH_MODES,
  loadConfig,
  LOG_LEVELS,
  OPTIONS,
  type BrokerConfig,
  type CleanupPolicy,
  type CompressionType,
  type ConfigIo,
  type FlushMode,
  type HostPort,
  type LoadResult,
  type LogLevel,
  type OptionSpec,
  type Voter,
} from './config.js';
export { openDataDir, type DataDir, type DataDirOptions } from './datadir.js';
export { ConfigError, DataDirError, ExitCode, LifecycleError, type ConfigErrorCode, type DataDirErrorCode, type LifecycleErrorCode } from './errors.js';
export { OpsHttpServer, type OpsHttpOptions, type Readiness } from './http.js';
export { Lifecycle, nodeProcess, type LifecycleOptions, type ProcessSeam, type StopHook } from './lifecycle.js';
export { componentLogger, createRootLogger, partitionLogger, type Logger, type LoggerOptions, type PartitionLogFields } from './log.js';
export {
  Counter,
  createBrokerMetrics,
  Gauge,
  Histogram,
  LATENCY_BUCKETS_SECONDS,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
  RuntimeMetrics,
  type BrokerMetrics,
  type CounterChild,
  type GaugeChild,
  type HistogramChild,
} from './metrics.js';
export { BROKER_NODE_FLAGS } from './node-flags.js';
export { BROKER_VERSION } from './version.js';
