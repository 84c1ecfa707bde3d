import { type Server } from '@grpc/grpc-js';
import { splitBatches } from '@streambus/record';
import { type Logger } from 'pino';
import {
  addRaftTransportService,
  addReplicaFetcherService,
  addStreamBusService,
  createServer,
  ErrorCode,
  listen,
  shutdown,
  StreamBusError,
  type FetchPartition,
  type FetchStreamRequest,
  type FetchStreamResponse,
  type ProduceStreamRequest,
  type ProduceStreamResponse,
  type ReplicaFetcherImplementation,
  type StreamBusImplementation,
} from '@streambus/protocol';
import { type BrokerContext, type RpcComponent } from '../broker.js';
import { type MetadataNode } from '../cluster/metadata-node.js';
import { type Admin } from './admin.js';
import { type DataPlane } from './data-plane.js';

/** Pushes of one FetchStream wait at most this long for data before re-checking. */
const STREAM_IDLE_WAIT_MS = 1_000;
/** In-flight calls get this long to finish on a graceful stop. */
const SHUTDOWN_GRACE_MS = 5_000;
/**
 * The peer listener's grace. Other brokers' Raft transport streams into it never end on
 * their own, so waiting the full client grace made every graceful stop take 5 s; replica
 * fetches cut short here are retried by the follower.
 */
const PEER_SHUTDOWN_GRACE_MS = 500;

/**
 * The broker's two gRPC listeners: the client listener (StreamBus service: produce, fetch,
 * metadata, admin) and the peer listener (Raft transport and replica fetch). Every call is
 * timed into streambus_request_duration_seconds by API.
 */
export class RpcServer implements RpcComponent {
  readonly name = 'rpc';
  private clientServer: Server | undefined;
  private peerServer: Server | undefined;
  private ports = { client: 0, peer: 0 };
  private readonly logger: Logger;
  private draining = false;
  private readonly streams = new Set<AbortController>();

  constructor(
    private readonly ctx: BrokerContext,
    private readonly metadata: MetadataNode,
    private readonly data: DataPlane,
    private readonly admin: Admin,
    private readonly replicaFetcher: () => ReplicaFetcherImplementation['replicaFetch'] | undefined,
  ) {
    this.logger = ctx.logger.child({ component: 'rpc' });
  }

  boundPorts(): { readonly client: number; readonly peer: number } {
    return this.ports;
  }

  async start(): Promise<void> {
    const { config } = this.ctx;
    const serverConfig = { messageBytesMax: config.limits.requestBytesMax };
    this.peerServer = createServer(serverConfig);
    addRaftTransportService(this.peerServer, {
      send: (requests) => this.metadata.raftTransport.receive(requests),
      forward: (req) => this.metadata.handleForward(req),
    });
    addReplicaFetcherService(this.peerServer, {
      replicaFetch: async (req, context) => {
        const handler = this.replicaFetcher();
        if (handler === undefined) throw new StreamBusError(ErrorCode.BROKER_NOT_AVAILABLE, 'replication is not running on this broker');
        return handler(req, context);
      },
    });
    this.ports.peer = await listen(this.peerServer, `${config.listeners.peer.host}:${config.listeners.peer.port}`);
    this.clientServer = createServer(serverConfig);
    addStreamBusService(this.clientServer, this.clientService());
    this.ports.client = await listen(this.clientServer, `${config.listeners.client.host}:${config.listeners.client.port}`);
    this.logger.info({ clientPort: this.ports.client, peerPort: this.ports.peer }, 'listening');
  }

  async drain(signal: AbortSignal): Promise<void> {
    this.draining = true;
    for (const s of this.streams) s.abort();
    if (this.clientServer !== undefined) await shutdown(this.clientServer, signal.aborted ? 0 : SHUTDOWN_GRACE_MS);
  }

  async stop(signal: AbortSignal): Promise<void> {
    if (this.clientServer !== undefined && !this.draining) await shutdown(this.clientServer, signal.aborted ? 0 : SHUTDOWN_GRACE_MS);
    if (this.peerServer !== undefined) await shutdown(this.peerServer, signal.aborted ? 0 : PEER_SHUTDOWN_GRACE_MS);
  }

  private timed<A extends unknown[], R>(api: string, fn: (...args: A) => Promise<R> | R): (...args: A) => Promise<R> {
    const histogram = this.ctx.metrics.requestDuration;
    return async (...args: A) => {
      const started = performance.now();
      try {
        return await fn(...args);
      } finally {
        histogram.observe({ api }, (performance.now() - started) / 1000);
      }
    };
  }

