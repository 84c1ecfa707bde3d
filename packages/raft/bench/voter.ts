// One Raft voter of the benchmark, in a worker thread of its own: its own event loop and heap,
// as a voter in its own process would have (three voters on one event loop share every GC
// pause and long task). Peers are reached over MessagePorts carrying wire-encoded messages.
// The leader's worker also runs the load, so commit latency is measured where proposals are
// made. Commands arrive from the main thread as { id, cmd, ... } and are answered { id, result }.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { decodeMessage, encodeMessage, type Message, RaftNode, type StateMachine, type Transport } from '../src/index.js';

export interface VoterData {
  readonly id: number;
  readonly dir: string;
  readonly voters: readonly number[];
  readonly proposalBytes: number;
  readonly snapshotEntriesMax: number;
  /** Peer id → the port that reaches it. */
  readonly peers: Readonly<Record<number, MessagePort>>;
}

export type Command =
  | { readonly cmd: 'campaign' }
  | { readonly cmd: 'isLeader' }
  | { readonly cmd: 'stats' }
  | { readonly cmd: 'throughput'; readonly ms: number; readonly concurrency: number }
  | { readonly cmd: 'latency'; readonly ms: number; readonly rate: number }
  | { readonly cmd: 'stop' };

export interface ThroughputResult {
  readonly done: number;
  readonly secs: number;
  readonly proposals: number;
  readonly proposalBatches: number;
}

export interface LatencyResult {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly sent: number;
  readonly secs: number;
}

class CountingMachine implements StateMachine {
  applied = 0;
  apply(): void {
    this.applied++;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied = Number(new TextDecoder().decode(data));
  }
}

function portTransport(peers: Readonly<Record<number, MessagePort>>): Transport {
  let handler: ((m: Message) => void) | undefined;
  for (const port of Object.values(peers)) {
    port.on('message', (batch: Uint8Array[]) => {
      for (const bytes of batch) handler?.(decodeMessage(bytes));
    });
  }
  return {
    send(msgs) {
      const byPeer = new Map<number, Uint8Array[]>();
      for (const m of msgs) {
        const list = byPeer.get(m.to) ?? [];
        list.push(encodeMessage(m));
        byPeer.set(m.to, list);
      }
      for (const [to, list] of byPeer) peers[to]?.postMessage(list);
    },
    onMessage(h) {
      handler = h;
    },
  };
}

/** Closed loop: `concurrency` proposals outstanding for `ms`. */
async function throughput(node: RaftNode, payload: Uint8Array, ms: number, concurrency: number): Promise<ThroughputResult> {
  let done = 0;
  let stop = false;
  const st0 = node.stats();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (!stop) {
      await node.propose(payload);
      done++;
    }
  };
  const timer = setTimeout(() => (stop = true), ms);
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(timer);
  const st1 = node.stats();
  return { done, secs: (performance.now() - start) / 1000, proposals: st1.proposals - st0.proposals, proposalBatches: st1.proposalBatches - st0.proposalBatches };
}

/** Open loop at `rate` proposals/s for `ms`: commit latency from propose() to applied. */
async function latency(node: RaftNode, payload: Uint8Array, ms: number, rate: number): Promise<LatencyResult> {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let outstanding = 0;
  let failed = 0;
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      outstanding++;
      node.propose(payload).then(
        () => {
          outstanding--;
          h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        },
        () => {
          outstanding--;
          failed++;
        },
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  while (outstanding > 0) await new Promise((r) => setTimeout(r, 5));
  if (failed > 0) throw new Error(`${failed} proposals failed during the latency run`);
  const r = { p50Ms: h.getValueAtPercentile(50) / 1000, p99Ms: h.getValueAtPercentile(99) / 1000, p999Ms: h.getValueAtPercentile(99.9) / 1000, sent, secs: (performance.now() - start) / 1000 };
  h.destroy();
  return r;
}

async function main(): Promise<void> {
  const data = workerData as VoterData;
  const port = parentPort;
  if (port === null) throw new Error('voter.ts runs in a worker thread');
  const node = await RaftNode.start({
    id: data.id,
    dir: data.dir,
    voters: [...data.voters],
    transport: portTransport(data.peers),
    stateMachine: new CountingMachine(),
    tickMs: 50,
    raft: { electionTimeoutTicks: 20, heartbeatIntervalTicks: 2 },
    snapshotEntriesMax: data.snapshotEntriesMax,
  });
  const payload = new Uint8Array(data.proposalBytes).fill(1);
  const run = async (c: Command): Promise<unknown> => {
    switch (c.cmd) {
      case 'campaign':
        node.campaign();
        return null;
      case 'isLeader':
        return node.isLeader();
      case 'stats':
        return node.stats();
      case 'throughput':
        return throughput(node, payload, c.ms, c.concurrency);
      case 'latency':
        return latency(node, payload, c.ms, c.rate);
      case 'stop':
        await node.stop();
        for (const p of Object.values(data.peers)) p.close();
        return null;
    }
  };
  port.on('message', (msg: { id: number } & Command) => {
    run(msg).then(
      (result) => port.postMessage({ id: msg.id, result }),
      (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  port.postMessage({ ready: true });
}

await main();
