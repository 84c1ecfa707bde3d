/**
 * Byte layout of a Kafka RecordBatch v2 header (DefaultRecordBatch). All big-endian.
 * docs/formats/record-batch.md holds the prose version of this table.
 */
export const BASE_OFFSET_OFFSET = 0; // int64
export const BATCH_LENGTH_OFFSET = 8; // int32: bytes after this field
export const PARTITION_LEADER_EPOCH_OFFSET = 12; // int32
export const MAGIC_OFFSET = 16; // int8
export const CRC_OFFSET = 17; // uint32, CRC-32C of ATTRIBUTES_OFFSET..end
export const ATTRIBUTES_OFFSET = 21; // int16
export const LAST_OFFSET_DELTA_OFFSET = 23; // int32
export const BASE_TIMESTAMP_OFFSET = 27; // int64
export const MAX_TIMESTAMP_OFFSET = 35; // int64
export const PRODUCER_ID_OFFSET = 43; // int64
export const PRODUCER_EPOCH_OFFSET = 51; // int16
export const BASE_SEQUENCE_OFFSET = 53; // int32
export const RECORDS_COUNT_OFFSET = 57; // int32
export const RECORDS_OFFSET = 61;

export const RECORD_BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the part of the header that batchLength does not count. */
export const LOG_OVERHEAD_BYTES = 12;
export const BATCH_LENGTH_MIN = RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
export const MAGIC_V2 = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1;

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Kafka's codec ids; the index is the id stored in attributes bits 0-2. */
export const COMPRESSION_BY_ID: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export function compressionId(name: CompressionName): number {
  switch (name) {
    case 'none':
      return 0;
    case 'gzip':
      return 1;
    case 'snappy':
      return 2;
    case 'lz4':
      return 3;
    case 'zstd':
      return 4;
  }
}
