import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, StreamBusError, TransportError } from './errors.js';
import {
  type FetchPartitionResponse,
  type ForwardResponse,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ReplicaFetchResponse,
  type SendRequest,
} from './gen/index.js';
import { createServer, listen, shutdown } from './rpc.js';
import {
  type StreamBusClient,
  type StreamBusImplementation,
  addRaftTransportService,
  addReplicaFetcherService,
  addStreamBusService,
  createClient,
  createRaftTransportClient,
  createReplicaFetcherClient,
} from './services.js';

// A tiny broker: produce echoes the records' length as base offsets, fetch streams a fixed
// number of pushes, a topic named 'moved' answers NOT_LEADER_OR_FOLLOWER, 'slow' waits
// for cancellation, 'boom' throws a plain Error.
const notImplemented = async (): Promise<never> => {
  throw new StreamBusError(ErrorCode.UNSUPPORTED_VERSION, 'not in this test server');
};

const seen = {
  recordsAreBuffers: [] as boolean[],
  cancelledSignals: 0,
  unexpected: [] as string[],
  fetchStreamPushes: 0,
  fetchStreamsAborted: 0,
  raftMessages: [] as string[],
};

// Server-side effects of a cancel arrive asynchronously; poll for them (bounded: 5 s).
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
}

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => {
      seen.cancelledSignals += 1;
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    });
  });
}

function producePartitions(request: ProduceRequest): ProducePartitionResponse[] {
  return request.partitions.map((p) => {
    seen.recordsAreBuffers.push(Buffer.isBuffer(p.records));
    const moved = p.topic === 'moved';
    return {
      topic: p.topic,
      partition: p.partition,
      errorCode: moved ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE,
      errorMessage: '',
      baseOffset: moved ? -1 : p.records.length,
      logStartOffset: 0,
      currentLeader: moved ? { leaderId: 2, leaderEpoch: 5 } : undefined,
      recordErrors: [],
    };
  });
}

const implementation: StreamBusImplementation = {
  metadata: notImplemented,
  produce: async (request, context) => {
    const topic = request.partitions[0]?.topic;
    if (topic === 'slow') return waitForAbort(context.signal);
    if (topic === 'boom') throw new Error('bug in handler');
    if (topic === 'fenced')
      throw new StreamBusError(ErrorCode.FENCED_LEADER_EPOCH, 'epoch 3 < 4', {
        leaderId: 1,
        leaderEpoch: 4,
      });
    if (topic === 'unavailable') throw new TransportError(grpc.status.UNAVAILABLE, 'shutting down');
    return { partitions: producePartitions(request), throttleTimeMs: 0 };
  },
  produceStream: async function* (requests) {
    for await (const { correlationId, request } of requests) {
      if (request === undefined) {
        yield {
          correlationId,
          error: new StreamBusError(ErrorCode.INVALID_REQUEST, 'no request').toProto(),
        };
        continue;
      }
      yield {
        correlationId,
        response: { partitions: producePartitions(request), throttleTimeMs: 0 },
      };
    }
  },
  fetch: notImplemented,
  fetchStream: async function* (request, context) {
    const partition = request.partitions[0];
    if (partition === undefined) throw new StreamBusError(ErrorCode.INVALID_REQUEST, 'no partitions');
    const pushes = partition.topic === 'endless' ? 1_000 : 3;
    try {
      for (let i = 0; i < pushes && !context.signal.aborted; i += 1) {
        seen.fetchStreamPushes += 1;
        if (partition.topic === 'failing' && i === 1) throw new StreamBusError(ErrorCode.KAFKA_STORAGE_ERROR, 'disk gone');
        const response: FetchPartitionResponse = {
          topic: partition.topic,
          partition: partition.partition,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          highWatermark: partition.fetchOffset + i + 1,
          lastStableOffset: partition.fetchOffset + i + 1,
          logStartOffset: 0,
          records: Buffer.alloc(request.maxBytes, i),
        };
        yield { partitions: [response], throttleTimeMs: 0 };
        if (partition.topic === 'endless') await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      if (context.signal.aborted) seen.fetchStreamsAborted += 1;
    }
  },
  listOffsets: notImplemented,
  createTopics: notImplemented,
  deleteTopics: notImplemented,
  describeTopics: notImplemented,
  createPartitions: notImplemented,
  describeConfigs: notImplemented,
  alterConfigs: notImplemented,
  describeCluster: notImplemented,
};

let server: grpc.Server;
let address: string;
let client: StreamBusClient;

beforeAll(async () => {
  server = createServer();
  addStreamBusService(server, implementation, {
    onUnexpectedError: (err, method) => seen.unexpected.push(`${method}: ${String(err)}`),
  });
  addRaftTransportService(server, {
    send: async (requests: AsyncIterable<SendRequest>) => {
      let received = 0;
      for await (const request of requests) {
        if (request.toNodeId !== 7) throw new TransportError(grpc.status.FAILED_PRECONDITION, `not node ${request.toNodeId}`);
        for (const m of request.messages) seen.raftMessages.push(m.toString());
        received += request.messages.length;
      }
      return { messagesReceived: received };
    },
    forward: async (request): Promise<ForwardResponse> => ({
      result: Buffer.from(`applied:${request.command.toString()}`),
      error: undefined,
      leaderId: 7,
      leaderTerm: 12,
    }),
  });
  addReplicaFetcherService(server, {
    replicaFetch: async (request): Promise<ReplicaFetchResponse> => ({
      partitions: request.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        highWatermark: 10,
        logStartOffset: 0,
        logEndOffset: 10,
        divergingEpoch: p.lastFetchedEpoch === 3 ? { epoch: 2, endOffset: 8 } : undefined,
        records: Buffer.alloc(0),
      })),
    }),
  });
  const port = await listen(server, '127.0.0.1:0');
  address = `127.0.0.1:${port}`;
  client = createClient(address);
});

