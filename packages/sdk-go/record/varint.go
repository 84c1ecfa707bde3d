package record

// Kafka's varints are zig-zag encoded, then written as unsigned LEB128: at most 5 bytes for a
// 32-bit varint and 10 for a 64-bit varlong. Longer encodings are rejected as Kafka does.

const (
	varintBytesMax  = 5
	varlongBytesMax = 10
)

func appendVarint(dst []byte, v int32) []byte {
	return appendUvarint(dst, uint64(uint32((v<<1)^(v>>31))))
}

func appendVarlong(dst []byte, v int64) []byte {
	return appendUvarint(dst, uint64((v<<1)^(v>>63)))
}

func appendUvarint(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func varintSize(v int32) int  { return uvarintSize(uint64(uint32((v << 1) ^ (v >> 31)))) }
func varlongSize(v int64) int { return uvarintSize(uint64((v << 1) ^ (v >> 63))) }

func uvarintSize(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// readVarint decodes a zig-zag varint at b[pos:]; it returns the value and the new position.
func readVarint(b []byte, pos int) (int32, int, error) {
	var u uint32
	for i := 0; i < varintBytesMax; i++ {
		if pos >= len(b) {
			return 0, pos, newError(CodeTruncated, nil, "varint runs past the end of its record data")
		}
		c := b[pos]
		pos++
		// The 5th byte may carry only the top 4 of 32 bits.
		if i == varintBytesMax-1 && c > 0x0f {
			return 0, pos, newError(CodeVarintOverflow, nil, "varint value does not fit 32 bits")
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), pos, nil
		}
	}
	return 0, pos, newError(CodeVarintOverflow, nil, "varint longer than %d bytes", varintBytesMax)
}

// readVarlong decodes a zig-zag varlong at b[pos:].
func readVarlong(b []byte, pos int) (int64, int, error) {
	var u uint64
	for i := 0; i < varlongBytesMax; i++ {
		if pos >= len(b) {
			return 0, pos, newError(CodeTruncated, nil, "varlong runs past the end of its record data")
		}
		c := b[pos]
		pos++
		// The 10th byte may carry only the top bit of 64.
		if i == varlongBytesMax-1 && c > 0x01 {
			return 0, pos, newError(CodeVarintOverflow, nil, "varlong value does not fit 64 bits")
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), pos, nil
		}
	}
	return 0, pos, newError(CodeVarintOverflow, nil, "varlong longer than %d bytes", varlongBytesMax)
}
