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
      onWalSync: (seconds) => this.ctx.metrics.walSyncDuration.observe(seconds),
    });
    this.exportStats(this.opened);
    const stats = this.opened.stats();
    this.logger.info({ ...stats, partitions: this.opened.listPartitions().length }, 'storage opened');
  }

  /** Storage figures on /metrics; cumulative ones become counters by their growth since the last scrape. */
  private exportStats(engine: StorageEngine): void {
    const m = this.ctx.metrics;
    let last = engine.stats();
    this.ctx.registry.addCollector(() => {
      const now = engine.stats();
      m.memtableBytes.set(now.memtableBytes);
      m.sstables.set(now.tables);
      m.storageFlushes.inc(Math.max(0, now.flushes - last.flushes));
      m.storageCompactions.inc(Math.max(0, now.compactions - last.compactions));
      m.storageBytesWritten.inc({ kind: 'wal' }, Math.max(0, now.walBytesWritten - last.walBytesWritten));
      m.storageBytesWritten.inc({ kind: 'flush' }, Math.max(0, now.flushedBytes - last.flushedBytes));
      m.storageBytesWritten.inc({ kind: 'compaction' }, Math.max(0, now.compactedBytes - last.compactedBytes));
      last = now;
    });
  }

  async stop(): Promise<void> {
    await this.opened?.close();
  }
}