afterAll(async () => {
  client.close();
  await shutdown(server, 1_000);
});

const produce = (topic: string, records = Buffer.from('batch')): ProduceRequest => ({
  acks: -1,
  timeoutMs: 1_000,
  partitions: [{ topic, partition: 0, records }],
});

describe('unary calls', () => {
  it('round-trip a Produce with Buffer records and per-partition results', async () => {
    const response = await client.produce({
      acks: 1,
      timeoutMs: 1_000,
      partitions: [
        { topic: 'orders', partition: 0, records: Buffer.alloc(1000, 1) },
        {
          topic: 'moved',
          partition: 1,
          currentLeaderEpoch: 4,
          records: Buffer.alloc(10),
        },
      ],
    });
    expect(response.partitions.map((p) => [p.topic, p.errorCode, p.baseOffset])).toEqual([
      ['orders', ErrorCode.NONE, 1000],
      ['moved', ErrorCode.NOT_LEADER_OR_FOLLOWER, -1],
    ]);
    expect(response.partitions[1]?.currentLeader).toEqual({
      leaderId: 2,
      leaderEpoch: 5,
    });
    expect(seen.recordsAreBuffers.length).toBeGreaterThan(0);
    expect(seen.recordsAreBuffers.every(Boolean)).toBe(true);
  });

  it('carry large messages (8 MiB) under the 100 MiB default limit', async () => {
    const response = await client.produce(produce('orders', Buffer.alloc(8 * 1024 * 1024, 3)));
    expect(response.partitions[0]?.baseOffset).toBe(8 * 1024 * 1024);
  });

  it('serve the internal services: ReplicaFetch with a diverging epoch, Raft Forward', async () => {
    const replica = createReplicaFetcherClient(address);
    const raft = createRaftTransportClient(address);
    try {
      const fetched = await replica.replicaFetch({
        replicaId: 2,
        brokerEpoch: 100,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        clusterId: 'c1',
        partitions: [
          {
            topic: 't',
            partition: 0,
            fetchOffset: 9,
            lastFetchedEpoch: 3,
            currentLeaderEpoch: 4,
            logStartOffset: 0,
            partitionMaxBytes: 1 << 20,
          },
        ],
      });
      expect(fetched.partitions[0]?.divergingEpoch).toEqual({
        epoch: 2,
        endOffset: 8,
      });
      const forwarded = await raft.forward({
        clusterId: 'c1',
        fromBrokerId: 3,
        command: Buffer.from('create-topic'),
        timeoutMs: 1000,
      });
      expect(forwarded.result.toString()).toBe('applied:create-topic');
      expect(forwarded.leaderId).toBe(7);
    } finally {
      replica.close();
      raft.close();
    }
  });
});

