// Benchmarks for the test kit. Progress on stderr; results on stdout, ending with one JSON
// line of figures and ratios against baselines measured in the same run (PERFORMANCE.md).
// Times are CPU time of this process: the machine is shared and wall time is noisy.
//   sim:     events/s and virtual seconds per (CPU) second for 5 nodes exchanging messages
//            with 1–10 ms delays, vs a plain array push/shift event loop (no ordering).
//   checker: operations/s on a 1,000-op linearizable kv history, vs replaying the same
//            history through the model in its known order (the floor any checker pays).
import { checkLinearizable, generateKvHistory, kvModel, type KvOperation, Prng, SimNetwork, Simulator } from '../src/index.js';

const quick = process.argv.includes('--quick');
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * CPU milliseconds (user + system) spent in `fn`. The machine is shared, so wall time swings
 * with other load; CPU time of this single-threaded work is the steadier figure.
 */
function timeIt(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

// ---- simulator -------------------------------------------------------------------------------

const SIM_EVENTS = quick ? 200_000 : 2_000_000;

function simWorkload(seed: number): { events: number; virtualMs: number; cpuMs: number; delivered: number } {
  const sim = new Simulator({ seed, eventsMax: SIM_EVENTS * 2 });
  const net = new SimNetwork<number>(sim, sim.prng.fork(), { delayMsMin: 1, delayMsMax: 10, dropRate: 0.01, duplicateRate: 0.01 });
  const prng = sim.prng.fork();
  const ids = [1, 2, 3, 4, 5];
  // Each message is answered, up to 20 hops (request → reply chains); a heartbeat-like timer
  // per node keeps new chains starting, as in a Raft cluster, so the load is steady.
  for (const id of ids) net.register(id, (hops) => hops < 20 && net.send(id, prng.pick(ids), hops + 1));
  for (let i = 0; i < 100; i++) net.send(prng.pick(ids), prng.pick(ids), 0);
  for (const id of ids) sim.every(5, () => net.send(id, prng.pick(ids), 0));
  const cpuMs = timeIt(() => {
    while (sim.eventsRun < SIM_EVENTS && sim.step());
  });
  return { events: sim.eventsRun, virtualMs: sim.now, cpuMs, delivered: net.stats().delivered };
}

function baselineQueue(): number {
  // The simplest event loop: a FIFO of closures, no time ordering, no cancellation.
  const queue: (() => void)[] = [];
  let count = 0;
  const prng = new Prng(1);
  const handler = (): void => {
    count++;
    queue.push(prng.chance(0.5) ? handler : handler);
  };
  for (let i = 0; i < 100; i++) queue.push(handler);
  const cpuMs = timeIt(() => {
    while (count < SIM_EVENTS) queue.shift()!();
  });
  return cpuMs;
}

// ---- checker ---------------------------------------------------------------------------------

const CHECK_OPS = 1000;

function replayInOrder(executionOrder: readonly KvOperation[]): void {
  const states = new Map<string, string | null>();
  for (const op of executionOrder) {
    const [ok, next] = kvModel.step(states.get(op.input.key) ?? null, op.input, op.return === Infinity ? undefined : op.output);
    if (!ok) throw new Error('baseline replay found a violation: generator and model disagree');
    states.set(op.input.key, next);
  }
}

function main(): void {
  const runs = quick ? 3 : 5;
  log(`sim: ${runs} runs of ${SIM_EVENTS} events (5 nodes, 1-10 ms delays)`);
  const simRuns = Array.from({ length: runs }, (_, i) => {
    const r = simWorkload(i + 1);
    log(`  run ${i + 1}: ${r.events} events in ${r.cpuMs.toFixed(0)} CPU ms, ${(r.virtualMs / 1000).toFixed(1)} virtual s, ${r.delivered} delivered`);
    return r;
  });
  const baseRuns = Array.from({ length: runs }, () => baselineQueue());
  const simEventsPerSec = median(simRuns.map((r) => r.events / (r.cpuMs / 1000)));
  const virtualSecPerCpuSec = median(simRuns.map((r) => r.virtualMs / r.cpuMs));
  const baselineEventsPerSec = median(baseRuns.map((ms) => SIM_EVENTS / (ms / 1000)));
  log(`  sim ${Math.round(simEventsPerSec)} events/s; baseline array push/shift ${Math.round(baselineEventsPerSec)} events/s`);

  const histories = {
    oneKey: generateKvHistory(new Prng(1), { opsCount: CHECK_OPS, keysCount: 1, spreadMs: 30, pendingRate: 0 }),
    oneKeyPending: generateKvHistory(new Prng(2), { opsCount: CHECK_OPS, keysCount: 1, spreadMs: 30, pendingRate: 0.05 }),
    tenKeys: generateKvHistory(new Prng(3), { opsCount: CHECK_OPS, keysCount: 10, spreadMs: 30, pendingRate: 0.02 }),
  };
  const checker: Record<string, number> = {};
  let baselineOpsPerSec = 0;
  for (const [name, h] of Object.entries(histories)) {
    const reps = quick ? 5 : 21;
    const check = (): void => {
      const r = checkLinearizable(h, kvModel, { timeoutMs: 60_000 });
      if (r.ok !== true) throw new Error(`checker said ${String(r.ok)} on a linearizable history (${name})`);
    };
    for (let i = 0; i < 3; i++) check(); // warm up the JIT before timing
    const times = Array.from({ length: reps }, () => timeIt(check));
    checker[name] = CHECK_OPS / (median(times) / 1000);
    log(`checker ${name}: ${Math.round(checker[name])} ops/s (median of ${reps})`);
    if (name === 'oneKey') {
      const ordered = generateKvHistory(new Prng(1), { opsCount: CHECK_OPS, keysCount: 1, spreadMs: 30, pendingRate: 0, shuffle: false });
      for (let i = 0; i < 3; i++) replayInOrder(ordered);
      const replayTimes = Array.from({ length: reps }, () => timeIt(() => replayInOrder(ordered)));
      baselineOpsPerSec = CHECK_OPS / (median(replayTimes) / 1000);
      log(`  baseline replay in known order: ${Math.round(baselineOpsPerSec)} ops/s`);
    }
  }

  const result = {
    package: 'testkit',
    sim_events_per_sec: Math.round(simEventsPerSec),
    sim_virtual_sec_per_cpu_sec: Number(virtualSecPerCpuSec.toFixed(1)),
    baseline_array_queue_events_per_sec: Math.round(baselineEventsPerSec),
    ratio_sim_vs_array_queue: Number((simEventsPerSec / baselineEventsPerSec).toFixed(3)),
    checker_ops_per_sec_1key: Math.round(checker.oneKey ?? 0),
    checker_ops_per_sec_1key_pending: Math.round(checker.oneKeyPending ?? 0),
    checker_ops_per_sec_10keys: Math.round(checker.tenKeys ?? 0),
    baseline_replay_ops_per_sec: Math.round(baselineOpsPerSec),
    ratio_checker_vs_replay: Number(((checker.oneKey ?? 0) / baselineOpsPerSec).toFixed(4)),
  };
  process.stdout.write(`sim: ${result.sim_events_per_sec} events/s (${result.ratio_sim_vs_array_queue}x array queue), ${result.sim_virtual_sec_per_cpu_sec} virtual s per CPU s\n`);
  process.stdout.write(`checker: ${result.checker_ops_per_sec_1key} ops/s on 1,000 ops (${result.ratio_checker_vs_replay}x ordered replay)\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main();
