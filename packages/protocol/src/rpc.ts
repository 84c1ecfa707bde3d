// Typed, promise-based gRPC over grpc-js, driven by ts-proto's generic service definitions.
// Generated grpc-js definitions copy every encoded message once more (`Buffer.from(...)`);
// the serializers here hand grpc-js the encoder's own Buffer, and decode straight from the
// frame so `bytes` fields are views of it (record batches are never copied on receive).
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ErrorCode } from './gen/streambus/v1/common.js';
import { StreamBusError, TransportError, errorCodeName, isRetriable } from './errors.js';

/** What ts-proto generates for every message: an encoder and a decoder. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export interface MethodDefinition<Req = unknown, Res = unknown> {
  readonly name: string;
  readonly requestType: MessageCodec<Req>;
  readonly requestStream: boolean;
  readonly responseType: MessageCodec<Res>;
  readonly responseStream: boolean;
}

export interface ServiceDefinition {
  readonly name: string;
  readonly fullName: string;
  readonly methods: { readonly [method: string]: MethodDefinition };
}

export type RequestOf<M> = M extends {
  readonly requestType: MessageCodec<infer T>;
}
  ? T
  : never;
export type ResponseOf<M> = M extends {
  readonly responseType: MessageCodec<infer T>;
}
  ? T
  : never;

/** Requests for a client- or bidi-streaming call, pulled with backpressure. */
export type RequestSource<T> = AsyncIterable<T> | Iterable<T>;

export interface CallOptions {
  /** Cancels the call; it then fails with TransportError('CANCELLED') whose cause is the reason. */
  signal?: AbortSignal;
  /** Relative deadline. With `deadline` too, the earlier one applies. */
  timeoutMs?: number;
  /** Absolute deadline (epoch ms or Date). */
  deadline?: number | Date;
  /** Request metadata (headers). */
  metadata?: grpc.Metadata;
}

