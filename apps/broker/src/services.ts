import { type BrokerContext, type BrokerServices } from './broker.js';
import { MetadataNode } from './cluster/metadata-node.js';
import { PartitionManager } from './data/partition-manager.js';
import { ReplicationService } from './replication-service.js';
import { Admin } from './rpc/admin.js';
import { DataPlane } from './rpc/data-plane.js';
import { RpcServer } from './rpc/server.js';
import { StorageComponent } from './services-storage.js';

/**
 * The broker's data path: partition storage, the Raft metadata node, the partition manager
 * that follows the metadata, replication (leader/follower, ISR, high watermark) and the gRPC
 * listeners for clients and peers.
 */
export function dataPathServices(ctx: BrokerContext): BrokerServices {
  const storage = new StorageComponent(ctx);
  const metadata = new MetadataNode(ctx);
  const partitions = new PartitionManager(ctx.config.brokerId, storage, ctx.logger.child({ component: 'partitions' }));
  let orphansRemoved = false;
  metadata.onChange((event) => {
    partitions.onMetadata(event);
    // Once the broker's own registration is applied, its image has caught up with the log.
    if (!orphansRemoved && metadata.readiness().ready) {
      orphansRemoved = true;
      void partitions.removeOrphans(event.state);
    }
  });
  const replication = new ReplicationService(ctx, storage, metadata, partitions);
  const data = new DataPlane(partitions, replication, metadata, ctx.metrics, ctx.logger.child({ component: 'data' }));
  const admin = new Admin(metadata, partitions, ctx.config);
  ctx.registry.addCollector(() => {
    if (!replication.running) return;
    const m = replication.replicas.metrics();
    ctx.metrics.partitions.set({ role: 'leader' }, m.leaderPartitions);
    ctx.metrics.partitions.set({ role: 'follower' }, m.followerPartitions);
  });
  const rpc = new RpcServer(ctx, metadata, data, admin, () => (replication.running ? (req) => replication.handleReplicaFetch(req) : undefined));
  return { storage, metadata, replication, rpc };
}
