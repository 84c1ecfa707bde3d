import { pino, type DestinationStream, type Logger } from 'pino';
import { type LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly brokerId: number;
  readonly level: LogLevel;
  /** Where JSON lines go; defaults to stdout, written synchronously. */
  readonly destination?: DestinationStream;
}

/**
 * The root logger of a broker process: one JSON object per line with `brokerId` on every
 * line. Writes are synchronous so the last lines before a crash or exit are never lost;
 * the broker logs state changes, not records, so the cost stays off the hot path.
 */
export function createRootLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level,
      base: { brokerId: options.brokerId },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      // Level names instead of numbers: log pipelines and humans both read them.
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

export interface PartitionLogFields {
  readonly topic: string;
  readonly partition: number;
  readonly leaderEpoch: number;
}

/** A child logger for one partition replica; recreate it when the leader epoch changes. */
export function partitionLogger(parent: Logger, fields: PartitionLogFields): Logger {
  return parent.child({ topic: fields.topic, partition: fields.partition, leaderEpoch: fields.leaderEpoch });
}

/** A child logger for one broker component (raft, storage, rpc, http, lifecycle). */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}
