import { Admin } from './admin.js';
import { Cluster, type ClusterOptions } from './cluster.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { ClientError } from './errors.js';
import { Producer, type ProducerOptions } from './producer.js';

/** What `new StreamBus(...)` takes: the cluster connection settings (see ClusterOptions). */
export type StreamBusOptions = ClusterOptions;

/**
 * The entry point: holds the metadata cache and one gRPC channel per broker address, shared
 * by every producer, consumer and admin client it creates.
 */
export class StreamBus {
  private readonly cluster: Cluster;
  private readonly producers = new Set<Producer>();
  private readonly consumers = new Set<Consumer>();
  private adminClient: Admin | undefined;

  constructor(options: StreamBusOptions) {
    if (typeof options !== 'object' || options === null) throw new ClientError('INVALID_ARGUMENT', 'new StreamBus({ brokers: [...] })');
    this.cluster = new Cluster(options);
  }

  producer(options?: ProducerOptions): Producer {
    this.assertOpen();
    const producer = new Producer(this.cluster, options, (p) => this.producers.delete(p));
    this.producers.add(producer);
    return producer;
  }

  consumer(options?: ConsumerOptions): Consumer {
    this.assertOpen();
    const consumer = new Consumer(this.cluster, options, (c) => this.consumers.delete(c));
    this.consumers.add(consumer);
    return consumer;
  }

  admin(): Admin {
    this.assertOpen();
    this.adminClient ??= new Admin(this.cluster);
    return this.adminClient;
  }

  /** Fetches metadata now (normally done on demand and after NOT_LEADER / FENCED / unknown-topic answers). */
  refreshMetadata(topics: readonly string[] = []): Promise<void> {
    for (const topic of topics) this.cluster.addInterest(topic);
    return this.cluster.refresh();
  }

  /** Closes producers (draining them), consumers, then every channel. */
  async close(): Promise<void> {
    if (this.cluster.isClosed) return;
    await Promise.allSettled([...this.producers].map((p) => p.close()));
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.cluster.close();
  }

  private assertOpen(): void {
    if (this.cluster.isClosed) throw new ClientError('CLOSED', 'the StreamBus client is closed');
  }
}