export type ClientMethod<M> = M extends {
  readonly requestStream: false;
  readonly responseStream: false;
}
  ? (request: RequestOf<M>, options?: CallOptions) => Promise<ResponseOf<M>>
  : M extends { readonly requestStream: false; readonly responseStream: true }
    ? (request: RequestOf<M>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>
    : M extends { readonly requestStream: true; readonly responseStream: false }
      ? (requests: RequestSource<RequestOf<M>>, options?: CallOptions) => Promise<ResponseOf<M>>
      : (requests: RequestSource<RequestOf<M>>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>;

export type ServiceClient<S extends ServiceDefinition> = {
  readonly [K in keyof S['methods']]: ClientMethod<S['methods'][K]>;
} & {
  /** Closes the channel; calls in flight fail with UNAVAILABLE or CANCELLED. */
  close(): void;
};

export interface CallContext {
  /** Aborted when the client cancels, the deadline passes or the connection drops. */
  readonly signal: AbortSignal;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
  /** The call's deadline (epoch ms), if the client set one. */
  readonly deadline: number | undefined;
}

export type ServerMethod<M> = M extends {
  readonly requestStream: false;
  readonly responseStream: false;
}
  ? (request: RequestOf<M>, context: CallContext) => Promise<ResponseOf<M>>
  : M extends { readonly requestStream: false; readonly responseStream: true }
    ? (request: RequestOf<M>, context: CallContext) => AsyncIterable<ResponseOf<M>>
    : M extends { readonly requestStream: true; readonly responseStream: false }
      ? (requests: AsyncIterable<RequestOf<M>>, context: CallContext) => Promise<ResponseOf<M>>
      : (requests: AsyncIterable<RequestOf<M>>, context: CallContext) => AsyncIterable<ResponseOf<M>>;

export type ServiceImplementation<S extends ServiceDefinition> = {
  readonly [K in keyof S['methods']]: ServerMethod<S['methods'][K]>;
};

// ---------------------------------------------------------------------------------------
// Channel and server configuration

export const MESSAGE_BYTES_MAX_DEFAULT = 100 * 1024 * 1024;

export interface ChannelConfig {
  /** Largest message sent or received, in bytes (default 100 MiB). */
  messageBytesMax?: number;
  /** Ping an idle connection this often, to notice a dead peer (default 10 s). */
  keepaliveTimeMs?: number;
  /** A ping unanswered for this long closes the connection (default 5 s). */
  keepaliveTimeoutMs?: number;
  /** Default: insecure (the cluster network is trusted; TLS is the deployment's job). */
  credentials?: grpc.ChannelCredentials;
  /**
   * HTTP/2 receive window of the connection and of each call (default 8 MiB): how much a
   * server may send before this client has read it. HTTP/2's 64 KiB default turns a multi-MiB
   * fetch response into dozens of round trips of window updates.
   */
  receiveWindowBytes?: number;
  /** Raw grpc-js options, applied last. */
  channelOptions?: grpc.ChannelOptions;
}

const RECEIVE_WINDOW_BYTES_DEFAULT = 8 * 1024 * 1024;

export function channelOptions(config: ChannelConfig = {}): grpc.ChannelOptions {
  const messageBytesMax = config.messageBytesMax ?? MESSAGE_BYTES_MAX_DEFAULT;
  assertPositiveInteger('messageBytesMax', messageBytesMax);
  return {
    'grpc.max_send_message_length': messageBytesMax,
    'grpc.max_receive_message_length': messageBytesMax,
    'grpc.keepalive_time_ms': config.keepaliveTimeMs ?? 10_000,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs ?? 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc-node.flow_control_window': config.receiveWindowBytes ?? RECEIVE_WINDOW_BYTES_DEFAULT,
    ...config.channelOptions,
  };
}

export interface ServerConfig {
  /** Largest message received or sent, in bytes (default 100 MiB). */
  messageBytesMax?: number;
  /** Server pings to find dead clients (default 30 s); client pings are allowed every 5 s. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  serverOptions?: grpc.ServerOptions;
}

export function createServer(config: ServerConfig = {}): grpc.Server {
  const messageBytesMax = config.messageBytesMax ?? MESSAGE_BYTES_MAX_DEFAULT;
  assertPositiveInteger('messageBytesMax', messageBytesMax);
  return new grpc.Server({
    'grpc.max_send_message_length': messageBytesMax,
    'grpc.max_receive_message_length': messageBytesMax,
    'grpc.keepalive_time_ms': config.keepaliveTimeMs ?? 30_000,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs ?? 5_000,
    // Clients ping idle connections every 10 s (channelOptions); allow it.
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    ...config.serverOptions,
  });
}

/** Binds `address` (e.g. '127.0.0.1:0') with insecure credentials and resolves the port. */
export function listen(server: grpc.Server, address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** Graceful shutdown: lets calls finish for up to graceMs, then closes every connection. */
export async function shutdown(server: grpc.Server, graceMs = 5_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

// ---------------------------------------------------------------------------------------
// Serialization

// A decode failure is handed to the handler wrapper as a value: grpc-js would otherwise
// answer INTERNAL with no detail, and bad input deserves INVALID_REQUEST with the reason.
class DecodeFailure {
  constructor(readonly cause: unknown) {}
}

function serializer<T>(codec: MessageCodec<T>): (value: T) => Buffer {
  return (value) => {
    const bytes = codec.encode(value).finish();
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function requestDeserializer<T>(codec: MessageCodec<T>): (bytes: Buffer) => T | DecodeFailure {
  return (bytes) => {
    try {
      return codec.decode(bytes);
    } catch (err) {
      return new DecodeFailure(err);
    }
  };
}

function checkDecoded<T>(value: T | DecodeFailure, method: string): T {
  if (value instanceof DecodeFailure) {
    const reason = value.cause instanceof Error ? value.cause.message : String(value.cause);
    throw new StreamBusError(ErrorCode.INVALID_REQUEST, `${method}: malformed request (${reason})`, { cause: value.cause });
  }
  return value;
}

function responseDeserializer<T>(codec: MessageCodec<T>): (bytes: Buffer) => T {
  return (bytes) => codec.decode(bytes);
}

function pathOf(service: ServiceDefinition, method: MethodDefinition): string {
  return `/${service.fullName}/${method.name}`;
}

// ---------------------------------------------------------------------------------------
// Errors across the wire: a StreamBusError thrown by a handler travels as trailers, so the
// client rebuilds the same domain error; anything else is a transport failure.

const TRAILER_CODE = 'streambus-error-code';
const TRAILER_RETRIABLE = 'streambus-retriable';
const TRAILER_LEADER_ID = 'streambus-leader-id';
const TRAILER_LEADER_EPOCH = 'streambus-leader-epoch';

// The gRPC status a domain code travels under, for clients that read only statuses
// (grpcurl, other languages' generic clients). Codes not listed: UNAVAILABLE when
// retriable, FAILED_PRECONDITION when not.
const GRPC_STATUS_OF: ReadonlyMap<ErrorCode, grpc.status> = new Map([
  ...[
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_TOPIC_EXCEPTION,
    ErrorCode.INVALID_PARTITIONS,
    ErrorCode.INVALID_REPLICATION_FACTOR,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ErrorCode.INVALID_CONFIG,
    ErrorCode.INVALID_REQUIRED_ACKS,
    ErrorCode.INVALID_RECORD,
    ErrorCode.INVALID_TIMESTAMP,
    ErrorCode.CORRUPT_MESSAGE,
    ErrorCode.MESSAGE_TOO_LARGE,
    ErrorCode.RECORD_LIST_TOO_LARGE,
  ].map((code) => [code, grpc.status.INVALID_ARGUMENT] as const),
  ...[ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.RESOURCE_NOT_FOUND].map(
    (code) => [code, grpc.status.NOT_FOUND] as const,
  ),
  [ErrorCode.TOPIC_ALREADY_EXISTS, grpc.status.ALREADY_EXISTS],
  [ErrorCode.THROTTLING_QUOTA_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED],
  [ErrorCode.REQUEST_TIMED_OUT, grpc.status.DEADLINE_EXCEEDED],
  [ErrorCode.UNSUPPORTED_VERSION, grpc.status.UNIMPLEMENTED],
  [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, grpc.status.UNIMPLEMENTED],
  [ErrorCode.UNKNOWN_SERVER_ERROR, grpc.status.INTERNAL],
  [ErrorCode.NONE, grpc.status.INTERNAL],
]);

/** The gRPC status a domain code travels under. */
export function grpcStatusOf(code: ErrorCode): grpc.status {
  return GRPC_STATUS_OF.get(code) ?? (isRetriable(code) ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION);
}

/** Turns anything a handler threw into the status sent to the client. */
export function toGrpcStatus(err: unknown): grpc.StatusObject {
  if (err instanceof TransportError)
    return {
      code: err.grpcStatus,
      details: err.message,
      metadata: new grpc.Metadata(),
    };
  const domain =
    err instanceof StreamBusError
      ? err
      : new StreamBusError(ErrorCode.UNKNOWN_SERVER_ERROR, err instanceof Error ? err.message : String(err), { cause: err });
  const metadata = new grpc.Metadata();
  metadata.set(TRAILER_CODE, String(domain.errorCode));
  metadata.set(TRAILER_RETRIABLE, domain.retriable ? '1' : '0');
  if (domain.leaderId !== undefined) metadata.set(TRAILER_LEADER_ID, String(domain.leaderId));
  if (domain.leaderEpoch !== undefined) metadata.set(TRAILER_LEADER_EPOCH, String(domain.leaderEpoch));
  return {
    code: grpcStatusOf(domain.errorCode),
    details: domain.message,
    metadata,
  };
}

function trailerInt(metadata: grpc.Metadata | undefined, key: string): number | undefined {
  const raw = metadata?.get(key)[0];
  if (typeof raw !== 'string' || !/^-?\d{1,10}$/.test(raw)) return undefined;
  return Number(raw);
}

/** Turns a failed call into a StreamBusError (the server answered a domain error) or a TransportError. */
export function fromServiceError(err: unknown, signal?: AbortSignal): StreamBusError | TransportError {
  if (err instanceof StreamBusError || err instanceof TransportError) return err;
  const serviceError = err as Partial<grpc.ServiceError>;
  const status = typeof serviceError.code === 'number' ? serviceError.code : grpc.status.UNKNOWN;
  if (status === grpc.status.CANCELLED && signal?.aborted) {
    return new TransportError(grpc.status.CANCELLED, 'call aborted by its AbortSignal', { cause: signal.reason });
  }
  const details = serviceError.details ?? (err instanceof Error ? err.message : String(err));
  const code = trailerInt(serviceError.metadata, TRAILER_CODE);
  if (code === undefined) return new TransportError(status, details, { cause: err });
  const prefix = `${errorCodeName(code)}: `;
  return new StreamBusError(code, details.startsWith(prefix) ? details.slice(prefix.length) : details, {
    cause: err,
    retriable: serviceError.metadata?.get(TRAILER_RETRIABLE)[0] === '1',
    leaderId: trailerInt(serviceError.metadata, TRAILER_LEADER_ID),
    leaderEpoch: trailerInt(serviceError.metadata, TRAILER_LEADER_EPOCH),
  });
}

// ---------------------------------------------------------------------------------------
// Client

function grpcCallOptions(options: CallOptions | undefined): grpc.CallOptions {
  if (options === undefined) return {};
  const deadlines: number[] = [];
  if (options.timeoutMs !== undefined) deadlines.push(Date.now() + options.timeoutMs);
  if (options.deadline !== undefined) deadlines.push(options.deadline instanceof Date ? options.deadline.getTime() : options.deadline);
  return deadlines.length > 0 ? { deadline: Math.min(...deadlines) } : {};
}

function abortedError(signal: AbortSignal): TransportError {
  return new TransportError(grpc.status.CANCELLED, 'call aborted by its AbortSignal', { cause: signal.reason });
}

// Cancels `call` when `signal` aborts; returns the function that stops listening.
function linkSignal(signal: AbortSignal | undefined, call: { cancel(): void }): () => void {
  if (signal === undefined) return () => undefined;
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

// Pulls requests with backpressure until the source ends (then half-closes) or the call
// ends. A source that throws fails the call with its own error (reported before the cancel).
async function writeAll<T>(
  call: grpc.ClientWritableStream<T>,
  requests: RequestSource<T>,
  onSourceError: (err: unknown) => void,
): Promise<void> {
  let finished = false;
  const onFinished = (): void => {
    finished = true;
  };
  call.once('status', onFinished);
  call.once('close', onFinished);
  const iterator = Symbol.asyncIterator in requests ? requests[Symbol.asyncIterator]() : requests[Symbol.iterator]();
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (err) {
        onSourceError(err);
        call.cancel();
        return;
      }
      if (next.done === true) break;
      if (finished) {
        await closeQuietly(iterator);
        return;
      }
      if (!call.write(next.value) && !(await drained(call))) {
        await closeQuietly(iterator);
        return;
      }
    }
    if (!finished) call.end();
  } finally {
    call.off('status', onFinished);
    call.off('close', onFinished);
  }
}

async function closeQuietly(iterator: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The call is over either way; a source that fails to close has nobody to tell.
  }
}

// Resolves true on 'drain', false when the call ends first.
function drained(stream: NodeJS.EventEmitter): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => (): void => {
      stream.off('drain', onDrain);
      stream.off('status', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onEnd);
      resolve(ok);
    };
    const onDrain = done(true);
    const onEnd = done(false);
    stream.once('drain', onDrain);
    stream.once('status', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onEnd);
  });
}

async function* readAll<T>(call: grpc.ClientReadableStream<T>, signal: AbortSignal | undefined, unlink: () => void): AsyncGenerator<T> {
  try {
    for await (const response of call.iterator({ destroyOnReturn: false })) yield response as T;
  } catch (err) {
    throw fromServiceError(err, signal);
  } finally {
    unlink();
    // Leaving the loop early (break, throw in the consumer) ends the call; the CANCELLED
    // status that follows has no reader left, so it must not become an uncaught 'error'.
    call.on('error', ignore);
    call.cancel();
  }
}

/** A typed client for one service at one address. */
export function createServiceClient<S extends ServiceDefinition>(
  service: S,
  address: string,
  config: ChannelConfig = {},
): ServiceClient<S> {
  const client = new grpc.Client(address, config.credentials ?? grpc.credentials.createInsecure(), channelOptions(config));
  const methods: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(service.methods)) {
    const path = pathOf(service, method);
    const serialize = serializer(method.requestType);
    const deserialize = responseDeserializer(method.responseType);
    if (!method.requestStream && !method.responseStream) {
      methods[key] = (request: unknown, options?: CallOptions): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const signal = options?.signal;
          if (signal?.aborted) return reject(abortedError(signal));
          const metadata = options?.metadata ?? new grpc.Metadata();
          // Assigned once the call exists; grpc-js may in principle complete it synchronously.
          let unlink = (): void => undefined;
          const call = client.makeUnaryRequest(
            path,
            serialize,
            deserialize,
            request,
            metadata,
            grpcCallOptions(options),
            (err, response) => {
              unlink();
              if (err) reject(fromServiceError(err, signal));
              else resolve(response);
            },
          );
          unlink = linkSignal(signal, call);
        });
    } else if (!method.requestStream && method.responseStream) {
      methods[key] = (request: unknown, options?: CallOptions): AsyncIterable<unknown> => ({
        [Symbol.asyncIterator]: () => {
          const signal = options?.signal;
          if (signal?.aborted) return failingIterator(abortedError(signal));
          const metadata = options?.metadata ?? new grpc.Metadata();
          const call = client.makeServerStreamRequest(path, serialize, deserialize, request, metadata, grpcCallOptions(options));
          return readAll(call, signal, linkSignal(signal, call));
        },
      });
    } else if (method.requestStream && !method.responseStream) {
      methods[key] = (requests: RequestSource<unknown>, options?: CallOptions): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const signal = options?.signal;
          if (signal?.aborted) return reject(abortedError(signal));
          const metadata = options?.metadata ?? new grpc.Metadata();
          let sourceError: Error | undefined;
          let unlink = (): void => undefined;
          const call = client.makeClientStreamRequest(path, serialize, deserialize, metadata, grpcCallOptions(options), (err, response) => {
            unlink();
            if (sourceError !== undefined) reject(sourceError);
            else if (err) reject(fromServiceError(err, signal));
            else resolve(response);
          });
          unlink = linkSignal(signal, call);
          void writeAll(call, requests, (err) => {
            sourceError = asError(err);
          });
        });
    } else {
      methods[key] = (requests: RequestSource<unknown>, options?: CallOptions): AsyncIterable<unknown> => ({
        [Symbol.asyncIterator]: () => {
          const signal = options?.signal;
          if (signal?.aborted) return failingIterator(abortedError(signal));
          const metadata = options?.metadata ?? new grpc.Metadata();
          const call = client.makeBidiStreamRequest(path, serialize, deserialize, metadata, grpcCallOptions(options));
          let sourceError: Error | undefined;
          void writeAll(call, requests, (err) => {
            sourceError = asError(err);
          });
          const responses = readAll(call, signal, linkSignal(signal, call));
          return (async function* () {
            try {
              yield* responses;
            } catch (err) {
              throw sourceError ?? asError(err);
            }
            if (sourceError !== undefined) throw sourceError;
          })();
        },
      });
    }
  }
  methods.close = () => client.close();
  return methods as ServiceClient<S>;
}