  private clientService(): StreamBusImplementation {
    return {
      metadata: this.timed('Metadata', (req) => this.admin.metadataView(req)),
      produce: this.timed('Produce', (req) => this.data.produce(req)),
      produceStream: (requests, context) => this.produceStream(requests, context.signal),
      fetch: this.timed('Fetch', (req, context) => this.data.fetch(req, context.signal)),
      fetchStream: (req, context) => this.fetchStream(req, context.signal),
      listOffsets: this.timed('ListOffsets', (req) => this.data.listOffsets(req)),
      createTopics: this.timed('CreateTopics', (req) => this.admin.createTopics(req)),
      deleteTopics: this.timed('DeleteTopics', (req) => this.admin.deleteTopics(req)),
      describeTopics: this.timed('DescribeTopics', (req) => this.admin.describeTopics(req)),
      createPartitions: this.timed('CreatePartitions', (req) => this.admin.createPartitions(req)),
      describeConfigs: this.timed('DescribeConfigs', (req) => this.admin.describeConfigs(req)),
      alterConfigs: this.timed('AlterConfigs', (req) => this.admin.alterConfigs(req)),
      describeCluster: this.timed('DescribeCluster', (req) => this.admin.describeCluster(req)),
    };
  }

  /**
   * Pipelined produce: requests are handled concurrently and each answer carries its
   * correlation id; answers for one partition keep their order because appends to one
   * partition are serialized by storage in arrival order.
   */
  private async *produceStream(requests: AsyncIterable<ProduceStreamRequest>, signal: AbortSignal): AsyncGenerator<ProduceStreamResponse> {
    const ready: ProduceStreamResponse[] = [];
    let wake: (() => void) | undefined;
    let inFlight = 0;
    let inputDone = false;
    const push = (r: ProduceStreamResponse): void => {
      ready.push(r);
      wake?.();
    };
    const pump = (async () => {
      for await (const r of requests) {
        if (signal.aborted) break;
        inFlight += 1;
        const started = performance.now();
        const work = r.request === undefined ? Promise.reject(new StreamBusError(ErrorCode.INVALID_REQUEST, 'ProduceStreamRequest without a request')) : this.data.produce(r.request);
        void work
          .then((response) => push({ correlationId: r.correlationId, response }))
          .catch((err: unknown) => push({ correlationId: r.correlationId, error: (err instanceof StreamBusError ? err : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, String(err))).toProto() }))
          .finally(() => {
            inFlight -= 1;
            this.ctx.metrics.requestDuration.observe({ api: 'ProduceStream' }, (performance.now() - started) / 1000);
            wake?.();
          });
      }
    })().finally(() => {
      inputDone = true;
      wake?.();
    });
    try {
      while (!signal.aborted) {
        while (ready.length > 0) yield ready.shift() as ProduceStreamResponse;
        if (inputDone && inFlight === 0) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      await pump.catch(() => undefined);
    }
  }

  /**
   * Server-pushed fetch: keeps a position per partition, pushes whatever arrives below the
   * high watermark (bounded by max_bytes), waits for appends in between. A partition that
   * errs is reported once and dropped from the subscription.
   */
  private async *fetchStream(req: FetchStreamRequest, signal: AbortSignal): AsyncGenerator<FetchStreamResponse> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.streams.add(controller);
    let subs: FetchPartition[] = req.partitions.map((p) => ({ ...p }));
    const waitMs = Math.max(1, Math.min(req.maxWaitMs > 0 ? req.maxWaitMs : STREAM_IDLE_WAIT_MS, STREAM_IDLE_WAIT_MS));
    try {
      while (!controller.signal.aborted && subs.length > 0) {
        const answer = await this.data.fetchOnce(subs, req.maxBytes);
        const changed = answer.partitions.filter((p) => p.errorCode !== ErrorCode.NONE || p.records.length > 0);
        if (changed.length > 0) {
          const failed = new Set(changed.filter((p) => p.errorCode !== ErrorCode.NONE).map((p) => `${p.topic}\u0000${p.partition}`));
          for (const p of changed) {
            const sub = subs.find((s) => s.topic === p.topic && s.partition === p.partition);
            if (sub !== undefined && p.records.length > 0) sub.fetchOffset = nextOffsetOf(p.records, sub.fetchOffset);
          }
          subs = subs.filter((s) => !failed.has(`${s.topic}\u0000${s.partition}`));
          this.ctx.metrics.requestDuration.observe({ api: 'FetchStream' }, 0);
          yield { partitions: changed, throttleTimeMs: 0 };
          continue;
        }
        await this.data.waitForAny(subs, waitMs, controller.signal);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.streams.delete(controller);
    }
  }
}

/** The offset after the last batch in a concatenation of whole batches. */
function nextOffsetOf(records: Buffer, fallback: number): number {
  let next = fallback;
  for (const view of splitBatches(records)) next = view.nextOffset;
  return next;
}
