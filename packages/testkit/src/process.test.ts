import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessError } from './errors.js';
import { freePort, killAllProcesses, startProcess, tempDir } from './process.js';

const CHILD = fileURLToPath(new URL('../test/fixtures/child.mjs', import.meta.url));
const ORPHAN_PARENT = fileURLToPath(new URL('../test/fixtures/orphan-parent.ts', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
const node = (mode: string, extra: Partial<Parameters<typeof startProcess>[0]> = {}): ReturnType<typeof startProcess> =>
  startProcess({ command: process.execPath, args: [CHILD, mode], name: `child-${mode}`, readyTimeoutMs: 10_000, ...extra });

afterAll(async () => {
  await killAllProcesses();
});

describe('freePort', () => {
  it('returns a port that can be bound on loopback', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('tempDir', () => {
  it('creates a fresh directory and removes it with its contents', async () => {
    const a = await tempDir('testkit-');
    const b = await tempDir('testkit-');
    expect(a.path).not.toBe(b.path);
    writeFileSync(`${a.path}/file`, 'x');
    await a.cleanup();
    await b.cleanup();
    await a.cleanup();
    expect(existsSync(a.path)).toBe(false);
    expect(existsSync(b.path)).toBe(false);
    await expect(tempDir('bad/prefix')).rejects.toThrow(ProcessError);
  });
});

describe('startProcess', () => {
  it('waits for the ready line, keeps output, and stops gracefully with SIGTERM', async () => {
    const p = await node('serve', { readyLine: /^ready \d+/ });
    expect(p.stdout[0]).toBe(`ready ${p.pid}`);
    await p.waitForLine(/^tick 2$/);
    const status = await p.stop();
    expect(status).toEqual({ code: 0, signal: null });
    expect(p.stdout).toContain('bye');
    expect(p.output()).toContain('out tick 1');
  });

  it('pause freezes the process and resume continues it', async () => {
    const p = await node('serve', { readyLine: /^ready/ });
    await p.waitForLine(/^tick 1$/);
    p.pause();
    expect(p.paused).toBe(true);
    // Let the last in-flight line land, then check that nothing more arrives while stopped.
    await new Promise((r) => setTimeout(r, 100));
    const frozenAt = p.stdout.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(p.stdout.length).toBe(frozenAt);
    p.resume();
    const lastTick = Number(p.stdout[p.stdout.length - 1]!.split(' ')[1]);
    await p.waitForLine(new RegExp(`^tick ${lastTick + 2}$`));
    await p.stop();
  });

  it('stop escalates to SIGKILL when SIGTERM is ignored, and also stops a paused process', async () => {
    const stubborn = await node('stubborn', { readyLine: /^ready/ });
    expect(await stubborn.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
    const paused = await node('serve', { readyLine: /^ready/ });
    paused.pause();
    expect(await paused.stop()).toEqual({ code: 0, signal: null });
    expect(() => paused.pause()).toThrow(expect.objectContaining({ code: 'PROC_NOT_RUNNING' }));
  });

  it('kill sends the signal and waitExit reports it', async () => {
    const p = await node('serve', { readyLine: /^ready/ });
    p.kill('SIGKILL');
    expect(await p.waitExit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(p.exitStatus).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('fails with the output when the process exits before it is ready', async () => {
    const err: unknown = await node('early-exit', { readyLine: /^ready/ }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).code).toBe('PROC_EXITED_BEFORE_READY');
    expect((err as ProcessError).message).toContain('fatal: cannot start');
  });

  it('fails with PROC_READY_TIMEOUT and kills a process that never gets ready', async () => {
    const err: unknown = await node('silent', { readyLine: /^ready/, readyTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROC_READY_TIMEOUT', retriable: true });
  });

  it('fails with PROC_SPAWN_FAILED for a missing command', async () => {
    await expect(startProcess({ command: '/nonexistent/streambus-binary' })).rejects.toMatchObject({ code: 'PROC_SPAWN_FAILED' });
  });

  it('passes env and cwd, and a variable can be removed', async () => {
    const dir = await tempDir('testkit-cwd-');
    try {
      const p = await node('env', { env: { STREAMBUS_TEST_VAR: 'hello' }, cwd: dir.path });
      expect(await p.waitExit(5_000)).toEqual({ code: 0, signal: null });
      expect(p.stdout).toContain('var=hello');
      expect(p.stdout.some((l) => l.startsWith('cwd=') && l.includes('testkit-cwd-'))).toBe(true);
      process.env.STREAMBUS_TEST_VAR = 'inherited';
      const q = await node('env', { env: { STREAMBUS_TEST_VAR: undefined } });
      await q.waitExit(5_000);
      expect(q.stdout).toContain('var=<unset>');
    } finally {
      delete process.env.STREAMBUS_TEST_VAR;
      await dir.cleanup();
    }
  });

  it('waitForLine times out with a typed error; output is bounded', async () => {
    const p = await node('serve', { readyLine: /^ready/, outputLinesMax: 3 });
    await expect(p.waitForLine(/^never$/, 200)).rejects.toMatchObject({ code: 'PROC_LINE_TIMEOUT' });
    await p.waitForLine(/^tick 5$/);
    expect(p.stdout.length).toBeLessThanOrEqual(3);
    await p.stop();
  });

  it('kills children and removes temp dirs when the parent exits without cleaning up', async () => {
    const parent = await startProcess({
      command: process.execPath,
      args: ['--import', 'tsx', '--conditions=@streambus/source', ORPHAN_PARENT],
      readyLine: /^child \d+ dir /,
      readyTimeoutMs: 20_000,
    });
    const [, pid, , dir] = (await parent.waitForLine(/^child \d+ dir /)).split(' ');
    expect(await parent.waitExit(10_000)).toEqual({ code: 0, signal: null });
    // The child is SIGKILLed by the exit hook; it may take a moment to be reaped.
    for (let i = 0; i < 100 && isAlive(Number(pid)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(Number(pid))).toBe(false);
    expect(existsSync(dir!)).toBe(false);
  });
});
