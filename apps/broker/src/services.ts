import { join } from 'node:path';
import { type Logger } from 'pino';
import { StorageEngine } from '@streambus/storage';
import { type BrokerComponent, type BrokerContext, type BrokerServices } from './broker.js';
import { MetadataNode } from './cluster/metadata-node.js';
import { PartitionManager } from './data/partition-manager.js';
import { Admin } from './rpc/admin.js';
import { DataPlane } from './rpc/data-plane.js';
import { RpcServer } from './rpc/server.js';

/** The partition-log storage engine as a broker component: opened first, closed (flushed) last. */
export class StorageComponent implements BrokerComponent {
  readonly name = 'storage';
  private opened: StorageEngine | undefined;
  private readonly logger: Logger;

  constructor(private readonly ctx: BrokerContext) {
    this.logger = ctx.logger.child({ component: 'storage' });
  }

  get engine(): StorageEngine {
    if (this.opened === undefined) throw new Error('storage engine is not open');
    return this.opened;
  }

  async start(): Promise<void> {
    const s = this.ctx.config.storage;
    this.opened = await StorageEngine.open({
      dir: join(this.ctx.dataDir, 'storage'),
      flush: s.flushMode,
      flushIntervalMs: s.flushIntervalMs,
      memtableBytesMax: s.memtableBudgetBytes,
      walRollBytes: s.walSegmentBytes,
      defaultPartitionConfig: { segmentBytes: s.sstableTargetBytes },
    });
    const stats = this.opened.stats();
    this.logger.info({ ...stats, partitions: this.opened.listPartitions().length }, 'storage opened');
  }

  async stop(): Promise<void> {
    await this.opened?.close();
  }
}

/**
 * The broker's data path: partition storage, the Raft metadata node, the partition manager
 * that follows the metadata, and the gRPC listeners for clients and peers.
 */
export function dataPathServices(ctx: BrokerContext): BrokerServices {
  const storage = new StorageComponent(ctx);
  const metadata = new MetadataNode(ctx);
  const partitions = new PartitionManager(ctx.config.brokerId, { get engine() { return storage.engine; } }, ctx.logger.child({ component: 'partitions' }));
  metadata.onChange((event) => partitions.onMetadata(event));
  const data = new DataPlane(
    partitions,
    ctx.metrics,
    ctx.logger.child({ component: 'data' }),
    (topic) => metadata.image.topicIdsByName.has(topic),
    (topic, partition) => {
      const id = metadata.image.topicIdsByName.get(topic);
      const p = id === undefined ? undefined : metadata.image.topics.get(id)?.partitions[partition];
      return p === undefined ? undefined : { leaderId: p.leader, leaderEpoch: p.leaderEpoch };
    },
  );
  const admin = new Admin(metadata, partitions, ctx.config);
  ctx.registry.addCollector(() => {
    let leaders = 0;
    let followers = 0;
    for (const r of partitions.all()) {
      if (r.role === 'leader') leaders += 1;
      else followers += 1;
    }
    ctx.metrics.partitions.set({ role: 'leader' }, leaders);
    ctx.metrics.partitions.set({ role: 'follower' }, followers);
  });
  const rpc = new RpcServer(ctx, metadata, data, admin, () => undefined);
  return { storage, metadata, rpc };
}
