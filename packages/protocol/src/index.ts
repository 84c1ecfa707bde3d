// @streambus/protocol: the wire types generated from proto/ and typed gRPC helpers.

// Every message and enum of proto/streambus/v1 (generated list; `Error` is `ErrorProto`).
export * from './gen/index.js';

export {
  ERROR_CODES,
  ErrorCode,
  StreamBusError,
  TransportError,
  errorCodeName,
  isKnownErrorCode,
  isRetriable,
  isStreamBusError,
  isTransportError,
  type ErrorCodeName,
  type StreamBusErrorOptions,
  type TransportErrorCode,
} from './errors.js';

export {
  MESSAGE_BYTES_MAX_DEFAULT,
  addService,
  channelOptions,
  createServer,
  createServiceClient,
  fromServiceError,
  grpcStatusOf,
  listen,
  shutdown,
  toGrpcStatus,
  type AddServiceOptions,
  type CallContext,
  type CallOptions,
  type ChannelConfig,
  type ClientMethod,
  type MessageCodec,
  type MethodDefinition,
  type RequestOf,
  type RequestSource,
  type ResponseOf,
  type ServerConfig,
  type ServerMethod,
  type ServiceClient,
  type ServiceDefinition,
  type ServiceImplementation,
} from './rpc.js';

export {
  RaftTransportDefinition,
  ReplicaFetcherDefinition,
  StreamBusDefinition,
  addRaftTransportService,
  addReplicaFetcherService,
  addStreamBusService,
  createClient,
  createRaftTransportClient,
  createReplicaFetcherClient,
  type RaftTransportClient,
  type RaftTransportImplementation,
  type ReplicaFetcherClient,
  type ReplicaFetcherImplementation,
  type StreamBusClient,
  type StreamBusImplementation,
} from './services.js';

export { ECHO_SERVICE, echoDefinition, echoImplementation, measureGrpcEchoBaseline, type GrpcEchoBaseline, type GrpcEchoBaselineOptions } from './baseline.js';
