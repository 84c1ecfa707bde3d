import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ErrorCode, StreamBusError, TransportError, errorCodeName, isRetriable } from './errors.js';
import { channelOptions, createServer, fromServiceError, grpcStatusOf, toGrpcStatus } from './rpc.js';

// What grpc-js hands a client when a call fails: the status as an Error with metadata.
function asServiceError(status: grpc.StatusObject): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${status.details}`), { ...status, metadata: status.metadata ?? new grpc.Metadata() });
}

describe('domain errors across gRPC status and trailers', () => {
  it('every code, message and leader hint survives the trip', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ERROR_CODES.filter((c) => c !== ErrorCode.NONE)),
        fc.string(),
        fc.option(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { nil: undefined }),
        (code, message, leaderId, leaderEpoch) => {
          const sent = new StreamBusError(code, message, { leaderId, leaderEpoch });
          const status = toGrpcStatus(sent);
          expect(status.code).toBe(grpcStatusOf(code));
          const received = fromServiceError(asServiceError(status));
          expect(received).toBeInstanceOf(StreamBusError);
          expect(received).toMatchObject({ errorCode: code, code: sent.code, retriable: isRetriable(code), leaderId, leaderEpoch });
          expect(received.message).toBe(sent.message);
        },
      ),
    );
  });

  it('maps codes to the gRPC status a generic client expects', () => {
    expect(grpcStatusOf(ErrorCode.INVALID_REQUEST)).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcStatusOf(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)).toBe(grpc.status.NOT_FOUND);
    expect(grpcStatusOf(ErrorCode.TOPIC_ALREADY_EXISTS)).toBe(grpc.status.ALREADY_EXISTS);
    expect(grpcStatusOf(ErrorCode.NOT_LEADER_OR_FOLLOWER)).toBe(grpc.status.UNAVAILABLE);
    expect(grpcStatusOf(ErrorCode.OFFSET_OUT_OF_RANGE)).toBe(grpc.status.FAILED_PRECONDITION);
    expect(grpcStatusOf(ErrorCode.UNKNOWN_SERVER_ERROR)).toBe(grpc.status.INTERNAL);
  });

  it('agrees with the Go table (packages/sdk-go/errors GRPCCode) for every code', () => {
    const go = readFileSync(fileURLToPath(new URL('../../sdk-go/errors/errors.go', import.meta.url)), 'utf8');
    const table = new Map(
      [...go.matchAll(/streambusv1\.ErrorCode_ERROR_CODE_(\w+):\s+codes\.(\w+),/g)].map((m) => [
        m[1]!,
        m[2]!.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(),
      ]),
    );
    expect(table.size).toBeGreaterThan(10);
    for (const code of ERROR_CODES) {
      const goStatus = table.get(errorCodeName(code)) ?? (isRetriable(code) ? 'UNAVAILABLE' : 'FAILED_PRECONDITION');
      expect(grpc.status[grpcStatusOf(code)], errorCodeName(code)).toBe(goStatus);
    }
  });

  it('a status without StreamBus trailers is a TransportError; garbage trailers are ignored', () => {
    const plain = fromServiceError(asServiceError({ code: grpc.status.UNAVAILABLE, details: 'refused', metadata: new grpc.Metadata() }));
    expect(plain).toBeInstanceOf(TransportError);
    expect(plain).toMatchObject({ code: 'UNAVAILABLE', retriable: true });
    const metadata = new grpc.Metadata();
    metadata.set('streambus-error-code', 'not-a-number');
    const garbage = fromServiceError(asServiceError({ code: grpc.status.INTERNAL, details: 'x', metadata }));
    expect(garbage).toBeInstanceOf(TransportError);
  });

  it('non-StreamBus exceptions become UNKNOWN_SERVER_ERROR; TransportErrors keep their status', () => {
    const status = toGrpcStatus(new RangeError('oops'));
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(fromServiceError(asServiceError(status))).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(toGrpcStatus(new TransportError(grpc.status.RESOURCE_EXHAUSTED, 'busy')).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });
});

describe('configuration', () => {
  it('defaults message limits to 100 MiB with keepalive on, and lets raw options override', () => {
    const options = channelOptions();
    expect(options['grpc.max_send_message_length']).toBe(100 * 1024 * 1024);
    expect(options['grpc.max_receive_message_length']).toBe(100 * 1024 * 1024);
    expect(options['grpc.keepalive_time_ms']).toBe(10_000);
    expect(channelOptions({ messageBytesMax: 1024, channelOptions: { 'grpc.keepalive_time_ms': 1 } })).toMatchObject({
      'grpc.max_send_message_length': 1024,
      'grpc.keepalive_time_ms': 1,
    });
  });

  it('rejects a bound that is not a positive integer', () => {
    for (const messageBytesMax of [0, -1, 1.5, Number.NaN]) {
      expect(() => channelOptions({ messageBytesMax })).toThrow(RangeError);
      expect(() => createServer({ messageBytesMax })).toThrow(RangeError);
    }
  });
});
