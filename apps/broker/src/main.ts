// Entry point of the broker process (bundled to dist/main.js).
import { runBroker } from './cli.js';
import { dataPathServices } from './services.js';

runBroker({ argv: process.argv.slice(2), env: process.env, services: dataPathServices }).catch((error: unknown) => {
  process.stderr.write(`streambus-broker: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
