import { RaftSimulation } from '/work/main/packages/raft/test/sim-harness.ts';
import { checkLinearizable, kvModel } from '/work/main/packages/testkit/src/index.ts';
const seed = Number(process.argv[2]);
const s = new RaftSimulation({ seed });
const anyS = s as any;
anyS.checkHistory = () => {
  const r = checkLinearizable(anyS.history, kvModel, { timeoutMs: 20000 });
  if (r.ok === false) {
    const c = r.counterexample;
    console.log(c.message.slice(0, 300));
    console.log('longest tail:', c.longestLinearization.slice(-5).map((o: any) => `${o.clientId} [${o.call},${o.return}] ${JSON.stringify(o.input)} ${JSON.stringify(o.output)}`).join('\n'));
    console.log('candidates:', c.candidates.map((o: any) => `${o.clientId} [${o.call},${o.return}] ${JSON.stringify(o.input)} ${JSON.stringify(o.output)}`).join('\n'));
  }
};
s.run();
