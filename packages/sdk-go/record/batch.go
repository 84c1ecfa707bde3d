// Package record reads and writes Kafka RecordBatch v2 (magic 2), byte for byte as Apache
// Kafka does, with the same error codes as the TypeScript package @streambus/record.
//
// Layout of the 61-byte header (big-endian):
//
//	baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 |
//	crc uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 |
//	maxTimestamp int64 | producerId int64 | producerEpoch int16 | baseSequence int32 |
//	recordCount int32
//
// batchLength counts the bytes after itself; the CRC-32C covers attributes to the end of the
// batch, so baseOffset and partitionLeaderEpoch can be rewritten without recomputing it.
package record

import (
	"encoding/binary"
	"hash/crc32"
)

// HeaderBytes is the size of a RecordBatch v2 header.
const HeaderBytes = 61

// Magic is the only batch format version this package reads and writes.
const Magic = 2

const (
	offBaseOffset           = 0
	offBatchLength          = 8
	offPartitionLeaderEpoch = 12
	offMagic                = 16
	offCRC                  = 17
	offAttributes           = 21
	offLastOffsetDelta      = 23
	offBaseTimestamp        = 27
	offMaxTimestamp         = 35
	offProducerID           = 43
	offProducerEpoch        = 51
	offBaseSequence         = 53
	offRecordCount          = 57

	// batchLengthMin is the batchLength of a batch with no record bytes: the header minus
	// the baseOffset and batchLength fields.
	batchLengthMin = HeaderBytes - offPartitionLeaderEpoch
)

const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
	attrDeleteHorizon   = 0x40
)

