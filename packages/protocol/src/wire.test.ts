// The wire contract between TypeScript and Go: this test encodes a message with the
// tricky parts (negative enum, optional fields, int64 at the safe limit, nested Error and
// LeaderHint) and compares it with a golden file that the Go test in
// packages/sdk-go/errors decodes field by field. STREAMBUS_UPDATE_GOLDEN=1 rewrites it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { ProduceStreamResponse } from './gen/index.js';

const golden = fileURLToPath(new URL('../../sdk-go/errors/testdata/produce_stream_response.binpb', import.meta.url));

const message: ProduceStreamResponse = {
  correlationId: Number.MAX_SAFE_INTEGER,
  response: {
    throttleTimeMs: 7,
    partitions: [
      {
        topic: 'orders',
        partition: 3,
        errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
        errorMessage: 'moved',
        baseOffset: -1,
        logAppendTimeMs: undefined,
        logStartOffset: 42,
        currentLeader: { leaderId: 2, leaderEpoch: 5 },
        recordErrors: [],
      },
      {
        topic: 'orders',
        partition: 4,
        errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
        errorMessage: '',
        baseOffset: 1_000_000_000_000,
        logAppendTimeMs: 1_700_000_000_000,
        logStartOffset: 0,
        currentLeader: undefined,
        recordErrors: [{ batchIndex: 1, message: 'bad crc' }],
      },
    ],
  },
  error: { code: ErrorCode.NOT_ENOUGH_REPLICAS, message: 'isr 1 < 2', retriable: true },
};

describe('wire compatibility with Go', () => {
  it('encodes the golden ProduceStreamResponse byte for byte and decodes it back', () => {
    const bytes = Buffer.from(ProduceStreamResponse.encode(message).finish());
    if (process.env.STREAMBUS_UPDATE_GOLDEN === '1') writeFileSync(golden, bytes);
    expect(existsSync(golden), `${golden} is missing: run with STREAMBUS_UPDATE_GOLDEN=1`).toBe(true);
    const expected = readFileSync(golden);
    expect(bytes.equals(expected)).toBe(true);
    expect(ProduceStreamResponse.decode(expected)).toEqual(message);
  });
});
