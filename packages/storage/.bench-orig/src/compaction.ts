import { assembleBatch, headerFieldsOf, parseBatchHeader, readRecords, type BatchInfo } from './batch.js';
import { type TableMeta } from './manifest.js';
import { type EngineContext, type PartitionLog } from './partition.js';
import { type SstWriter, type TableBatch } from './sstable.js';

/**
 * Background compaction. Both kinds read immutable inputs without any lock, write new SSTables,
 * then install them through the partition's structure lane only if every input is still live
 * (a truncation or retention may have removed one meanwhile). Appends never wait for this.
 */

/** Streams batches into SSTables of about segmentBytes each, throttled. */
async function writeOutputs(log: PartitionLog, ctx: EngineContext, batches: AsyncIterable<TableBatch>): Promise<TableMeta[]> {
  const out: TableMeta[] = [];
  let writer: SstWriter | null = null;
  let bytes = 0;
  try {
    for await (const b of batches) {
      if (writer !== null && bytes + b.bytes.length > log.config.segmentBytes) {
        out.push(await writer.finish());
        writer = null;
      }
      if (writer === null) {
        writer = await log.newWriter();
        bytes = 0;
      }
      await writer.add(b.bytes, b.info);
      bytes += b.bytes.length;
      await ctx.throttle(b.bytes.length);
    }
    if (writer !== null) out.push(await writer.finish());
    return out;
  } catch (err) {
    if (writer !== null) await writer.abandon();
    await discard(ctx, out);
    throw err;
  }
}

async function discard(ctx: EngineContext, tables: readonly TableMeta[]): Promise<void> {
  for (const t of tables) await ctx.options.fs.unlink(ctx.tables.path(t.fileNumber)).catch(() => undefined);
}

async function* scanTables(ctx: EngineContext, tables: readonly TableMeta[], logStartOffset: number): AsyncGenerator<TableBatch> {
  for (const t of tables) {
    const reader = await ctx.tables.acquire(t.fileNumber);
    try {
      for await (const b of reader.scan()) {
        if (b.info.baseOffset + b.info.lastOffsetDelta < logStartOffset) continue;
        yield b;
      }
    } finally {
      await reader.release();
    }
  }
}

async function install(log: PartitionLog, ctx: EngineContext, inputs: readonly TableMeta[], outputs: TableMeta[]): Promise<boolean> {
  const ok = await log.installCompaction(inputs, outputs);
  if (!ok) await discard(ctx, outputs);
  return ok;
}

/** Merges the first run of at least compactionMinTables consecutive small tables. */
export async function mergeSmallTables(log: PartitionLog, ctx: EngineContext): Promise<boolean> {
  const small = log.config.segmentBytes / 2;
  const tables = log.tables;
  let run: TableMeta[] = [];
  let best: TableMeta[] = [];
  for (const t of tables) {
    if (t.bytes < small) run.push(t);
    else run = [];
    if (run.length > best.length) best = [...run];
  }
  if (best.length < ctx.options.compactionMinTables) return false;
  const outputs = await writeOutputs(log, ctx, scanTables(ctx, best, log.logStartOffset));
  return install(log, ctx, best, outputs);
}

function keyOf(k: Buffer): string {
  return k.toString('latin1');
}

/**
 * cleanup.policy=compact: keeps the newest record of each key, and drops tombstones whose batch
 * is older than delete.retention.ms. Only data below the partition's compaction bound (the high
 * watermark, set by the broker) is touched. Compressed batches are kept whole: their keys are
 * not read here, so nothing in them is ever dropped (and nothing is dropped because of them).
 */
export async function compactKeys(log: PartitionLog, ctx: EngineContext, nowMs: number): Promise<boolean> {
  const bound = log.compactionBound;
  const inputs = log.tables.filter((t) => t.nextOffset <= bound);
  if (inputs.length === 0) return false;
  const signature = inputs.map((t) => t.fileNumber).join(',');
  if (signature === log.keyCompactionSignature && nowMs < log.keyCompactionRecheckAtMs) return false;
  const retentionMs = log.config.deleteRetentionMs;
  const latest = new Map<string, number>();
  // Counted in the first pass so that a clean log is not rewritten just to find nothing to drop.
  let droppable = 0;
  let recheckAtMs = Number.POSITIVE_INFINITY;
  for await (const b of scanTables(ctx, inputs, log.logStartOffset)) {
    if (b.info.compression !== 0 || b.info.isControl) continue;
    const expired = b.info.maxTimestamp + retentionMs < nowMs;
    for (const r of readRecords(b.bytes)) {
      if (r.key === null) continue;
      const k = keyOf(r.key);
      if (latest.has(k) || (r.valueIsNull && expired)) droppable++;
      if (r.valueIsNull && !expired) recheckAtMs = Math.min(recheckAtMs, b.info.maxTimestamp + retentionMs + 1);
      latest.set(k, b.info.baseOffset + r.offsetDelta);
    }
  }
  if (droppable === 0) {
    log.keyCompactionSignature = signature;
    log.keyCompactionRecheckAtMs = recheckAtMs;
    return false;
  }
  let dropped = 0;
  async function* cleaned(): AsyncGenerator<TableBatch> {
    for await (const b of scanTables(ctx, inputs, log.logStartOffset)) {
      if (b.info.compression !== 0 || b.info.isControl) {
        yield b;
        continue;
      }
      const records = readRecords(b.bytes);
      const expiredTombstones = b.info.maxTimestamp + retentionMs < nowMs;
      const kept = records.filter((r) => {
        if (r.key === null) return true;
        if (latest.get(keyOf(r.key)) !== b.info.baseOffset + r.offsetDelta) return false;
        return !(r.valueIsNull && expiredTombstones);
      });
      dropped += records.length - kept.length;
      if (kept.length === records.length) yield b;
      else if (kept.length > 0) {
        // Offsets and timestamps are deltas from the unchanged header, so records copy verbatim.
        const bytes = assembleBatch(headerFieldsOf(b.bytes), kept.length, kept.map((r) => b.bytes.subarray(r.start, r.end)));
        const info: BatchInfo = parseBatchHeader(bytes, 0);
        yield { bytes, info };
      }
    }
  }
  const outputs = await writeOutputs(log, ctx, cleaned());
  if (dropped === 0) {
    await discard(ctx, outputs);
    return false;
  }
  const ok = await install(log, ctx, inputs, outputs);
  if (ok) {
    log.keyCompactionSignature = outputs.map((t) => t.fileNumber).join(',');
    log.keyCompactionRecheckAtMs = recheckAtMs;
  }
  return ok;
}
