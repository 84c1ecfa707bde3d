// The grpc-js baseline every StreamBus benchmark divides by (PERFORMANCE.md): an echo
// service with identity (Buffer) serializers on loopback, so it measures grpc-js and HTTP/2
// alone, without protobuf or any StreamBus code.
import * as grpc from '@grpc/grpc-js';
import { channelOptions, createServer, listen, shutdown } from './rpc.js';

export interface GrpcEchoBaselineOptions {
  /** Time spent on each of the three measurements (default 1500 ms). */
  durationMs?: number;
  /** Unary calls kept in flight (default 16). */
  unaryConcurrency?: number;
  /** Upper bound on calls (or stream messages) per measurement, whatever the time (default 1,000,000). */
  callsMax?: number;
  /** Progress lines (e.g. to stderr). */
  onProgress?: (line: string) => void;
}

export interface GrpcEchoBaseline {
  /** Echo calls per second with 1 KiB payloads. */
  unary1KiBCallsPerSec: number;
  /** Payload MB/s (1e6 bytes, one direction) of unary echo calls with 1 MiB payloads. */
  unary1MiBMBPerSec: number;
  /** Payload MB/s (one direction) of 1 MiB messages echoed on one bidi stream. */
  bidi1MiBMBPerSec: number;
  unaryConcurrency: number;
  durationMs: number;
}

/** The echo service of grpc-js baselines: raw Buffers in and out (identity serializers). */
export const ECHO_SERVICE = '/streambus.bench.Echo';
const identity = (b: Buffer): Buffer => b;

export function echoDefinition(): grpc.ServiceDefinition {
  const method = (name: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
    path: `${ECHO_SERVICE}/${name}`,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  });
  return { unary: method('Unary', false), bidi: method('Bidi', true) };
}

/** The echo server: a unary call answers its request, a bidi stream writes back each message. */
export const echoImplementation: grpc.UntypedServiceImplementation = {
  unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', (chunk: Buffer) => call.write(chunk));
    call.on('end', () => call.end());
  },
};

/** Starts an in-process echo server on 127.0.0.1 and measures grpc-js throughput against it. */
export async function measureGrpcEchoBaseline(options: GrpcEchoBaselineOptions = {}): Promise<GrpcEchoBaseline> {
  const durationMs = options.durationMs ?? 1_500;
  const unaryConcurrency = options.unaryConcurrency ?? 16;
  const callsMax = options.callsMax ?? 1_000_000;
  const progress = options.onProgress ?? (() => undefined);
  const server = createServer();
  server.addService(echoDefinition(), echoImplementation);
  const port = await listen(server, '127.0.0.1:0');
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions());
  try {
    const small = Buffer.alloc(1024, 1);
    const large = Buffer.alloc(1024 * 1024, 2);
    await unaryLoop(client, small, 1, 200, callsMax); // warm-up: connection, JIT
    const smallCalls = await unaryLoop(client, small, unaryConcurrency, durationMs, callsMax);
    const unary1KiBCallsPerSec = smallCalls.calls / smallCalls.seconds;
    progress(`grpc echo unary 1 KiB: ${unary1KiBCallsPerSec.toFixed(0)} calls/s`);
    const largeCalls = await unaryLoop(client, large, unaryConcurrency, durationMs, callsMax);
    const unary1MiBMBPerSec = (largeCalls.calls * large.length) / largeCalls.seconds / 1e6;
    progress(`grpc echo unary 1 MiB: ${unary1MiBMBPerSec.toFixed(0)} MB/s`);
    const bidi = await bidiLoop(client, large, durationMs, callsMax);
    const bidi1MiBMBPerSec = (bidi.messages * large.length) / bidi.seconds / 1e6;
    progress(`grpc echo bidi 1 MiB: ${bidi1MiBMBPerSec.toFixed(0)} MB/s`);
    return {
      unary1KiBCallsPerSec,
      unary1MiBMBPerSec,
      bidi1MiBMBPerSec,
      unaryConcurrency,
      durationMs,
    };
  } finally {
    client.close();
    await shutdown(server, 1_000);
  }
}

function unaryCall(client: grpc.Client, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(`${ECHO_SERVICE}/Unary`, identity, identity, payload, (err) => (err ? reject(err) : resolve()));
  });
}

async function unaryLoop(
  client: grpc.Client,
  payload: Buffer,
  concurrency: number,
  durationMs: number,
  callsMax: number,
): Promise<{ calls: number; seconds: number }> {
  const started = process.hrtime.bigint();
  const endAt = Date.now() + durationMs;
  let calls = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < endAt && calls < callsMax) {
      await unaryCall(client, payload);
      calls += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { calls, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

// Writes with backpressure while reading the echoes; stops writing at the deadline and
// counts the echoes that came back.
async function bidiLoop(
  client: grpc.Client,
  payload: Buffer,
  durationMs: number,
  messagesMax: number,
): Promise<{ messages: number; seconds: number }> {
  const call = client.makeBidiStreamRequest(`${ECHO_SERVICE}/Bidi`, identity, identity);
  const started = process.hrtime.bigint();
  const endAt = Date.now() + durationMs;
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', () => {
      received += 1;
    });
    call.on('end', resolve);
    call.on('error', reject);
  });
  let sent = 0;
  while (Date.now() < endAt && sent < messagesMax) {
    sent += 1;
    if (!call.write(payload)) await Promise.race([new Promise((resolve) => call.once('drain', resolve)), done]);
  }
  call.end();
  await done;
  return {
    messages: received,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}
