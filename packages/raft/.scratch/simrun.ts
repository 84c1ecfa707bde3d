import { RaftSimulation } from '../test/sim-harness.js';
const n = Number(process.argv[2] ?? 20);
const start = Number(process.argv[3] ?? 1);
const t0 = performance.now();
let fails = 0;
for (let seed = start; seed < start + n; seed++) {
  try {
    new RaftSimulation({ seed }).run();
  } catch (e) {
    fails++;
    console.log('SEED', seed, (e as Error).message.slice(0, 300).replace(/\n/g, ' | '));
  }
}
console.log('fails', fails, 'ms', performance.now() - t0);
