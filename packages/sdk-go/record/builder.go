package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DefaultBatchBytesMax is the default byte budget of a Builder (Kafka's batch.size is 16 KiB;
// StreamBus batches more by default, as its producers linger longer).
const DefaultBatchBytesMax = 1 << 20

// Input is one record to append. Timestamp is used as given (the producer sets it; Kafka's
// NoTimestamp is -1). A nil Key or Value is null.
type Input struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp int64
}

type builderConfig struct {
	baseOffset           int64
	compression          Compression
	batchBytesMax        int
	timestampType        TimestampType
	producerID           int64
	producerEpoch        int16
	baseSequence         int32
	isTransactional      bool
	isControl            bool
	partitionLeaderEpoch int32
	logAppendTime        int64
	hasLogAppendTime     bool
}

// BuilderOption configures a Builder.
type BuilderOption func(*builderConfig)

func WithBaseOffset(offset int64) BuilderOption {
	return func(c *builderConfig) { c.baseOffset = offset }
}
func WithCompression(c Compression) BuilderOption {
	return func(cfg *builderConfig) { cfg.compression = c }
}

// WithBatchBytesMax sets the byte budget (uncompressed estimate, header included); the
// first record is always accepted so an oversized record still makes a batch.
func WithBatchBytesMax(n int) BuilderOption { return func(c *builderConfig) { c.batchBytesMax = n } }
func WithTimestampType(t TimestampType) BuilderOption {
	return func(c *builderConfig) { c.timestampType = t }
}
func WithTransactional(on bool) BuilderOption {
	return func(c *builderConfig) { c.isTransactional = on }
}
func WithControl(on bool) BuilderOption { return func(c *builderConfig) { c.isControl = on } }
func WithPartitionLeaderEpoch(epoch int32) BuilderOption {
	return func(c *builderConfig) { c.partitionLeaderEpoch = epoch }
}

// WithLogAppendTime marks the batch log-append time and stores t as its maxTimestamp, which
// every record then reads as its timestamp (what a broker does with message.timestamp.type=LogAppendTime).
func WithLogAppendTime(t int64) BuilderOption {
	return func(c *builderConfig) {
		c.timestampType, c.logAppendTime, c.hasLogAppendTime = TimestampLogAppend, t, true
	}
}

// WithProducer sets the idempotent/transactional producer state of the batch.
func WithProducer(producerID int64, producerEpoch int16, baseSequence int32) BuilderOption {
	return func(c *builderConfig) {
		c.producerID, c.producerEpoch, c.baseSequence = producerID, producerEpoch, baseSequence
	}
}

// Builder accumulates records into one RecordBatch v2. Not safe for concurrent use.
type Builder struct {
	cfg           builderConfig
	buf           []byte // HeaderBytes reserved for the header, then the encoded records, uncompressed
	count         int32
	baseTimestamp int64
	maxTimestamp  int64
	sealed        bool
}

