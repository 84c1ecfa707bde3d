// The grpc-js echo server the broker is compared with, run as its own process so the
// baseline has the broker's topology: client in the bench process, server in another.
// Identity (Buffer) serializers: it measures grpc-js and HTTP/2 alone. Prints one JSON line
// with its port, then serves until SIGTERM.
import { createServer, ECHO_SERVICE, echoDefinition, echoImplementation, listen, shutdown } from '@streambus/protocol';

async function main(): Promise<void> {
  const server = createServer();
  server.addService(echoDefinition(), echoImplementation);
  const port = await listen(server, '127.0.0.1:0');
  process.stdout.write(`${JSON.stringify({ msg: 'echo started', service: ECHO_SERVICE, port })}\n`);
  process.once('SIGTERM', () => {
    void shutdown(server, 500).then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`echo server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
