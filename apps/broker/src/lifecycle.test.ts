import { describe, expect, it } from 'vitest';
import { ExitCode } from './errors.js';
import { Lifecycle, type ProcessSeam } from './lifecycle.js';
import { createRootLogger } from './log.js';

interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

function capture(): { logger: ReturnType<typeof createRootLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createRootLogger({ brokerId: 1, level: 'info', destination: { write: (s: string) => lines.push(JSON.parse(s) as LogLine) } });
  return { logger, lines };
}

class FakeProcess implements ProcessSeam {
  readonly exits: number[] = [];
  private readonly signals = new Map<string, () => void>();
  private fatal: ((kind: 'uncaughtException' | 'unhandledRejection', error: unknown) => void) | undefined;

  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): () => void {
    this.signals.set(signal, handler);
    return () => this.signals.delete(signal);
  }
  onFatal(handler: (kind: 'uncaughtException' | 'unhandledRejection', error: unknown) => void): () => void {
    this.fatal = handler;
    return () => (this.fatal = undefined);
  }
  exit(code: ExitCode): void {
    this.exits.push(code);
  }
  send(signal: 'SIGTERM' | 'SIGINT'): void {
    const handler = this.signals.get(signal);
    if (handler === undefined) throw new Error(`no handler for ${signal}`);
    handler();
  }
  crash(kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
    if (this.fatal === undefined) throw new Error('no fatal handler');
    this.fatal(kind, error);
  }
  get handlerCount(): number {
    return this.signals.size + (this.fatal === undefined ? 0 : 1);
  }
}

function setup(shutdownTimeoutMs = 5_000): { lifecycle: Lifecycle; proc: FakeProcess; lines: LogLine[] } {
  const { logger, lines } = capture();
  const proc = new FakeProcess();
  const lifecycle = new Lifecycle({ logger, shutdownTimeoutMs, process: proc });
  lifecycle.install();
  return { lifecycle, proc, lines };
}

describe('graceful stop', () => {
  it('runs stop hooks in order on SIGTERM and exits 0', async () => {
    const { lifecycle, proc } = setup();
    const order: string[] = [];
    lifecycle.addStopHook('drain', async () => void order.push('drain'));
    lifecycle.addStopHook('flush', async () => void order.push('flush'));
    proc.send('SIGTERM');
    await expect(lifecycle.shutdown('again')).resolves.toBe(ExitCode.ok);
    expect(order).toEqual(['drain', 'flush']);
    expect(proc.exits).toEqual([ExitCode.ok]);
  });

  it('keeps running later hooks when one fails, then exits 1', async () => {
    const { lifecycle, proc, lines } = setup();
    const order: string[] = [];
    lifecycle.addStopHook('drain', async () => {
      order.push('drain');
      throw new Error('drain broke');
    });
    lifecycle.addStopHook('flush', async () => void order.push('flush'));
    await expect(lifecycle.shutdown('test')).resolves.toBe(ExitCode.failure);
    expect(order).toEqual(['drain', 'flush']);
    expect(proc.exits).toEqual([ExitCode.failure]);
    expect(lines.some((l) => l.level === 'error' && l.hook === 'drain')).toBe(true);
  });

  it('treats a hook that throws synchronously as a failed step', async () => {
    const { lifecycle, proc } = setup();
    let laterHookRan = false;
    lifecycle.addStopHook('sync-throw', () => {
      throw new Error('not even a promise');
    });
    lifecycle.addStopHook('later', async () => void (laterHookRan = true));
    await expect(lifecycle.shutdown('test')).resolves.toBe(ExitCode.failure);
    expect(laterHookRan).toBe(true);
    expect(proc.exits).toEqual([ExitCode.failure]);
  });

  it('exits 1 when the hooks exceed the shutdown budget, aborting the running hook', async () => {
    const { lifecycle, proc } = setup(50);
    let aborted = false;
    let laterHookRan = false;
    lifecycle.addStopHook('stuck', (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise<void>(() => undefined);
    });
    lifecycle.addStopHook('later', async () => void (laterHookRan = true));
    await expect(lifecycle.shutdown('test')).resolves.toBe(ExitCode.failure);
    expect(aborted).toBe(true);
    expect(laterHookRan).toBe(false);
    expect(proc.exits).toEqual([ExitCode.failure]);
  });

  it('forces exit 1 on a second signal during the stop', async () => {
    const { lifecycle, proc } = setup();
    let release: () => void = () => undefined;
    lifecycle.addStopHook('slow', () => new Promise<void>((resolve) => (release = resolve)));
    proc.send('SIGTERM');
    proc.send('SIGINT');
    expect(proc.exits).toEqual([ExitCode.failure]);
    release();
    await lifecycle.shutdown('drain');
  });

  it('refuses new hooks once stopping', async () => {
    const { lifecycle } = setup();
    const stopping = lifecycle.shutdown('test');
    expect(() => lifecycle.addStopHook('late', async () => undefined)).toThrow(/already stopping/);
    await stopping;
  });
});

describe('crash policy', () => {
  it('logs an uncaught exception as fatal and exits 1 without running stop hooks', () => {
    const { lifecycle, proc, lines } = setup();
    let hookRan = false;
    lifecycle.addStopHook('flush', async () => void (hookRan = true));
    proc.crash('uncaughtException', new Error('boom'));
    expect(proc.exits).toEqual([ExitCode.failure]);
    expect(hookRan).toBe(false);
    const fatal = lines.find((l) => l.level === 'fatal');
    expect(fatal?.kind).toBe('uncaughtException');
    expect((fatal?.err as { message?: string } | undefined)?.message).toBe('boom');
  });

  it('treats an unhandled rejection the same way', () => {
    const { proc, lines } = setup();
    proc.crash('unhandledRejection', new Error('lost promise'));
    expect(proc.exits).toEqual([ExitCode.failure]);
    expect(lines.some((l) => l.level === 'fatal' && l.kind === 'unhandledRejection')).toBe(true);
  });

  it('uninstall removes every handler', () => {
    const { lifecycle, proc } = setup();
    expect(proc.handlerCount).toBe(3);
    lifecycle.uninstall();
    expect(proc.handlerCount).toBe(0);
  });
});