// NewBuilder returns an empty builder; defaults are Kafka's: no producer id/epoch/sequence,
// partitionLeaderEpoch -1, create time, no compression, baseOffset 0.
func NewBuilder(opts ...BuilderOption) *Builder {
	cfg := builderConfig{
		compression:          CompressionNone,
		batchBytesMax:        DefaultBatchBytesMax,
		producerID:           NoProducerID,
		producerEpoch:        NoProducerEpoch,
		baseSequence:         NoSequence,
		partitionLeaderEpoch: NoPartitionLeaderEpoch,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &Builder{cfg: cfg, buf: make([]byte, HeaderBytes, builderInitialBytes), baseTimestamp: NoTimestamp, maxTimestamp: NoTimestamp}
}

// RecordCount is the number of records appended so far.
func (b *Builder) RecordCount() int { return int(b.count) }

// EstimatedBytes is the uncompressed size the batch would have now.
func (b *Builder) EstimatedBytes() int { return len(b.buf) }

// builderInitialBytes is a builder's first allocation; it grows as append grows slices.
const builderInitialBytes = 4 << 10

// grow makes room for n more bytes with a single allocation.
func (b *Builder) grow(n int) {
	if cap(b.buf)-len(b.buf) < n {
		nb := make([]byte, len(b.buf), len(b.buf)+n)
		copy(nb, b.buf)
		b.buf = nb
	}
}

// TryAppend adds r unless that would take the batch past its byte budget; it returns false
// (and leaves the builder unchanged) when the record does not fit. The first record always
// fits, unless it cannot be encoded at all (a field or the record over recordFieldBytesMax).
func (b *Builder) TryAppend(r Input) bool {
	if b.sealed || b.count == math.MaxInt32 || !encodable(r) {
		return false
	}
	var tsDelta int64
	if b.count > 0 {
		tsDelta = r.Timestamp - b.baseTimestamp
	}
	size := encodedRecordSize(r, tsDelta, b.count)
	if b.count > 0 && b.EstimatedBytes()+size > b.cfg.batchBytesMax {
		return false
	}
	if b.count == 0 {
		b.baseTimestamp, b.maxTimestamp = r.Timestamp, r.Timestamp
	}
	b.maxTimestamp = max(b.maxTimestamp, r.Timestamp)
	before := len(b.buf)
	b.buf = appendRecord(b.buf, r, tsDelta, b.count)
	if len(b.buf)-before != size {
		// Invariant: the byte budget is only as good as the size computation.
		panic(fmt.Sprintf("record: wrote %d bytes for a record sized %d", len(b.buf)-before, size))
	}
	b.count++
	return true
}

// Seal returns the finished batch: records compressed if asked, header and CRC written.
// A builder seals once. An empty builder seals to a valid batch of zero records (as
// @streambus/record does), which producers should not send.
func (b *Builder) Seal() ([]byte, error) {
	if b.sealed {
		return nil, newError(CodeInvalidRecord, nil, "Seal called twice")
	}
	b.sealed = true
	if !b.cfg.compression.known() {
		return nil, newError(CodeUnsupportedCompression, nil, "compression codec id %d", int(b.cfg.compression))
	}
	out := b.buf[:len(b.buf):len(b.buf)] // uncompressed: the header goes in front of the records, no copy
	if b.cfg.compression != CompressionNone {
		payload, err := compress(b.cfg.compression, b.buf[HeaderBytes:])
		if err != nil {
			return nil, err
		}
		out = make([]byte, HeaderBytes, HeaderBytes+len(payload))
		out = append(out, payload...)
	}
	if int64(len(out))-offPartitionLeaderEpoch > math.MaxInt32 {
		return nil, newError(CodeInvalidLength, nil, "batch of %d bytes exceeds the int32 batchLength", len(out))
	}
	attrs := uint16(b.cfg.compression)
	if b.cfg.timestampType == TimestampLogAppend {
		attrs |= attrTimestampType
	}
	if b.cfg.isTransactional {
		attrs |= attrTransactional
	}
	if b.cfg.isControl {
		attrs |= attrControl
	}
	be := binary.BigEndian
	be.PutUint64(out[offBaseOffset:], uint64(b.cfg.baseOffset))
	be.PutUint32(out[offBatchLength:], uint32(len(out)-offPartitionLeaderEpoch))
	be.PutUint32(out[offPartitionLeaderEpoch:], uint32(b.cfg.partitionLeaderEpoch))
	out[offMagic] = Magic
	be.PutUint16(out[offAttributes:], attrs)
	be.PutUint32(out[offLastOffsetDelta:], uint32(max(b.count-1, 0)))
	maxTimestamp := b.maxTimestamp
	if b.cfg.hasLogAppendTime {
		maxTimestamp = b.cfg.logAppendTime
	}
	be.PutUint64(out[offBaseTimestamp:], uint64(b.baseTimestamp))
	be.PutUint64(out[offMaxTimestamp:], uint64(maxTimestamp))
	be.PutUint64(out[offProducerID:], uint64(b.cfg.producerID))
	be.PutUint16(out[offProducerEpoch:], uint16(b.cfg.producerEpoch))
	be.PutUint32(out[offBaseSequence:], uint32(b.cfg.baseSequence))
	be.PutUint32(out[offRecordCount:], uint32(b.count))
	be.PutUint32(out[offCRC:], CRC32C(out[offAttributes:]))
	return out, nil
}

// EncodeBatch builds one batch holding all of records (no byte budget).
func EncodeBatch(records []Input, opts ...BuilderOption) ([]byte, error) {
	b := NewBuilder(append(opts, WithBatchBytesMax(math.MaxInt))...)
	if len(records) > 0 {
		total := 0
		for i, r := range records {
			total += encodedRecordSize(r, r.Timestamp-records[0].Timestamp, int32(i))
		}
		b.grow(total)
	}
	for _, r := range records {
		if !b.TryAppend(r) {
			return nil, newError(CodeInvalidRecord, nil, "too many records for one batch")
		}
	}
	return b.Seal()
}

// recordFieldBytesMax keeps every varint length and the batch's int32 batchLength in range.
const recordFieldBytesMax = 1 << 30

func encodable(r Input) bool {
	total := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		total += len(h.Key) + len(h.Value)
	}
	return total <= recordFieldBytesMax && len(r.Headers) <= recordFieldBytesMax
}

func bytesFieldSize(b []byte) int {
	if b == nil {
		return varintSize(-1)
	}
	return varintSize(int32(len(b))) + len(b)
}

func encodedBodySize(r Input, tsDelta int64, offsetDelta int32) int {
	n := 1 + varlongSize(tsDelta) + varintSize(offsetDelta) + bytesFieldSize(r.Key) + bytesFieldSize(r.Value)
	n += varintSize(int32(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintSize(int32(len(h.Key))) + len(h.Key) + bytesFieldSize(h.Value)
	}
	return n
}

func encodedRecordSize(r Input, tsDelta int64, offsetDelta int32) int {
	body := encodedBodySize(r, tsDelta, offsetDelta)
	return varintSize(int32(body)) + body
}

func appendBytesField(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	return append(appendVarint(dst, int32(len(b))), b...)
}

func appendRecord(dst []byte, r Input, tsDelta int64, offsetDelta int32) []byte {
	dst = appendVarint(dst, int32(encodedBodySize(r, tsDelta, offsetDelta)))
	dst = append(dst, 0) // record attributes: unused by Kafka, always 0
	dst = appendVarlong(dst, tsDelta)
	dst = appendVarint(dst, offsetDelta)
	dst = appendBytesField(dst, r.Key)
	dst = appendBytesField(dst, r.Value)
	dst = appendVarint(dst, int32(len(r.Headers)))
	for _, h := range r.Headers {
		dst = appendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytesField(dst, h.Value)
	}
	return dst
}
