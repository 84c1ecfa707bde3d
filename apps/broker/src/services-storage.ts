import { join } from 'node:path';
import { type Logger } from 'pino';
import { StorageEngine } from '@streambus/storage';
import { type BrokerComponent, type BrokerContext } from './broker.js';

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
      walSpareSegments: s.walSpareSegments,
      defaultPartitionConfig: { segmentBytes: s.sstableTargetBytes },
    });
    const stats = this.opened.stats();
    this.logger.info({ ...stats, partitions: this.opened.listPartitions().length }, 'storage opened');
  }

  async stop(): Promise<void> {
    await this.opened?.close();
  }
}
