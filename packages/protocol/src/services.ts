// The three StreamBus services with their typed clients and server registration.
import type * as grpc from '@grpc/grpc-js';
import { StreamBusDefinition } from './gen/streambus/v1/client.js';
import { RaftTransportDefinition } from './gen/streambus/v1/raft.js';
import { ReplicaFetcherDefinition } from './gen/streambus/v1/replica.js';
import {
  type AddServiceOptions,
  type ChannelConfig,
  type ServiceClient,
  type ServiceImplementation,
  addService,
  createServiceClient,
} from './rpc.js';

export { StreamBusDefinition, RaftTransportDefinition, ReplicaFetcherDefinition };

/** The client-facing service: produce, fetch, offsets, topic and config admin. */
export type StreamBusClient = ServiceClient<typeof StreamBusDefinition>;
export type StreamBusImplementation = ServiceImplementation<typeof StreamBusDefinition>;

/** Raft traffic between brokers (opaque message bytes) and command forwarding. */
export type RaftTransportClient = ServiceClient<typeof RaftTransportDefinition>;
export type RaftTransportImplementation = ServiceImplementation<typeof RaftTransportDefinition>;

/** Follower → leader replication. */
export type ReplicaFetcherClient = ServiceClient<typeof ReplicaFetcherDefinition>;
export type ReplicaFetcherImplementation = ServiceImplementation<typeof ReplicaFetcherDefinition>;

/**
 * A StreamBus client for one broker ('host:port'). Unary calls return promises, server
 * streams async iterables, client/bidi streams take an (async) iterable of requests.
 * Every call takes `{ signal, timeoutMs, deadline, metadata }`.
 */
export function createClient(address: string, config?: ChannelConfig): StreamBusClient {
  return createServiceClient(StreamBusDefinition, address, config);
}

export function createRaftTransportClient(address: string, config?: ChannelConfig): RaftTransportClient {
  return createServiceClient(RaftTransportDefinition, address, config);
}

export function createReplicaFetcherClient(address: string, config?: ChannelConfig): ReplicaFetcherClient {
  return createServiceClient(ReplicaFetcherDefinition, address, config);
}

/** Serves `implementation` (async handlers) as the StreamBus service on `server`. */
export function addStreamBusService(server: grpc.Server, implementation: StreamBusImplementation, options?: AddServiceOptions): void {
  addService(server, StreamBusDefinition, implementation, options);
}

export function addRaftTransportService(
  server: grpc.Server,
  implementation: RaftTransportImplementation,
  options?: AddServiceOptions,
): void {
  addService(server, RaftTransportDefinition, implementation, options);
}

export function addReplicaFetcherService(
  server: grpc.Server,
  implementation: ReplicaFetcherImplementation,
  options?: AddServiceOptions,
): void {
  addService(server, ReplicaFetcherDefinition, implementation, options);
}
