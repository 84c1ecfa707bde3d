import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ErrorCode, StreamBusError, TransportError, errorCodeName, isKnownErrorCode, isRetriable } from './errors.js';

const repo = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/** ErrorCode values as written in proto/streambus/v1/common.proto: name → number. */
function protoEnum(): Map<string, number> {
  const source = readFileSync(repo('proto/streambus/v1/common.proto'), 'utf8');
  const body = /enum ErrorCode \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  const entries = [...body.matchAll(/^\s*ERROR_CODE_(\w+)\s*=\s*(-?\d+);/gm)].map((m) => [m[1]!, Number(m[2])] as const);
  return new Map(entries);
}

/** The Go table in packages/sdk-go/errors/errors.go: name → { number via proto, retriable }. */
function goTable(): Map<string, { name: string; retriable: boolean }> {
  const source = readFileSync(repo('packages/sdk-go/errors/errors.go'), 'utf8');
  const rows = [...source.matchAll(/\{Code: streambusv1\.ErrorCode_ERROR_CODE_(\w+), Name: "(\w+)", Retriable: (true|false)\}/g)];
  return new Map(rows.map((m) => [m[1]!, { name: m[2]!, retriable: m[3] === 'true' }]));
}

describe('error code tables', () => {
  it('the TypeScript enum is the proto enum, name for name and number for number', () => {
    const proto = protoEnum();
    expect(proto.size).toBeGreaterThan(40);
    expect(ERROR_CODES.length).toBe(proto.size);
    for (const [name, number] of proto) {
      expect(ErrorCode[name as keyof typeof ErrorCode], name).toBe(number);
      expect(errorCodeName(number)).toBe(name);
    }
  });

  it('the Go table lists every proto code once, with the same name and retriable flag', () => {
    const proto = protoEnum();
    const go = goTable();
    expect(go.size).toBe(proto.size);
    for (const [name, number] of proto) {
      const row = go.get(name);
      expect(row, `${name} missing from errors.go`).toBeDefined();
      expect(row?.name).toBe(name);
      expect(row?.retriable, `${name} retriable differs between Go and TypeScript`).toBe(isRetriable(number));
    }
  });

  it('classifies codes as Kafka does', () => {
    expect(isRetriable(ErrorCode.NOT_LEADER_OR_FOLLOWER)).toBe(true);
    expect(isRetriable(ErrorCode.FENCED_LEADER_EPOCH)).toBe(true);
    expect(isRetriable(ErrorCode.NOT_ENOUGH_REPLICAS)).toBe(true);
    expect(isRetriable(ErrorCode.REQUEST_TIMED_OUT)).toBe(true);
    expect(isRetriable(ErrorCode.NONE)).toBe(false);
    expect(isRetriable(ErrorCode.OFFSET_OUT_OF_RANGE)).toBe(false);
    expect(isRetriable(ErrorCode.INVALID_RECORD)).toBe(false);
    expect(isRetriable(ErrorCode.TOPIC_ALREADY_EXISTS)).toBe(false);
    expect(errorCodeName(ErrorCode.UNKNOWN_SERVER_ERROR)).toBe('UNKNOWN_SERVER_ERROR');
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
  });

  it('codes from a newer server are unknown, not retriable, and named stably', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 100_000 }).filter((n) => !isKnownErrorCode(n)),
        (code) => {
          expect(isRetriable(code)).toBe(false);
          expect(errorCodeName(code)).toBe(`UNKNOWN_ERROR_CODE_${code}`);
        },
      ),
    );
  });
});

describe('StreamBusError', () => {
  it('carries the code name, number, retriable flag, leader hint and cause', () => {
    const cause = new Error('disk');
    const err = new StreamBusError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'moved', {
      leaderId: 2,
      leaderEpoch: 9,
      cause,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('StreamBusError');
    expect(err.code).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(err.errorCode).toBe(6);
    expect(err.retriable).toBe(true);
    expect(err.leaderId).toBe(2);
    expect(err.leaderEpoch).toBe(9);
    expect(err.cause).toBe(cause);
    expect(err.message).toBe('NOT_LEADER_OR_FOLLOWER: moved');
  });

  it('round-trips through the Error message for every code', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ERROR_CODES.filter((c) => c !== ErrorCode.NONE)), fc.string(), (code, message) => {
        const back = StreamBusError.fromProto(new StreamBusError(code, message).toProto());
        expect(back?.errorCode).toBe(code);
        expect(back?.message).toBe(`${errorCodeName(code)}: ${message}`);
        expect(back?.retriable).toBe(isRetriable(code));
      }),
    );
  });

  it('an absent or NONE error means success; an unknown code keeps the server retriable flag', () => {
    expect(StreamBusError.fromProto(undefined)).toBeUndefined();
    expect(
      StreamBusError.fromProto({
        code: ErrorCode.NONE,
        message: '',
        retriable: false,
      }),
    ).toBeUndefined();
    const future = StreamBusError.fromProto({ code: 4242 as ErrorCode, message: 'new', retriable: true }, { leaderId: 1, leaderEpoch: 3 });
    expect(future?.retriable).toBe(true);
    expect(future?.code).toBe('UNKNOWN_ERROR_CODE_4242');
    expect(future?.leaderId).toBe(1);
  });
});

describe('TransportError', () => {
  it('names the gRPC status and marks only transient statuses retriable', () => {
    const unavailable = new TransportError(14, 'connection refused');
    expect(unavailable.code).toBe('UNAVAILABLE');
    expect(unavailable.retriable).toBe(true);
    const cancelled = new TransportError(1, 'aborted');
    expect(cancelled.code).toBe('CANCELLED');
    expect(cancelled.retriable).toBe(false);
    expect(new TransportError(4, 'slow').retriable).toBe(true);
    expect(new TransportError(13, 'bug').retriable).toBe(false);
  });
});
