import { ErrorCode, type ReplicaFetchPartition, type ReplicaFetchPartitionResponse, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@streambus/protocol';
import { splitBatches } from '@streambus/record';
import { type PartitionLog } from '@streambus/storage';
import { invariant, partitionKeyOf, type ReplicationConfig, type Scheduler, type TopicPartitionRef } from './types.js';

/** Sends one ReplicaFetch to a leader broker; rejects on transport failure or timeout. */
export type SendReplicaFetch = (leaderId: number, request: ReplicaFetchRequest) => Promise<ReplicaFetchResponse>;

export interface FollowerPartitionOptions {
  readonly tp: TopicPartitionRef;
  readonly log: PartitionLog;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly initialHighWatermark: number;
}

/** What one response did to a follower's log, for tests and metrics. */
export type FollowerOutcome =
  | { readonly kind: 'appended'; readonly bytes: number }
  | { readonly kind: 'idle' }
  | { readonly kind: 'truncated'; readonly to: number; readonly reason: 'divergingEpoch' | 'outOfRange' }
  | { readonly kind: 'error'; readonly errorCode: ErrorCode; readonly message: string };

/**
 * One partition this broker follows, for one leader epoch. It appends the leader's batches
 * unchanged (offsets and leader epochs as the leader wrote them) and truncates only where the
 * leader says the logs diverge — never to its high watermark.
 */
export class FollowerPartition {
  readonly tp: TopicPartitionRef;
  readonly key: string;
  readonly log: PartitionLog;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  private hw: number;
  /** The partition is left out of requests until then (after an error). */
  delayedUntilMs = 0;
  removed = false;
  /** The response being applied, if any: a leadership change waits for it. */
  applying: Promise<unknown> | null = null;

  constructor(options: FollowerPartitionOptions) {
    this.tp = options.tp;
    this.key = partitionKeyOf(options.tp);
    this.log = options.log;
    this.leaderId = options.leaderId;
    this.leaderEpoch = options.leaderEpoch;
    this.hw = Math.min(Math.max(0, options.initialHighWatermark), options.log.logEndOffset);
  }

  get highWatermark(): number {
    return this.hw;
  }

  /**
   * The epoch of the last batch in the log: an epoch entry that starts at the log end (a
   * leadership this broker held without writing) says nothing about the data it has.
   */
  get lastFetchedEpoch(): number | undefined {
    const end = this.log.logEndOffset;
    const epochs = this.log.leaderEpochs;
    for (let i = epochs.length - 1; i >= 0; i--) {
      const e = epochs[i];
      if (e !== undefined && e.startOffset < end) return e.epoch;
    }
    return undefined;
  }

  fetchRequest(partitionMaxBytes: number): ReplicaFetchPartition {
    const req: ReplicaFetchPartition = {
      topic: this.tp.topic,
      partition: this.tp.partition,
      fetchOffset: this.log.logEndOffset,
      currentLeaderEpoch: this.leaderEpoch,
      logStartOffset: this.log.logStartOffset,
      partitionMaxBytes,
    };
    const last = this.lastFetchedEpoch;
    if (last !== undefined) req.lastFetchedEpoch = last;
    return req;
  }

  /** Applies the leader's answer to the fetch built by fetchRequest(). */
  async applyResponse(resp: ReplicaFetchPartitionResponse, sent: ReplicaFetchPartition): Promise<FollowerOutcome> {
    const log = this.log;
    // The log moved since the request was built (cannot happen with one fetcher, but cheap to refuse).
    if (log.logEndOffset !== sent.fetchOffset) return { kind: 'idle' };
    if (resp.divergingEpoch !== undefined && resp.errorCode === ErrorCode.NONE) {
      const to = this.truncationOffset(resp.divergingEpoch.epoch, resp.divergingEpoch.endOffset);
      if (to < log.logEndOffset) await log.truncateTo(to);
      this.hw = Math.min(this.hw, log.logEndOffset);
      return { kind: 'truncated', to, reason: 'divergingEpoch' };
    }
    if (resp.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) return this.handleOutOfRange(resp);
    if (resp.errorCode !== ErrorCode.NONE) return { kind: 'error', errorCode: resp.errorCode, message: resp.errorMessage };
    let bytes = 0;
    if (resp.records.length > 0) bytes = await this.appendRecords(resp.records);
    this.hw = Math.max(0, Math.min(resp.highWatermark, log.logEndOffset));
    // Records the leader deleted (retention, DeleteRecords) go here too, never past what is committed.
    if (resp.logStartOffset > log.logStartOffset && resp.logStartOffset <= this.hw) await log.deleteRecordsBefore(resp.logStartOffset);
    return bytes > 0 ? { kind: 'appended', bytes } : { kind: 'idle' };
  }

  /**
   * KIP-320: truncate to the smaller of where the leader's epoch ended and where our own
   * copy of that epoch ends. Our end for the epoch matters when we never had it: then we cut
   * at the end of our last older epoch, and the next fetch re-checks from there.
   */
  truncationOffset(divergingEpoch: number, leaderEndOffset: number): number {
    const log = this.log;
    let to: number;
    if (divergingEpoch < 0 || leaderEndOffset < 0) {
      to = log.logStartOffset;
    } else {
      const mine = log.endOffsetForEpoch(divergingEpoch);
      to = mine.epoch < 0 ? log.logStartOffset : Math.min(leaderEndOffset, mine.endOffset);
    }
    return Math.min(log.logEndOffset, Math.max(log.logStartOffset, to));
  }

  private async handleOutOfRange(resp: ReplicaFetchPartitionResponse): Promise<FollowerOutcome> {
    const log = this.log;
    if (log.logEndOffset < resp.logStartOffset) {
      // Behind the leader's log start: what we hold is older than anything it keeps.
      await log.truncateFullyAndStartAt(resp.logStartOffset);
      this.hw = log.logEndOffset;
      return { kind: 'truncated', to: resp.logStartOffset, reason: 'outOfRange' };
    }
    if (log.logEndOffset > resp.logEndOffset && this.lastFetchedEpoch === undefined) {
      // Ahead with no batch to compare epochs by (an empty log started past the leader's end).
      if (resp.logEndOffset >= log.logStartOffset) await log.truncateTo(resp.logEndOffset);
      else await log.truncateFullyAndStartAt(resp.logStartOffset);
      this.hw = Math.min(this.hw, log.logEndOffset);
      return { kind: 'truncated', to: log.logEndOffset, reason: 'outOfRange' };
    }
    return { kind: 'error', errorCode: resp.errorCode, message: resp.errorMessage };
  }

  private async appendRecords(records: Buffer): Promise<number> {
    const log = this.log;
    let pos = 0;
    let first = true;
    // Skip whole batches we already hold; a batch straddling our end can only follow a
    // truncateFullyAndStartAt into the middle of a batch, and restarting at its base fixes that.
    // Header reads only (no CRC, no decoding): storage validates whatever is appended.
    for (const batch of splitBatches(records)) {
      const epoch = batch.partitionLeaderEpoch;
      invariant(epoch <= this.leaderEpoch, `${this.key}: batch epoch ${epoch} above the leader's ${this.leaderEpoch}`);
      const baseOffset = batch.baseOffset;
      if (baseOffset >= log.logEndOffset) break;
      if (first && batch.lastOffset >= log.logEndOffset && log.logStartOffset === log.logEndOffset) {
        await log.truncateFullyAndStartAt(baseOffset);
        break;
      }
      pos += batch.sizeInBytes;
      first = false;
    }
    if (pos >= records.length) return 0;
    const rest = pos === 0 ? records : records.subarray(pos);
    await log.append(rest, { assignOffsets: false });
    return rest.length;
  }
}

export interface ReplicaFetcherOptions {
  readonly brokerId: number;
  readonly brokerEpoch: () => number;
  readonly leaderId: number;
  readonly clusterId?: string;
  readonly config: ReplicationConfig;
  readonly scheduler: Scheduler;
  readonly send: SendReplicaFetch;
  /** Observes each applied partition response (metrics, tests). */
  readonly onOutcome?: (fp: FollowerPartition, outcome: FollowerOutcome) => void;
}

/**
 * One fetcher per leader broker: a single long-poll request carries every partition this
 * broker follows from that leader, so adding partitions adds no connections or calls.
 * Exactly one request is in flight at a time.
 */
export class ReplicaFetcher {
  readonly leaderId: number;
  private readonly partitionsByKey = new Map<string, FollowerPartition>();
  private running = false;
  private stopped = false;
  private wakeTimer: unknown = undefined;
  private rotation = 0;
  private readonly options: ReplicaFetcherOptions;
  /** Requests sent so far (tests check one request covers all partitions). */
  requestsSent = 0;

  constructor(options: ReplicaFetcherOptions) {
    this.options = options;
    this.leaderId = options.leaderId;
  }

  get partitionCount(): number {
    return this.partitionsByKey.size;
  }

  partition(tp: TopicPartitionRef): FollowerPartition | undefined {
    return this.partitionsByKey.get(partitionKeyOf(tp));
  }

  addPartition(fp: FollowerPartition): void {
    invariant(fp.leaderId === this.leaderId, `partition ${fp.key} follows ${fp.leaderId}, not ${this.leaderId}`);
    invariant(!this.stopped, 'fetcher stopped');
    const old = this.partitionsByKey.get(fp.key);
    if (old !== undefined) old.removed = true;
    this.partitionsByKey.set(fp.key, fp);
    this.kick();
  }

  /** Stops fetching the partition; resolves once a response being applied to it is done. */
  async removePartition(tp: TopicPartitionRef): Promise<void> {
    const key = partitionKeyOf(tp);
    const fp = this.partitionsByKey.get(key);
    if (fp === undefined) return;
    fp.removed = true;
    this.partitionsByKey.delete(key);
    await fp.applying?.catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.scheduler.clearTimeout(this.wakeTimer);
    const all = [...this.partitionsByKey.values()];
    this.partitionsByKey.clear();
    for (const fp of all) fp.removed = true;
    await Promise.all(all.map((fp) => fp.applying?.catch(() => undefined) ?? Promise.resolve()));
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.options.scheduler.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
    });
  }

  private wakeAfter(delayMs: number): void {
    this.options.scheduler.clearTimeout(this.wakeTimer);
    this.wakeTimer = this.options.scheduler.setTimeout(() => {
      this.wakeTimer = undefined;
      this.kick();
    }, delayMs);
  }

  private async loop(): Promise<void> {
    const { config, scheduler } = this.options;
    while (!this.stopped) {
      const now = scheduler.now();
      const all = [...this.partitionsByKey.values()];
      if (all.length === 0) return;
      const ready = all.filter((fp) => fp.delayedUntilMs <= now);
      if (ready.length === 0) {
        this.wakeAfter(Math.max(1, Math.min(...all.map((fp) => fp.delayedUntilMs)) - now));
        return;
      }
      // Rotate the order so a byte-bounded response does not starve the partitions at the end.
      const start = this.rotation++ % ready.length;
      const ordered = [...ready.slice(start), ...ready.slice(0, start)];
      const sent = ordered.map((fp) => ({ fp, req: fp.fetchRequest(config.replicaFetchPartitionBytesMax) }));
      const request: ReplicaFetchRequest = {
        replicaId: this.options.brokerId,
        brokerEpoch: this.options.brokerEpoch(),
        maxWaitMs: config.replicaFetchWaitMaxMs,
        minBytes: 1,
        maxBytes: config.replicaFetchResponseBytesMax,
        partitions: sent.map((s) => s.req),
        clusterId: this.options.clusterId ?? '',
      };
      let response: ReplicaFetchResponse;
      try {
        this.requestsSent++;
        response = await this.options.send(this.leaderId, request);
      } catch {
        if (!this.stopped) this.wakeAfter(config.replicaFetchBackoffMs);
        return;
      }
      if (this.stopped) return;
      const byKey = new Map(response.partitions.map((p) => [partitionKeyOf(p), p]));
      // Partitions are applied together: their appends share the WAL's group commit (one fsync)
      // instead of waiting for one fsync each before the next fetch goes out.
      const works: Promise<void>[] = [];
      for (const { fp, req } of sent) {
        const part = byKey.get(fp.key);
        if (part === undefined || fp.removed) continue;
        const work = this.applyOne(fp, part, req);
        fp.applying = work;
        works.push(
          work.then(() => {
            if (fp.applying === work) fp.applying = null;
          }),
        );
      }
      await Promise.all(works);
    }
  }

  private async applyOne(fp: FollowerPartition, part: ReplicaFetchPartitionResponse, req: ReplicaFetchPartition): Promise<void> {
    let outcome: FollowerOutcome;
    try {
      outcome = await fp.applyResponse(part, req);
    } catch (err) {
      outcome = { kind: 'error', errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.kind === 'error') fp.delayedUntilMs = this.options.scheduler.now() + this.options.config.replicaFetchBackoffMs;
    this.options.onOutcome?.(fp, outcome);
  }
}
