/**
 * Node (V8) flags the broker runs with. They must be on the node command line (V8 sizes its
 * heap when the process starts; NODE_OPTIONS refuses them), so every launcher of ours — the
 * dev cluster, tests, benches — passes them, and docs/operations/running.md gives them for
 * other launchers.
 *
 * --initial-old-space-size: the broker's live heap is small (~15 MiB) while it moves hundreds
 * of MB/s through Buffers. With V8's default, the tiny old-generation limit made it run a
 * full mark-compact every ~50 ms under load (19/s at 85 MB/s); a 128 MiB initial size cuts
 * that to ~4/s and the broker's CPU per produced MB by about a third (RF=3 acks=all: user
 * CPU 14 → 7-8 ms/MB, throughput +30-50 %, same machine and run). It costs no idle memory
 * (the heap is not committed until used); under load garbage Buffers live a little longer.
 */
export const BROKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];

/** The entries of BROKER_NODE_FLAGS this process was started without (logged at start). */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return BROKER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
