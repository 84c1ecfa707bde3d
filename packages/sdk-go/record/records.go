package record

// Record layout (all lengths zig-zag varints; -1 means null):
//
//	length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//	keyLength varint | key | valueLength varint | value |
//	headerCount varint | { headerKeyLength varint | key (utf8) | headerValueLength varint | value }*

// recordBytesMin is the smallest encoded record: a 1-byte length and six 1-byte fields.
const recordBytesMin = 7

// Header is one record header. A nil Value is Kafka's null, distinct from an empty value.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record. Nil Key/Value are null; empty non-nil slices are empty.
// For uncompressed batches Key, Value and header values alias the batch's bytes.
type Record struct {
	Offset         int64
	Timestamp      int64
	Key            []byte
	Value          []byte
	Headers        []Header
	OffsetDelta    int32
	TimestampDelta int64
	Attributes     int8
}

// RecordIterator walks the records of one batch. Use it as
//
//	for it.Next() { r := it.Record() }
//	if err := it.Err(); err != nil { ... }
type RecordIterator struct {
	view      BatchView
	data      []byte
	pos       int
	index     int32
	count     int32
	current   Record
	err       error
	logAppend bool
}

// Records validates the batch (header and CRC, see Validate), decompresses it bounded by
// maxDecompressedBytes (0 means DefaultMaxDecompressedBytes; negative is an error) and returns
// an iterator over its records.
func (v BatchView) Records(maxDecompressedBytes int) (*RecordIterator, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if maxDecompressedBytes < 0 {
		return nil, newError(CodeInvalidLength, nil, "negative maxDecompressedBytes %d", maxDecompressedBytes)
	}
	if maxDecompressedBytes == 0 {
		maxDecompressedBytes = DefaultMaxDecompressedBytes
	}
	count := v.RecordCount()
	data := v.Payload()
	// An empty batch left by compaction carries no compressed stream at all.
	if len(data) > 0 || count > 0 {
		var err error
		if data, err = decompress(v.Compression(), data, maxDecompressedBytes); err != nil {
			return nil, err
		}
	}
	if int64(count)*recordBytesMin > int64(len(data)) {
		return nil, newError(CodeRecordCountMismatch, nil, "recordCount %d cannot fit in %d bytes", count, len(data))
	}
	return &RecordIterator{view: v, data: data, count: count, logAppend: v.TimestampType() == TimestampLogAppend}, nil
}

// DecodeRecords decodes every record of the batch.
func DecodeRecords(v BatchView, maxDecompressedBytes int) ([]Record, error) {
	it, err := v.Records(maxDecompressedBytes)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, it.count)
	for it.Next() {
		out = append(out, it.Record())
	}
	return out, it.Err()
}

// Next decodes the next record; it returns false at the end or on an error (see Err).
func (it *RecordIterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.index == it.count {
		if it.pos != len(it.data) {
			it.err = newError(CodeRecordCountMismatch, nil, "%d bytes left after the %d declared records", len(it.data)-it.pos, it.count)
		}
		return false
	}
	if it.pos >= len(it.data) {
		it.err = newError(CodeRecordCountMismatch, nil, "batch declares %d records, data ends after %d", it.count, it.index)
		return false
	}
	r, next, err := it.decodeOne(it.pos)
	if err != nil {
		it.err = err
		return false
	}
	it.pos = next
	it.index++
	it.current = r
	return true
}

// Record is the record decoded by the last successful Next.
func (it *RecordIterator) Record() Record { return it.current }

// Err is the error that stopped iteration, or nil after a clean end.
func (it *RecordIterator) Err() error { return it.err }

func (it *RecordIterator) decodeOne(pos int) (Record, int, error) {
	length, pos, err := readVarint(it.data, pos)
	if err != nil {
		return Record{}, 0, err
	}
	if length < recordBytesMin-1 || int(length) > len(it.data)-pos {
		return Record{}, 0, newError(CodeInvalidRecord, nil, "record %d: length %d with %d bytes left", it.index, length, len(it.data)-pos)
	}
	end := pos + int(length)
	b := it.data[:end]
	var r Record
	r.Attributes = int8(b[pos])
	pos++
	if r.TimestampDelta, pos, err = readVarlong(b, pos); err != nil {
		return Record{}, 0, err
	}
	if r.OffsetDelta, pos, err = readVarint(b, pos); err != nil {
		return Record{}, 0, err
	}
	if r.Key, pos, err = readBytes(b, pos, "key"); err != nil {
		return Record{}, 0, err
	}
	if r.Value, pos, err = readBytes(b, pos, "value"); err != nil {
		return Record{}, 0, err
	}
	headerCount, pos, err := readVarint(b, pos)
	if err != nil {
		return Record{}, 0, err
	}
	// Each header takes at least 2 bytes; this bounds the allocation below.
	if headerCount < 0 || int(headerCount) > (end-pos)/2 {
		return Record{}, 0, newError(CodeInvalidRecord, nil, "record %d: %d headers in %d bytes", it.index, headerCount, end-pos)
	}
	if headerCount > 0 {
		r.Headers = make([]Header, headerCount)
	} else {
		r.Headers = []Header{}
	}
	for i := range r.Headers {
		var key []byte
		if key, pos, err = readBytes(b, pos, "header key"); err != nil {
			return Record{}, 0, err
		}
		if key == nil {
			return Record{}, 0, newError(CodeInvalidRecord, nil, "record %d: null header key", it.index)
		}
		r.Headers[i].Key = string(key)
		if r.Headers[i].Value, pos, err = readBytes(b, pos, "header value"); err != nil {
			return Record{}, 0, err
		}
	}
	if pos != end {
		return Record{}, 0, newError(CodeInvalidRecord, nil, "record %d: %d bytes left inside its declared length", it.index, end-pos)
	}
	r.Offset = it.view.BaseOffset() + int64(r.OffsetDelta)
	if it.logAppend {
		// With log-append time every record's timestamp is the broker's, kept in maxTimestamp.
		r.Timestamp = it.view.MaxTimestamp()
	} else {
		r.Timestamp = it.view.BaseTimestamp() + r.TimestampDelta
	}
	return r, end, nil
}

// readBytes reads a varint length and that many bytes; length -1 is null (nil).
func readBytes(b []byte, pos int, what string) ([]byte, int, error) {
	n, pos, err := readVarint(b, pos)
	if err != nil {
		return nil, 0, err
	}
	if n == -1 {
		return nil, pos, nil
	}
	if n < -1 || int(n) > len(b)-pos {
		return nil, 0, newError(CodeInvalidRecord, nil, "%s length %d with %d bytes left", what, n, len(b)-pos)
	}
	return b[pos : pos+int(n) : pos+int(n)], pos + int(n), nil
}
