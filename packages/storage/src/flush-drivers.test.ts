import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCENARIO = fileURLToPath(new URL('../test/two-flush-drivers.ts', import.meta.url));
const LIMIT_MS = 20_000;

/** Runs the scenario in its own process: a livelocked event loop there cannot stop this one's timer. */
function runScenario(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@streambus/source', '--import', 'tsx', SCENARIO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

describe('flush drivers', () => {
  it('a maintenance flush and the background flusher wanting the same partition never stall the event loop', { timeout: LIMIT_MS + 10_000 }, async () => {
    const run = await runScenario();
    expect(run.signal, `the scenario stalled and was killed after ${LIMIT_MS} ms:\n${run.output}`).toBeNull();
    expect(run.code, run.output).toBe(0);
    expect(run.output.trim()).toBe('ok');
  });
});