describe('streams', () => {
  it('bidi ProduceStream pipelines requests matched by correlation id', async () => {
    async function* requests() {
      for (let i = 0; i < 20; i += 1)
        yield {
          correlationId: i,
          request: produce('orders', Buffer.alloc(i + 1)),
        };
      yield { correlationId: 99, request: undefined };
    }
    const responses = [];
    for await (const response of client.produceStream(requests())) responses.push(response);
    expect(responses.map((r) => r.correlationId)).toEqual([...Array.from({ length: 20 }, (_, i) => i), 99]);
    expect(responses.slice(0, 20).map((r) => r.response?.partitions[0]?.baseOffset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(responses[20]?.error?.code).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('server-stream FetchStream pushes batches as Buffers until the server ends', async () => {
    const pushes = [];
    for await (const push of client.fetchStream({
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 4096,
      isolationLevel: 0,
      partitions: [
        {
          topic: 'orders',
          partition: 2,
          fetchOffset: 10,
          partitionMaxBytes: 4096,
        },
      ],
    })) {
      pushes.push(push);
    }
    expect(pushes.map((p) => p.partitions[0]?.highWatermark)).toEqual([11, 12, 13]);
    expect(pushes.every((p) => Buffer.isBuffer(p.partitions[0]?.records) && p.partitions[0]?.records.length === 4096)).toBe(true);
  });

  it('leaving a server stream early cancels it on the server', async () => {
    const abortedBefore = seen.fetchStreamsAborted;
    const pushesBefore = seen.fetchStreamPushes;
    let received = 0;
    for await (const _push of client.fetchStream({
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 16,
      isolationLevel: 0,
      partitions: [
        {
          topic: 'endless',
          partition: 0,
          fetchOffset: 0,
          partitionMaxBytes: 16,
        },
      ],
    })) {
      received += 1;
      if (received === 2) break;
    }
    await until(() => seen.fetchStreamsAborted > abortedBefore);
    expect(received).toBe(2);
    // The handler stopped long before its 1,000 pushes.
    expect(seen.fetchStreamPushes - pushesBefore).toBeLessThan(50);
    expect(seen.fetchStreamsAborted).toBe(abortedBefore + 1);
  });

  it('an error thrown mid-stream reaches the client as the same StreamBusError', async () => {
    const pushes: unknown[] = [];
    const consume = async (): Promise<void> => {
      for await (const push of client.fetchStream({
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 8,
        isolationLevel: 0,
        partitions: [
          {
            topic: 'failing',
            partition: 0,
            fetchOffset: 0,
            partitionMaxBytes: 8,
          },
        ],
      })) {
        pushes.push(push);
      }
    };
    const err = await consume().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pushes).toHaveLength(1);
    expect(err).toBeInstanceOf(StreamBusError);
    expect((err as StreamBusError).code).toBe('KAFKA_STORAGE_ERROR');
    expect((err as StreamBusError).retriable).toBe(true);
  });

  it('client-streaming Raft Send delivers batches in order and returns a summary', async () => {
    const raft = createRaftTransportClient(address);
    try {
      const batches: SendRequest[] = [0, 1, 2].map((b) => ({
        clusterId: 'c1',
        fromNodeId: 1,
        toNodeId: 7,
        messages: [Buffer.from(`m${b}a`), Buffer.from(`m${b}b`)],
      }));
      seen.raftMessages.length = 0;
      const summary = await raft.send(batches);
      expect(summary.messagesReceived).toBe(6);
      expect(seen.raftMessages).toEqual(['m0a', 'm0b', 'm1a', 'm1b', 'm2a', 'm2b']);
      const wrongNode = raft.send([{ clusterId: 'c1', fromNodeId: 1, toNodeId: 8, messages: [] }]);
      await expect(wrongNode).rejects.toMatchObject({
        name: 'TransportError',
        code: 'FAILED_PRECONDITION',
      });
    } finally {
      raft.close();
    }
  });

  it('a request source that throws fails the call with its own error', async () => {
    const raft = createRaftTransportClient(address);
    try {
      async function* failing(): AsyncGenerator<SendRequest> {
        yield { clusterId: 'c1', fromNodeId: 1, toNodeId: 7, messages: [] };
        throw new Error('source broke');
      }
      await expect(raft.send(failing())).rejects.toThrow('source broke');
    } finally {
      raft.close();
    }
  });
});

describe('deadlines, cancellation and errors', () => {
  it('a deadline fails the call with DEADLINE_EXCEEDED and aborts the handler signal', async () => {
    const before = seen.cancelledSignals;
    const err = await client.produce(produce('slow'), { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('DEADLINE_EXCEEDED');
    expect((err as TransportError).retriable).toBe(true);
    await until(() => seen.cancelledSignals > before);
    expect(seen.cancelledSignals).toBeGreaterThan(before);
  });

  it('an absolute deadline works like a timeout', async () => {
    const err = await client.produce(produce('slow'), { deadline: new Date(Date.now() + 50) }).catch((e: unknown) => e);
    expect((err as TransportError).code).toBe('DEADLINE_EXCEEDED');
  });

  it('an AbortSignal cancels the call; the error is CANCELLED with the reason as cause', async () => {
    const controller = new AbortController();
    const call = client.produce(produce('slow'), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 30);
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('CANCELLED');
    expect(((err as TransportError).cause as Error).message).toBe('user gave up');
  });

  it('an already aborted signal fails at once, for unary and streaming calls', async () => {
    const signal = AbortSignal.abort(new Error('before start'));
    await expect(client.produce(produce('orders'), { signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    const stream = client.fetchStream(
      {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1,
        isolationLevel: 0,
        partitions: [
          {
            topic: 'orders',
            partition: 0,
            fetchOffset: 0,
            partitionMaxBytes: 1,
          },
        ],
      },
      { signal },
    );
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      code: 'CANCELLED',
    });
  });

  it('a StreamBusError thrown by a handler arrives with its code, retriable flag and leader hint', async () => {
    const err = await client.produce(produce('fenced')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamBusError);
    expect(err).toMatchObject({
      code: 'FENCED_LEADER_EPOCH',
      errorCode: 74,
      retriable: true,
      leaderId: 1,
      leaderEpoch: 4,
    });
    expect((err as StreamBusError).message).toBe('FENCED_LEADER_EPOCH: epoch 3 < 4');
  });

  it('an unexpected handler error becomes UNKNOWN_SERVER_ERROR and is reported to the server', async () => {
    const err = await client.produce(produce('boom')).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'StreamBusError',
      code: 'UNKNOWN_SERVER_ERROR',
      retriable: false,
    });
    expect(seen.unexpected.some((line) => line.includes('StreamBus.Produce') && line.includes('bug in handler'))).toBe(true);
  });

  it('a TransportError thrown by a handler travels as its gRPC status', async () => {
    await expect(client.produce(produce('unavailable'))).rejects.toMatchObject({
      name: 'TransportError',
      code: 'UNAVAILABLE',
      retriable: true,
    });
  });

  it('an unimplemented method answers a typed error, not a crash', async () => {
    await expect(client.metadata({ topics: [] })).rejects.toMatchObject({
      code: 'UNSUPPORTED_VERSION',
    });
  });

  it('a malformed request gets INVALID_REQUEST, and the server keeps serving', async () => {
    const raw = new grpc.Client(address, grpc.credentials.createInsecure());
    const garbage = Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 0x01]); // field 3, length 2^32-1, 1 byte
    const err = await new Promise<unknown>((resolve) => {
      raw.makeUnaryRequest(
        '/streambus.v1.StreamBus/Produce',
        (b: Buffer) => b,
        (b: Buffer) => b,
        garbage,
        (e) => resolve(e),
      );
    });
    raw.close();
    expect(err).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((err as grpc.ServiceError).metadata.get('streambus-error-code')).toEqual([String(ErrorCode.INVALID_REQUEST)]);
    const ok = await client.produce(produce('orders'));
    expect(ok.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  it('a message over messageBytesMax fails with RESOURCE_EXHAUSTED, not a crash', async () => {
    const small = createClient(address, { messageBytesMax: 1024 });
    try {
      await expect(small.produce(produce('orders', Buffer.alloc(4096)))).rejects.toMatchObject({
        name: 'TransportError',
        code: 'RESOURCE_EXHAUSTED',
      });
    } finally {
      small.close();
    }
  });

  it('an unreachable broker is a retriable UNAVAILABLE', async () => {
    const probe = createServer();
    const port = await listen(probe, '127.0.0.1:0');
    await shutdown(probe, 100);
    const dead = createClient(`127.0.0.1:${port}`);
    try {
      await expect(dead.produce(produce('orders'), { timeoutMs: 2_000 })).rejects.toMatchObject({
        name: 'TransportError',
        retriable: true,
      });
    } finally {
      dead.close();
    }
  });
});