function ignore(): void {
  // Deliberately empty: see the callers.
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function failingIterator<T>(err: Error): AsyncIterator<T> {
  return { next: () => Promise.reject(err) };
}

// ---------------------------------------------------------------------------------------
// Server

export interface AddServiceOptions {
  /**
   * Called with every error a handler throws that is not a StreamBusError or
   * TransportError (a bug: it reaches the client as UNKNOWN_SERVER_ERROR). For logging.
   */
  onUnexpectedError?: (err: unknown, method: string) => void;
}

interface ServerCallLike extends NodeJS.EventEmitter {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
  getDeadline(): grpc.Deadline;
}

/**
 * The handler's context; `release()` once the answer is handed to grpc-js, which reports
 * even a completed unary call as 'cancelled' when its stream closes (building an Error with
 * a stack for every call otherwise).
 */
function contextOf(call: ServerCallLike): { context: CallContext; release: () => void } {
  const abort = new AbortController();
  const onCancelled = (): void => abort.abort(new TransportError(grpc.status.CANCELLED, 'call cancelled by the client or its deadline'));
  call.once('cancelled', onCancelled);
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return {
    context: {
      signal: abort.signal,
      metadata: call.metadata,
      peer: call.getPeer(),
      deadline: Number.isFinite(deadlineMs) ? deadlineMs : undefined,
    },
    release: () => void call.off('cancelled', onCancelled),
  };
}

async function* requestsOf<T>(
  call: grpc.ServerReadableStream<T | DecodeFailure, unknown>,
  method: string,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const onAbort = (): void => {
    call.destroy(signal.reason instanceof Error ? signal.reason : undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    // Not destroyOnReturn: a bidi handler that stops reading must still be able to write.
    for await (const request of call.iterator({ destroyOnReturn: false })) yield checkDecoded(request as T | DecodeFailure, method);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function writeResponses<T>(
  call: grpc.ServerWritableStream<unknown, T> | grpc.ServerDuplexStream<unknown, T>,
  responses: AsyncIterable<T>,
  signal: AbortSignal,
): Promise<void> {
  for await (const response of responses) {
    if (signal.aborted) return;
    // Bounded buffering: wait until grpc-js (and HTTP/2 flow control) took the last one.
    if (!call.write(response)) {
      try {
        await once(call, 'drain', { signal });
      } catch {
        return;
      }
    }
  }
  call.end();
}

/** Registers `implementation` for `service` on a grpc-js server. */
export function addService<S extends ServiceDefinition>(
  server: grpc.Server,
  service: S,
  implementation: ServiceImplementation<S>,
  options: AddServiceOptions = {},
): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  const impl = implementation as unknown as Record<string, (input: unknown, context: CallContext) => unknown>;
  for (const [key, method] of Object.entries(service.methods)) {
    const name = `${service.name}.${method.name}`;
    const handler = impl[key];
    if (typeof handler !== 'function') throw new TypeError(`${name}: no handler`);
    definition[key] = {
      path: pathOf(service, method),
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: serializer(method.requestType),
      requestDeserialize: requestDeserializer(method.requestType),
      responseSerialize: serializer(method.responseType),
      responseDeserialize: responseDeserializer(method.responseType),
      originalName: key,
    };
    const fail = (err: unknown): grpc.StatusObject => {
      if (!(err instanceof StreamBusError) && !(err instanceof TransportError)) options.onUnexpectedError?.(err, name);
      return toGrpcStatus(err);
    };
    /** Runs a single-answer handler and answers once, dropping the call's 'cancelled' listener first. */
    const answerOnce = (run: () => unknown, release: () => void, callback: grpc.sendUnaryData<unknown>): void => {
      Promise.resolve()
        .then(run)
        .then(
          (response) => {
            release();
            callback(null, response);
          },
          (err: unknown) => {
            release();
            callback(fail(err));
          },
        );
    };
    if (!method.requestStream && !method.responseStream) {
      handlers[key] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { context, release } = contextOf(call);
        answerOnce(() => handler(checkDecoded(call.request, name), context), release, callback);
      }) as grpc.handleUnaryCall<unknown, unknown>;
    } else if (!method.requestStream && method.responseStream) {
      handlers[key] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        const { context } = contextOf(call);
        Promise.resolve()
          .then(() => writeResponses(call, handler(checkDecoded(call.request, name), context) as AsyncIterable<unknown>, context.signal))
          .catch((err: unknown) => call.emit('error', fail(err)));
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
    } else if (method.requestStream && !method.responseStream) {
      handlers[key] = ((call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const { context, release } = contextOf(call);
        answerOnce(() => handler(requestsOf(call, name, context.signal), context), release, callback);
      }) as grpc.handleClientStreamingCall<unknown, unknown>;
    } else {
      handlers[key] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const { context } = contextOf(call);
        Promise.resolve()
          .then(() =>
            writeResponses(
              call,
              handler(
                requestsOf(call as grpc.ServerReadableStream<unknown, unknown>, name, context.signal),
                context,
              ) as AsyncIterable<unknown>,
              context.signal,
            ),
          )
          .catch((err: unknown) => call.emit('error', fail(err)));
      }) as grpc.handleBidiStreamingCall<unknown, unknown>;
    }
  }
  server.addService(definition, handlers);
}
