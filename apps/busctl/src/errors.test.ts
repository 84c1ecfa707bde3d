import { ClientError, ErrorCode, StreamBusError, TransportError } from '@streambus/client';
import { describe, expect, it } from 'vitest';
import { BusctlError, ExitCode, describeError, exitCodeOf, usageError } from './errors.js';

describe('describeError', () => {
  const brokers = ['127.0.0.1:1', '127.0.0.1:2'];

  it('turns unreachable brokers into a hint naming the list and how to change it', () => {
    for (const err of [new ClientError('NO_BROKER_AVAILABLE', 'no broker answered'), new TransportError(14, 'connect ECONNREFUSED'), new TransportError(4, 'deadline')]) {
      const line = describeError(err, brokers);
      expect(line).toContain('cannot reach the StreamBus cluster at 127.0.0.1:1,127.0.0.1:2');
      expect(line).toContain('--brokers');
      expect(line).not.toContain('\n');
    }
  });

  it('names an unknown topic and keeps the stable code last', () => {
    const line = describeError(new StreamBusError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'describe topic orders: no such topic'), brokers);
    expect(line).toBe("topic 'orders' does not exist ('busctl topic list' shows the topics) [UNKNOWN_TOPIC_OR_PARTITION]");
    expect(describeError(new StreamBusError(ErrorCode.TOPIC_ALREADY_EXISTS, 'create topic x: exists'), brokers)).toBe('create topic x: exists [TOPIC_ALREADY_EXISTS]');
  });

  it('keeps one line whatever the error', () => {
    expect(describeError(new Error('first\n    at stack'), brokers)).toBe('first');
    expect(describeError('plain', brokers)).toBe('plain');
    expect(describeError(new ClientError('INVALID_ARGUMENT', 'bad'), brokers)).toBe('bad [INVALID_ARGUMENT]');
  });
});

describe('exit codes', () => {
  it('are 2 for usage errors and 1 for every other failure', () => {
    expect(exitCodeOf(usageError('x'))).toBe(ExitCode.usage);
    expect(exitCodeOf(new BusctlError('INPUT', 'x'))).toBe(ExitCode.failure);
    expect(exitCodeOf(new Error('x'))).toBe(ExitCode.failure);
    const err = new BusctlError('CONFIG', 'x', { cause: new Error('inner') });
    expect(err.retriable).toBe(false);
    expect((err.cause as Error).message).toBe('inner');
  });
});
