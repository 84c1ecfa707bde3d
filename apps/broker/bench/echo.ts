// The same-run baseline of the data-path benchmark: a grpc-js echo server in its own process
// (echo-server.ts), driven with the message sizes the broker sees. Payload MB/s counts one
// direction only, like @streambus/protocol's measureGrpcEchoBaseline.
import * as grpc from '@grpc/grpc-js';
import { channelOptions, ECHO_SERVICE } from '@streambus/protocol';
import { startProcess, type ProcessHandle } from '@streambus/testkit';
import { mbPerSecond } from './util.js';

const identity = (b: Buffer): Buffer => b;
/** Bound on the echo server's start (tsx compiles it first). */
const ECHO_START_TIMEOUT_MS = 20_000;

export interface EchoResult {
  readonly messages: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
}

export interface EchoServer {
  readonly address: string;
  readonly process: ProcessHandle;
}

export async function startEchoServer(benchDir: string): Promise<EchoServer> {
  const handle = await startProcess({
    command: process.execPath,
    args: ['--conditions=@streambus/source', '--import', 'tsx', `${benchDir}/echo-server.ts`],
    cwd: benchDir,
    readyLine: /"msg":"echo started"/,
    readyTimeoutMs: ECHO_START_TIMEOUT_MS,
    name: 'echo-server',
  });
  const line = handle.stdout.find((l) => l.includes('"msg":"echo started"')) ?? '{}';
  const port = (JSON.parse(line) as { port?: number }).port;
  if (port === undefined) throw new Error(`echo server printed no port: ${handle.output()}`);
  return { address: `127.0.0.1:${port}`, process: handle };
}

export function echoClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions());
}

function unaryCall(client: grpc.Client, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(`${ECHO_SERVICE}/Unary`, identity, identity, payload, (err) => (err ? reject(err) : resolve()));
  });
}

/** `concurrency` callers, each with one call in flight, until the deadline or `bytesMax`. */
export async function unaryEcho(client: grpc.Client, payload: Buffer, concurrency: number, durationMs: number, bytesMax: number): Promise<EchoResult> {
  const started = performance.now();
  const endAt = started + durationMs;
  let messages = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt && messages * payload.length < bytesMax) {
      await unaryCall(client, payload);
      messages += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { messages, seconds, mbPerSecond: mbPerSecond(messages * payload.length, seconds) };
}

/**
 * One bidi stream, written with grpc-js backpressure only (no application window: the
 * fastest grpc-js can echo), until the deadline or `bytesMax`; counts the echoes back.
 */
export async function bidiEcho(client: grpc.Client, payload: Buffer, durationMs: number, bytesMax: number): Promise<EchoResult> {
  const call = client.makeBidiStreamRequest(`${ECHO_SERVICE}/Bidi`, identity, identity);
  const started = performance.now();
  const endAt = started + durationMs;
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', () => {
      received += 1;
    });
    call.on('end', resolve);
    call.on('error', reject);
  });
  let sent = 0;
  while (performance.now() < endAt && sent * payload.length < bytesMax) {
    sent += 1;
    if (!call.write(payload)) await Promise.race([new Promise((resolve) => call.once('drain', resolve)), done]);
  }
  call.end();
  await done;
  const seconds = (performance.now() - started) / 1000;
  return { messages: received, seconds, mbPerSecond: mbPerSecond(received * payload.length, seconds) };
}
