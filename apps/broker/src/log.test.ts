import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { componentLogger, createRootLogger, partitionLogger } from './log.js';
import { BROKER_VERSION } from './version.js';

function capture(level: 'info' | 'warn' = 'info'): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createRootLogger> } {
  const lines: Record<string, unknown>[] = [];
  const logger = createRootLogger({ brokerId: 9, level, destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { lines, logger };
}

describe('logging', () => {
  it('writes one JSON object per line with brokerId, a level name and an ISO time', () => {
    const { lines, logger } = capture();
    logger.info({ extra: 1 }, 'hello');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', brokerId: 9, extra: 1, msg: 'hello' });
    expect(new Date(String(lines[0]?.time)).toISOString()).toBe(lines[0]?.time);
  });

  it('partition loggers carry topic, partition and leader epoch', () => {
    const { lines, logger } = capture();
    partitionLogger(componentLogger(logger, 'replication'), { topic: 'orders', partition: 3, leaderEpoch: 12 }).warn('isr shrink');
    expect(lines[0]).toMatchObject({ brokerId: 9, component: 'replication', topic: 'orders', partition: 3, leaderEpoch: 12, level: 'warn' });
  });

  it('drops lines below the configured level', () => {
    const { lines, logger } = capture('warn');
    logger.info('quiet');
    logger.error('loud');
    expect(lines.map((l) => l.msg)).toEqual(['loud']);
  });

  it('serializes errors with their code', () => {
    const { lines, logger } = capture();
    logger.error({ err: Object.assign(new Error('disk full'), { code: 'ENOSPC' }) }, 'flush failed');
    expect(lines[0]?.err).toMatchObject({ message: 'disk full', code: 'ENOSPC', type: 'Error' });
  });
});

describe('version', () => {
  it('matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(BROKER_VERSION).toBe(pkg.version);
  });
});
