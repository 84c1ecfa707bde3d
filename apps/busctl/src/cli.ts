// The busctl executable: wires the process's streams and signals into runCli.
import { runCli } from './program.js';
import { streamWriter } from './io.js';

const controller = new AbortController();
let interrupted = 0;
const onSignal = (): void => {
  // A second Ctrl-C means "now": skip the graceful close.
  if (++interrupted > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const stdout = streamWriter(process.stdout, () => controller.abort());
const code = await runCli(process.argv.slice(2), {
  stdout,
  stderr: (text) => {
    process.stderr.write(text);
  },
  stdin: process.stdin,
  env: process.env,
  stdoutIsTty: process.stdout.isTTY === true,
  stderrIsTty: process.stderr.isTTY === true,
  signal: controller.signal,
});
process.exitCode = code;
// grpc-js keeps timers alive for a moment after close; a CLI should not linger.
setTimeout(() => process.exit(code), 50).unref();
