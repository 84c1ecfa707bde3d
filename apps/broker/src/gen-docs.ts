// Writes the generated operations docs: `npm run docs -w @streambus/broker`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './config-docs.js';

export const CONFIG_REFERENCE_PATH = fileURLToPath(new URL('../../../docs/operations/configuration.md', import.meta.url));

if (process.argv.includes('--write')) {
  writeFileSync(CONFIG_REFERENCE_PATH, renderConfigReference());
  process.stderr.write(`wrote ${CONFIG_REFERENCE_PATH}\n`);
}
