export { RecordError, isRecordError, type RecordErrorCode } from './errors.js';
export { crc32c } from './crc32c.js';
export {
  RECORD_BATCH_HEADER_BYTES,
  NO_PRODUCER_ID,
  NO_PRODUCER_EPOCH,
  NO_SEQUENCE,
  NO_PARTITION_LEADER_EPOCH,
  NO_TIMESTAMP,
  type CompressionName,
} from './layout.js';
export { BatchView, splitBatches } from './batch-view.js';
export { type Header, type RecordInput, type Record } from './record.js';
export { DECOMPRESSED_BYTES_MAX_DEFAULT } from './codecs.js';
export { decodeRecords, iterateRecords, type DecodeOptions } from './decoder.js';
export { BatchBuilder, encodeBatch, BATCH_BYTES_MAX_DEFAULT, type BatchBuilderOptions } from './builder.js';
