import { decodeMessage, encodeMessage } from './codec.js';
import { type Message } from './types.js';

/** How a RaftNode reaches its peers. The broker supplies a gRPC implementation. */
export interface Transport {
  /** Sends messages best-effort; Raft tolerates loss, duplication and reordering. */
  send(msgs: readonly Message[]): void;
  onMessage(handler: (m: Message) => void): void;
}

/**
 * An in-process network of transports for tests and benchmarks. Delivery is asynchronous
 * (setImmediate) so a send never re-enters the sender. With `useCodec`, every message goes
 * through encodeMessage/decodeMessage as it would on the wire.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<number, (m: Message) => void>();
  private readonly down = new Set<number>();
  constructor(private readonly useCodec = false) {}

  transport(id: number): Transport {
    return {
      send: (msgs) => {
        if (msgs.length === 0) return;
        const batch = this.useCodec ? msgs.map(encodeMessage) : msgs;
        setImmediate(() => {
          for (const item of batch) {
            const m = item instanceof Uint8Array ? decodeMessage(item) : item;
            if (this.down.has(m.from) || this.down.has(m.to)) continue;
            this.handlers.get(m.to)?.(m);
          }
        });
      },
      onMessage: (handler) => {
        this.handlers.set(id, handler);
      },
    };
  }

  /** Cuts a node off (both directions) until `connect`. */
  disconnect(id: number): void {
    this.down.add(id);
  }

  connect(id: number): void {
    this.down.delete(id);
  }
}
