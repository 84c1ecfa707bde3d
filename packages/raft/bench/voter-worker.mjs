// Worker entry of bench/voter.ts: a worker thread does not inherit the main thread's tsx
// loader, so it registers it before importing the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./voter.ts', import.meta.url).href);
