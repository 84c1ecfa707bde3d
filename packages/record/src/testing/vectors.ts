// Test-only helper shared by vectors.test.ts and kafka-fixtures.test.ts; not exported
// from the package entry.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { BatchView, decodeRecords, encodeBatch, type Record, type RecordInput } from '../index.js';

export interface VectorHeader {
  key: string;
  value: string | null;
}
export interface VectorRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: VectorHeader[];
}
export interface VectorBatch {
  baseOffset: number;
  partitionLeaderEpoch: number;
  magic: 2;
  crc: number;
  attributes: number;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  timestampType: 'create' | 'log-append';
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  records: VectorRecord[];
}
export interface Vector {
  name: string;
  description: string;
  hex: string;
  batch: VectorBatch;
}

export function loadVectors(dir: URL): { file: string; vector: Vector }[] {
  const path = fileURLToPath(dir);
  let names: string[];
  try {
    names = readdirSync(path).filter((name) => name.endsWith('.json'));
  } catch {
    names = [];
  }
  return names.sort().map((file) => ({ file, vector: JSON.parse(readFileSync(join(path, file), 'utf8')) as Vector }));
}

const hexOrNull = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
const bufOrNull = (h: string | null): Buffer | null => (h === null ? null : Buffer.from(h, 'hex'));

function asVectorRecords(records: Record[]): VectorRecord[] {
  return records.map((r) => ({
    offset: r.offset,
    timestamp: r.timestamp,
    key: hexOrNull(r.key),
    value: hexOrNull(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: hexOrNull(h.value) })),
  }));
}

function expectHeader(view: BatchView, batch: VectorBatch): void {
  expect({
    baseOffset: view.baseOffset,
    partitionLeaderEpoch: view.partitionLeaderEpoch,
    magic: view.magic,
    crc: view.crc,
    attributes: view.attributes,
    compression: view.compression,
    timestampType: view.timestampType,
    isTransactional: view.isTransactional,
    isControl: view.isControl,
    lastOffsetDelta: view.lastOffsetDelta,
    baseTimestamp: view.baseTimestamp,
    maxTimestamp: view.maxTimestamp,
    producerId: view.producerId,
    producerEpoch: view.producerEpoch,
    baseSequence: view.baseSequence,
    recordCount: view.recordCount,
  }).toEqual({ ...batch, records: undefined });
}

/**
 * Decodes the vector's bytes and compares every field; then re-encodes from the JSON and
 * requires identical bytes (uncompressed) or an identical decode (compressed: codec
 * libraries differ in their exact output).
 */
export async function checkVector(vector: Vector): Promise<void> {
  const { batch } = vector;
  const bytes = Buffer.from(vector.hex, 'hex');
  const view = BatchView.parse(bytes);
  expect(view.sizeInBytes).toBe(bytes.length);
  view.validate();
  expectHeader(view, batch);
  const decoded = await decodeRecords(view);
  expect(asVectorRecords(decoded)).toEqual(batch.records);

  // A log-append batch stores each record's create-time delta, but readers see maxTimestamp
  // for every record, so the JSON cannot carry the deltas: take them from the decode.
  const inputs: RecordInput[] = batch.records.map((r, i) => ({
    key: bufOrNull(r.key),
    value: bufOrNull(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: bufOrNull(h.value) })),
    timestamp: batch.timestampType === 'log-append' ? batch.baseTimestamp + decoded[i]!.timestampDelta : r.timestamp,
  }));
  const denseOffsets = batch.records.every((r, i) => r.offset === batch.baseOffset + i);
  if (!denseOffsets) return; // compacted batches have gaps the builder cannot produce
  const reencoded = await encodeBatch(inputs, {
    baseOffset: batch.baseOffset,
    compression: batch.compression,
    timestampType: batch.timestampType,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    isTransactional: batch.isTransactional,
    isControl: batch.isControl,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    now: () => batch.maxTimestamp,
  });
  if (batch.compression === 'none' && batch.records.length === batch.lastOffsetDelta + 1) {
    expect(reencoded.toString('hex')).toBe(vector.hex);
  }
  const again = BatchView.parse(reencoded);
  again.validate();
  expectHeader(again, { ...batch, crc: again.crc });
  expect(asVectorRecords(await decodeRecords(again))).toEqual(batch.records);
}
