import { type Record as KafkaRecord } from '@streambus/record';
import { decodeBatch, encodeWithGaps, parseBatchHeader } from './batch.js';
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
    for (const t of out) ctx.tableWritten('compaction', t.bytes);
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

/** Tables merged together differ in size by at most this factor (size tiers). */
export const MERGE_SIZE_RATIO = 4;

/**
 * Which consecutive tables to merge, as [start, end) indexes into `sizes` (a partition's tables
 * in offset order), or null. A table is small below `small`. Size-tiered: the first run of at
 * least `minTables` consecutive small tables each within MERGE_SIZE_RATIO of the run's
 * smallest, so a merged output waits for its equals instead of being rewritten with every few
 * new flushes. (Merging any run of small tables did that: rewriting 54× the data at 100 KiB
 * flushes and 6× at 1 MiB ones, as low-rate or memory-budget-flushed partitions make them;
 * tiered it is 5× and 3×, and unchanged from 8 MiB up.) A partition with more than
 * 3 × minTables small tables that form no such run merges its longest run of small ones, so
 * uneven sizes cannot pile files up.
 */
export function pickMergeRun(sizes: readonly number[], small: number, minTables: number): [number, number] | null {
  const n = sizes.length;
  let smallCount = 0;
  for (let i = 0; i < n; i++) {
    const first = sizes[i] ?? 0;
    if (first >= small) continue;
    smallCount++;
    let lo = first;
    let hi = first;
    let j = i + 1;
    for (; j < n; j++) {
      const t = sizes[j] ?? 0;
      if (t >= small || Math.max(hi, t) > MERGE_SIZE_RATIO * Math.min(lo, t)) break;
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    if (j - i >= minTables) return [i, j];
  }
  if (smallCount <= 3 * minTables) return null;
  let run = 0;
  let best = 0;
  let bestEnd = 0;
  for (let i = 0; i < n; i++) {
    run = (sizes[i] ?? 0) < small ? run + 1 : 0;
    if (run > best) {
      best = run;
      bestEnd = i + 1;
    }
  }
  return best >= minTables ? [bestEnd - best, bestEnd] : null;
}

/** Merges one run of small tables chosen by pickMergeRun into segmentBytes ones. */
export async function mergeSmallTables(log: PartitionLog, ctx: EngineContext): Promise<boolean> {
  const tables = log.tables;
  const run = pickMergeRun(
    tables.map((t) => t.bytes),
    log.config.segmentBytes / 2,
    ctx.options.compactionMinTables,
  );
  if (run === null) return false;
  const inputs = tables.slice(run[0], run[1]);
  const outputs = await writeOutputs(log, ctx, scanTables(ctx, inputs, log.logStartOffset));
  return install(log, ctx, inputs, outputs);
}

function keyOf(k: Buffer): string {
  return k.toString('latin1');
}

/** Records of one batch as compaction sees them (control batches are never touched). */
async function recordsOf(b: TableBatch, ctx: EngineContext): Promise<KafkaRecord[]> {
  return decodeBatch(b.bytes, ctx.options);
}

interface DirtyScan {
  /** Newest offset of each key in [dirtyFrom, cut). */
  readonly latest: Map<string, number>;
  /** Key compaction covers offsets below this; the map filled up at it (or it is the inputs' end). */
  readonly cut: number;
  /** Records in the dirty section that are superseded there or expired tombstones. */
  readonly droppable: number;
  readonly keyedRecords: number;
  readonly recheckAtMs: number;
}

/**
 * Pass 1: the newest offset of every key in the dirty section, at most compactionKeysMax keys
 * (plus one batch's worth: a batch is taken whole or not at all, so `cut` is a batch boundary).
 */
async function scanDirty(log: PartitionLog, ctx: EngineContext, inputs: readonly TableMeta[], dirtyFrom: number, nowMs: number): Promise<DirtyScan> {
  const retentionMs = log.config.deleteRetentionMs;
  const keysMax = ctx.options.compactionKeysMax;
  const latest = new Map<string, number>();
  let cut = inputs.at(-1)?.nextOffset ?? dirtyFrom;
  let droppable = 0;
  let keyedRecords = 0;
  let recheckAtMs = Number.POSITIVE_INFINITY;
  for await (const b of scanTables(ctx, inputs, dirtyFrom)) {
    if (b.info.isControl) continue;
    const records = await recordsOf(b, ctx);
    let fresh = 0;
    for (const r of records) if (r.key !== null && !latest.has(keyOf(r.key))) fresh++;
    if (fresh > 0 && latest.size > 0 && latest.size + fresh > keysMax) {
      cut = b.info.baseOffset;
      break;
    }
    for (const r of records) {
      if (r.key === null || r.offset < dirtyFrom) continue;
      const k = keyOf(r.key);
      const expired = r.timestamp + retentionMs < nowMs;
      keyedRecords++;
      if (latest.has(k) || (r.value === null && expired)) droppable++;
      if (r.value === null && !expired) recheckAtMs = Math.min(recheckAtMs, r.timestamp + retentionMs + 1);
      latest.set(k, r.offset);
    }
  }
  return { latest, cut, droppable, keyedRecords, recheckAtMs };
}

/**
 * cleanup.policy=compact, in Kafka's manner: the newest offset of each key in the dirty section
 * (offsets at or past keyCompactionCleanOffset) is mapped, then the log below the cut is
 * rewritten keeping every record the map does not show superseded, minus tombstones older than
 * delete.retention.ms (judged by the record's timestamp). Only data below the partition's
 * compaction bound (the high watermark, set by the broker) is touched.
 *
 * Compressed batches are decoded to read their keys, but are kept whole unless every record in
 * them is superseded: @streambus/record cannot re-encode a compressed batch with gaps in its
 * offset deltas. A tombstone is kept while an older record of its key survives inside such a
 * batch, so a deleted key never comes back.
 */
export async function compactKeys(log: PartitionLog, ctx: EngineContext, nowMs: number): Promise<boolean> {
  const bound = log.compactionBound;
  const inputs = log.tables.filter((t) => t.nextOffset <= bound);
  if (inputs.length === 0) return false;
  const signature = inputs.map((t) => t.fileNumber).join(',');
  if (signature === log.keyCompactionSignature && nowMs < log.keyCompactionRecheckAtMs) return false;
  const inputsEnd = inputs.at(-1)?.nextOffset ?? 0;
  const dirtyFrom = Math.max(log.keyCompactionCleanOffset, log.logStartOffset);
  const hasClean = dirtyFrom > (inputs[0]?.baseOffset ?? 0) && dirtyFrom > log.logStartOffset;
  const scan = await scanDirty(log, ctx, inputs, dirtyFrom, nowMs);
  const mustRewrite = scan.droppable > 0 || (hasClean && (scan.keyedRecords > 0 || nowMs >= log.keyCompactionRecheckAtMs));
  const markClean = (recheckAtMs: number, newSignature: string): void => {
    log.keyCompactionCleanOffset = scan.cut;
    log.keyCompactionRecheckAtMs = recheckAtMs;
    // More dirty data past the cut: the next run must not be skipped.
    log.keyCompactionSignature = scan.cut >= inputsEnd ? newSignature : '';
  };
  if (!mustRewrite) {
    markClean(hasClean ? Math.min(log.keyCompactionRecheckAtMs, scan.recheckAtMs) : scan.recheckAtMs, signature);
    return false;
  }
  if (scan.droppable === 0) {
    // Whether the dirty keys supersede anything in the clean section (or a clean tombstone
    // expired) is only known by reading it: do so without writing, before writing it all.
    const dry = { dropped: 0, recheckAtMs: Number.POSITIVE_INFINITY };
    for await (const b of rewriteBelowCut(log, ctx, inputs, scan, nowMs, dry)) void b;
    if (dry.dropped === 0) {
      markClean(dry.recheckAtMs, signature);
      return false;
    }
  }
  const result = { dropped: 0, recheckAtMs: Number.POSITIVE_INFINITY };
  const outputs = await writeOutputs(log, ctx, rewriteBelowCut(log, ctx, inputs, scan, nowMs, result));
  if (result.dropped === 0) {
    await discard(ctx, outputs);
    markClean(result.recheckAtMs, signature);
    return false;
  }
  const ok = await install(log, ctx, inputs, outputs);
  if (ok) markClean(result.recheckAtMs, outputs.map((t) => t.fileNumber).join(','));
  return ok;
}

/** Pass 2: every batch below the cut, with superseded records and expired tombstones removed. */
async function* rewriteBelowCut(
  log: PartitionLog,
  ctx: EngineContext,
  inputs: readonly TableMeta[],
  scan: DirtyScan,
  nowMs: number,
  result: { dropped: number; recheckAtMs: number },
): AsyncGenerator<TableBatch> {
  const retentionMs = log.config.deleteRetentionMs;
  // Keys with a record kept inside a whole compressed batch; bounded like the map, and
  // once full no tombstone is dropped for the rest of the run (safe, merely less compact).
  const pinned = new Set<string>();
  let pinnedFull = false;
  const superseded = (r: KafkaRecord): boolean => r.key !== null && (scan.latest.get(keyOf(r.key)) ?? -1) > r.offset;
  for await (const b of scanTables(ctx, inputs, log.logStartOffset)) {
    if (b.info.isControl || b.info.baseOffset >= scan.cut) {
      yield b;
      continue;
    }
    const records = await recordsOf(b, ctx);
    if (b.info.compression !== 0) {
      if (records.length > 0 && records.every(superseded)) {
        result.dropped += records.length;
        continue;
      }
      // Every key, not only those the map shows superseded: the map covers the dirty section
      // only, and a later tombstone in the clean section must stay just the same.
      for (const r of records) {
        if (r.key === null) continue;
        const k = keyOf(r.key);
        if (pinned.has(k)) continue;
        if (pinned.size < ctx.options.compactionKeysMax) pinned.add(k);
        else pinnedFull = true;
      }
      for (const r of records) if (r.value === null && !superseded(r)) result.recheckAtMs = Math.min(result.recheckAtMs, r.timestamp + retentionMs + 1);
      yield b;
      continue;
    }
    const kept = records.filter((r) => {
      if (r.key === null) return true;
      if (superseded(r)) return false;
      if (r.value !== null) return true;
      const expired = r.timestamp + retentionMs < nowMs;
      if (expired && !pinnedFull && !pinned.has(keyOf(r.key))) return false;
      // Kept: unexpired, or an older value survives in a compressed batch.
      result.recheckAtMs = Math.min(result.recheckAtMs, expired ? Number.POSITIVE_INFINITY : r.timestamp + retentionMs + 1);
      return true;
    });
    result.dropped += records.length - kept.length;
    if (kept.length === records.length) yield b;
    else if (kept.length > 0) {
      // The header (baseOffset, lastOffsetDelta, timestamps, producer fields) stays; records keep their deltas.
      const bytes = encodeWithGaps(b.bytes, kept);
      yield { bytes, info: parseBatchHeader(bytes, 0) };
    }
  }
}