// Kafka's "no value" sentinels.
const (
	NoProducerID           int64 = -1
	NoProducerEpoch        int16 = -1
	NoSequence             int32 = -1
	NoPartitionLeaderEpoch int32 = -1
	NoTimestamp            int64 = -1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is the checksum Kafka uses for RecordBatch v2.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// TimestampType says whether record timestamps were set by the producer or by the broker.
type TimestampType int8

const (
	TimestampCreate    TimestampType = 0
	TimestampLogAppend TimestampType = 1
)

func (t TimestampType) String() string {
	if t == TimestampLogAppend {
		return "log-append"
	}
	return "create"
}

// BatchView is a zero-copy view over exactly one batch. Getters read the header in place;
// nothing is decoded until DecodeRecords or Records is called.
type BatchView struct {
	b []byte
}

// ParseBatch frames the batch that starts at b[0]. It checks the length field and the magic
// byte only (not the CRC: see Validate); bytes after the batch are ignored.
func ParseBatch(b []byte) (BatchView, error) {
	if len(b) < offBatchLength+4 {
		return BatchView{}, newError(CodeTruncated, nil, "%d bytes cannot hold a batch length field", len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < batchLengthMin {
		return BatchView{}, newError(CodeInvalidLength, nil, "batchLength %d is below the minimum %d", length, batchLengthMin)
	}
	if len(b) <= offMagic {
		return BatchView{}, newError(CodeTruncated, nil, "%d bytes cannot hold the magic byte", len(b))
	}
	if m := int8(b[offMagic]); m != Magic {
		return BatchView{}, newError(CodeInvalidMagic, nil, "magic %d, only %d is supported", m, Magic)
	}
	size := offPartitionLeaderEpoch + int(length)
	if len(b) < size {
		return BatchView{}, newError(CodeTruncated, nil, "batch needs %d bytes, %d available", size, len(b))
	}
	return BatchView{b: b[:size:size]}, nil
}

// SplitBatches frames every batch of a concatenation; a partial or malformed batch is an error.
func SplitBatches(b []byte) ([]BatchView, error) {
	var out []BatchView
	for pos := 0; pos < len(b); {
		v, err := ParseBatch(b[pos:])
		if err != nil {
			return out, err
		}
		out = append(out, v)
		pos += v.SizeInBytes()
	}
	return out, nil
}

func (v BatchView) Bytes() []byte      { return v.b }
func (v BatchView) SizeInBytes() int   { return len(v.b) }
func (v BatchView) BaseOffset() int64  { return int64(binary.BigEndian.Uint64(v.b[offBaseOffset:])) }
func (v BatchView) BatchLength() int32 { return int32(binary.BigEndian.Uint32(v.b[offBatchLength:])) }
func (v BatchView) Magic() int8        { return int8(v.b[offMagic]) }
func (v BatchView) CRC() uint32        { return binary.BigEndian.Uint32(v.b[offCRC:]) }
func (v BatchView) Attributes() int16  { return int16(binary.BigEndian.Uint16(v.b[offAttributes:])) }
func (v BatchView) LastOffsetDelta() int32 {
	return int32(binary.BigEndian.Uint32(v.b[offLastOffsetDelta:]))
}
func (v BatchView) PartitionLeaderEpoch() int32 {
	return int32(binary.BigEndian.Uint32(v.b[offPartitionLeaderEpoch:]))
}
func (v BatchView) BaseTimestamp() int64 {
	return int64(binary.BigEndian.Uint64(v.b[offBaseTimestamp:]))
}
func (v BatchView) MaxTimestamp() int64 { return int64(binary.BigEndian.Uint64(v.b[offMaxTimestamp:])) }
func (v BatchView) ProducerID() int64   { return int64(binary.BigEndian.Uint64(v.b[offProducerID:])) }
func (v BatchView) ProducerEpoch() int16 {
	return int16(binary.BigEndian.Uint16(v.b[offProducerEpoch:]))
}
func (v BatchView) BaseSequence() int32 { return int32(binary.BigEndian.Uint32(v.b[offBaseSequence:])) }
func (v BatchView) RecordCount() int32  { return int32(binary.BigEndian.Uint32(v.b[offRecordCount:])) }

// Compression is the codec id in attributes bits 0-2 (possibly not one we know; see Validate).
func (v BatchView) Compression() Compression {
	return Compression(v.Attributes() & attrCompressionMask)
}

func (v BatchView) TimestampType() TimestampType {
	if v.Attributes()&attrTimestampType != 0 {
		return TimestampLogAppend
	}
	return TimestampCreate
}

func (v BatchView) IsTransactional() bool  { return v.Attributes()&attrTransactional != 0 }
func (v BatchView) IsControl() bool        { return v.Attributes()&attrControl != 0 }
func (v BatchView) HasDeleteHorizon() bool { return v.Attributes()&attrDeleteHorizon != 0 }
func (v BatchView) LastOffset() int64      { return v.BaseOffset() + int64(v.LastOffsetDelta()) }
func (v BatchView) NextOffset() int64      { return v.LastOffset() + 1 }

// Payload is the (possibly compressed) record bytes after the header.
func (v BatchView) Payload() []byte { return v.b[HeaderBytes:] }

// ComputeCRC computes the CRC-32C of attributes..end, the part Kafka's checksum covers.
func (v BatchView) ComputeCRC() uint32 { return CRC32C(v.b[offAttributes:]) }

// VerifyCRC reports whether the stored CRC matches the bytes.
func (v BatchView) VerifyCRC() bool { return v.ComputeCRC() == v.CRC() }

// Validate checks what a broker checks before accepting a batch without decompressing it:
// the CRC first (a flipped bit is corruption, whatever field it hit), then a known codec and
// counts consistent with each other. Codes match @streambus/record's validate().
func (v BatchView) Validate() error {
	if len(v.b) < HeaderBytes || int(v.BatchLength())+offPartitionLeaderEpoch != len(v.b) {
		return newError(CodeInvalidLength, nil, "view of %d bytes does not hold one whole batch", len(v.b))
	}
	if m := v.Magic(); m != Magic {
		return newError(CodeInvalidMagic, nil, "magic %d, only %d is supported", m, Magic)
	}
	if stored, computed := v.CRC(), v.ComputeCRC(); stored != computed {
		return newError(CodeCorruptCRC, nil, "stored crc %d, computed %d", stored, computed)
	}
	if c := v.Compression(); !c.known() {
		return newError(CodeUnsupportedCompression, nil, "compression codec id %d", int(c))
	}
	if base := v.BaseOffset(); base < 0 {
		return newError(CodeInvalidLength, nil, "negative baseOffset %d", base)
	}
	lastDelta := v.LastOffsetDelta()
	if lastDelta < 0 {
		return newError(CodeInvalidLength, nil, "negative lastOffsetDelta %d", lastDelta)
	}
	count := v.RecordCount()
	if count < 0 {
		return newError(CodeInvalidLength, nil, "negative recordCount %d", count)
	}
	// Compaction removes records but never adds offsets: the count fits the offset span.
	if int64(count) > int64(lastDelta)+1 {
		return newError(CodeRecordCountMismatch, nil, "recordCount %d exceeds the offset span %d", count, int64(lastDelta)+1)
	}
	return nil
}

// SetBaseOffset rewrites baseOffset in place; the CRC does not cover it.
func (v BatchView) SetBaseOffset(offset int64) {
	binary.BigEndian.PutUint64(v.b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites partitionLeaderEpoch in place; the CRC does not cover it.
func (v BatchView) SetPartitionLeaderEpoch(epoch int32) {
	binary.BigEndian.PutUint32(v.b[offPartitionLeaderEpoch:], uint32(epoch))
}
