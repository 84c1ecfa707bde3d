import { type Logger } from 'pino';
import { decodeMessage, encodeMessage, type Message, type Transport } from '@streambus/raft';
import { createRaftTransportClient, type RaftTransportClient, type SendRequest } from '@streambus/protocol';

/** Messages queued for one peer while its stream is (re)connecting; older ones are dropped past this. */
const PEER_QUEUE_MESSAGES_MAX = 4096;
/** Wait before reopening a broken stream to a peer. */
const RECONNECT_BACKOFF_MS = 100;

export interface PeerAddressBook {
  /** The peer listener of `brokerId` (host:port), or undefined while unknown. */
  peerAddress(brokerId: number): string | undefined;
}

/**
 * Raft messages between brokers over gRPC: one long-lived client stream per peer
 * (RaftTransport.Send), each request a batch of codec-encoded messages in send order.
 * Raft tolerates loss, duplication and reordering, so a broken stream is simply reopened
 * after a short backoff and whatever was in flight is lost; the queue per peer is bounded.
 */
export class GrpcRaftTransport implements Transport {
  private handler: ((m: Message) => void) | undefined;
  private readonly peers = new Map<number, PeerStream>();
  private closed = false;

  constructor(
    private readonly selfId: number,
    private readonly clusterId: string,
    private readonly addresses: PeerAddressBook,
    private readonly logger: Logger,
  ) {}

  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<number, Buffer[]>();
    for (const m of msgs) {
      if (m.to === this.selfId) {
        this.deliver(m);
        continue;
      }
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(Buffer.from(encodeMessage(m)));
    }
    for (const [to, encoded] of byPeer) this.peer(to)?.enqueue(encoded);
  }

  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
  }

  /** Server side of RaftTransport.Send: feeds every message of the stream to the Raft node. */
  async receive(requests: AsyncIterable<SendRequest>): Promise<{ messagesReceived: number }> {
    let received = 0;
    for await (const req of requests) {
      if (req.clusterId !== this.clusterId) throw new Error(`raft stream from cluster ${req.clusterId}, this is ${this.clusterId}`);
      if (req.toNodeId !== this.selfId) throw new Error(`raft stream for node ${req.toNodeId} reached node ${this.selfId}`);
      for (const bytes of req.messages) {
        let m: Message;
        try {
          m = decodeMessage(bytes);
        } catch (err) {
          this.logger.warn({ err, from: req.fromNodeId }, 'dropping undecodable raft message');
          continue;
        }
        received += 1;
        this.deliver(m);
      }
    }
    return { messagesReceived: received };
  }

  close(): void {
    this.closed = true;
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }

  private deliver(m: Message): void {
    try {
      this.handler?.(m);
    } catch (err) {
      this.logger.error({ err, type: m.type, from: m.from }, 'raft node rejected a message');
    }
  }

  private peer(id: number): PeerStream | undefined {
    let p = this.peers.get(id);
    if (p !== undefined) return p;
    const address = this.addresses.peerAddress(id);
    if (address === undefined) return undefined;
    p = new PeerStream(this.selfId, id, this.clusterId, address, this.logger);
    this.peers.set(id, p);
    return p;
  }
}

/** One peer's outgoing stream: a queue drained by a client-streaming call, reopened when it breaks. */
class PeerStream {
  private queue: Buffer[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly client: RaftTransportClient;
  private dropped = 0;
  private generation = 0;

  constructor(
    private readonly selfId: number,
    private readonly peerId: number,
    private readonly clusterId: string,
    address: string,
    private readonly logger: Logger,
  ) {
    this.client = createRaftTransportClient(address);
    void this.run();
  }

  enqueue(messages: Buffer[]): void {
    if (this.closed) return;
    this.queue.push(...messages);
    if (this.queue.length > PEER_QUEUE_MESSAGES_MAX) {
      const excess = this.queue.length - PEER_QUEUE_MESSAGES_MAX;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    this.client.close();
  }

  private async *batches(generation: number): AsyncGenerator<SendRequest> {
    // A broken call abandons its generator; the generation check makes it exit without
    // taking messages meant for the stream that replaced it.
    while (!this.closed && generation === this.generation) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const messages = this.queue;
      this.queue = [];
      yield { clusterId: this.clusterId, fromNodeId: this.selfId, toNodeId: this.peerId, messages };
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        this.generation += 1;
        this.wake?.();
        await this.client.send(this.batches(this.generation));
      } catch (err) {
        if (this.closed) return;
        failures += 1;
        // Logging every reconnect of a down peer would flood the log; the first and every 50th do.
        if (failures === 1 || failures % 50 === 0) this.logger.debug({ err, peer: this.peerId, failures, dropped: this.dropped }, 'raft stream to peer broke; reconnecting');
        this.queue = [];
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_BACKOFF_MS));
      }
    }
  }
}
