import { checkLinearizable, kvModel } from '@streambus/testkit';
import { RaftSimulation } from '../test/sim-harness.js';
const seed = Number(process.argv[2]);
const s = new RaftSimulation({ seed });
const anyS = s as any;
anyS.checkHistory = () => {
  const r = checkLinearizable(anyS.history, kvModel, { timeoutMs: 20000 });
  if (r.ok === false) {
    const c = r.counterexample;
    const f = (o: any) => `${o.clientId} [${o.call},${o.return}] ${JSON.stringify(o.input)} ${JSON.stringify(o.output)}`;
    console.log('longest tail:\n' + c.longestLinearization.slice(-8).map(f).join('\n'));
    console.log('candidates:\n' + c.candidates.map(f).join('\n'));
    throw new Error('nonlinearizable');
  }
};
s.run();
