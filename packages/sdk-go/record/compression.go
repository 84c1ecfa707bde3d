package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression is a codec id as Kafka numbers them in attributes bits 0-2.
type Compression int8

const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLz4    Compression = 3
	CompressionZstd   Compression = 4
)

// DefaultMaxDecompressedBytes bounds one batch's decompressed records when the caller gives no bound.
const DefaultMaxDecompressedBytes = 64 << 20

var compressionNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

func (c Compression) known() bool { return c >= CompressionNone && c <= CompressionZstd }

func (c Compression) String() string {
	if c.known() {
		return compressionNames[c]
	}
	return "unknown"
}

// ParseCompression maps Kafka's compression.type names ("none", "gzip", ...) to a codec.
func ParseCompression(name string) (Compression, error) {
	for i, n := range compressionNames {
		if n == name {
			return Compression(i), nil
		}
	}
	return 0, newError(CodeUnsupportedCompression, nil, "unknown compression %q", name)
}

// xerial snappy-java stream framing, what Kafka's Java client writes for snappy
// (SnappyOutputStream): an 8-byte magic, version 1, compatible version 1, then chunks of
// (int32 big-endian compressed length, raw snappy block), each block at most 32 KiB of input.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderBytes = 16
	xerialBlockBytes  = 32 << 10
	// lz4 blocks as Kafka's KafkaLZ4BlockOutputStream writes them: 64 KiB, independent,
	// no block or content checksum.
	lz4BlockSize = lz4.Block64Kb
	// zstd windows up to this size are always accepted (levels <= 19 stay within it); larger
	// windows only up to the caller's decompression bound rounded up to a power of two.
	zstdWindowBytesFloor = 8 << 20
)

var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))

func compress(c Compression, src []byte) ([]byte, error) {
	switch c {
	case CompressionNone:
		return src, nil
	case CompressionGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "gzip compression failed")
		}
		if err := w.Close(); err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "gzip compression failed")
		}
		return buf.Bytes(), nil
	case CompressionSnappy:
		return xerialEncode(src), nil
	case CompressionLz4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4BlockSize), lz4.ChecksumOption(false),
			lz4.BlockChecksumOption(false), lz4.ConcurrencyOption(1)); err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "lz4 options")
		}
		if _, err := w.Write(src); err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "lz4 compression failed")
		}
		if err := w.Close(); err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "lz4 compression failed")
		}
		return buf.Bytes(), nil
	case CompressionZstd:
		return zstdEncoder.EncodeAll(src, nil), nil
	}
	return nil, newError(CodeUnsupportedCompression, nil, "compression codec id %d", int(c))
}

// decompress never allocates more than about maxBytes for the output, whatever the input
// claims: codecs that declare sizes are checked before allocating, streams are cut at maxBytes+1.
func decompress(c Compression, src []byte, maxBytes int) ([]byte, error) {
	switch c {
	case CompressionNone:
		return src, nil
	case CompressionGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, newError(CodeCorruptCompressedData, err, "gzip header")
		}
		return readBounded(r, maxBytes, sizeHint(src, maxBytes), "gzip")
	case CompressionSnappy:
		return xerialDecode(src, maxBytes)
	case CompressionLz4:
		return readBounded(lz4.NewReader(bytes.NewReader(src)), maxBytes, sizeHint(src, maxBytes), "lz4")
	case CompressionZstd:
		return zstdDecode(src, maxBytes)
	}
	return nil, newError(CodeUnsupportedCompression, nil, "compression codec id %d", int(c))
}

// zstd decoders are pooled per window limit: building one costs more than decoding a small batch.
var (
	zstdPoolsMu sync.Mutex
	zstdPools   = map[uint64]*sync.Pool{}
)

func zstdPool(window uint64) *sync.Pool {
	zstdPoolsMu.Lock()
	defer zstdPoolsMu.Unlock()
	p, ok := zstdPools[window]
	if !ok {
		p = &sync.Pool{}
		zstdPools[window] = p
	}
	return p
}

func zstdDecode(src []byte, maxBytes int) ([]byte, error) {
	// Rounded up to a power of two so the pool map stays small whatever bounds callers use.
	window := uint64(1) << bits.Len64(uint64(max(maxBytes, zstdWindowBytesFloor))-1)
	window = min(window, zstd.MaxWindowSize)
	pool := zstdPool(window)
	d, _ := pool.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(window), zstd.WithDecoderMaxMemory(window))
		if err != nil {
			return nil, classifyZstd(err)
		}
	}
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		// A decoder whose Reset failed is not trusted again.
		return nil, classifyZstd(err)
	}
	out, err := readBounded(d, maxBytes, sizeHint(src, maxBytes), "zstd")
	// Drop the reference to src before pooling; a failed decoder is dropped entirely.
	if resetErr := d.Reset(bytes.NewReader(nil)); err == nil && resetErr == nil {
		pool.Put(d)
	}
	if err != nil {
		return nil, classifyZstd(err)
	}
	return out, nil
}

func classifyZstd(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeCorruptCompressedData {
		return e
	}
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return newError(CodeDecompressedTooLarge, err, "zstd frame needs more than the decompression bound")
	}
	if e != nil {
		return e
	}
	return newError(CodeCorruptCompressedData, err, "zstd")
}

// sizeHint guesses a stream's decompressed size for the first allocation (never past the bound).
func sizeHint(src []byte, maxBytes int) int { return min(4*len(src)+512, maxBytes+1) }

// readBounded reads r to EOF but never more than maxBytes+1 bytes.
func readBounded(r io.Reader, maxBytes, hint int, codec string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(hint)
	n, err := io.Copy(&buf, io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return nil, newError(CodeCorruptCompressedData, err, "%s stream", codec)
	}
	if n > int64(maxBytes) {
		return nil, newError(CodeDecompressedTooLarge, nil, "%s decompresses to more than %d bytes", codec, maxBytes)
	}
	return buf.Bytes(), nil
}

func xerialEncode(src []byte) []byte {
	capacity := xerialHeaderBytes
	for pos := 0; pos < len(src); pos += xerialBlockBytes {
		capacity += 4 + s2.MaxEncodedLen(min(xerialBlockBytes, len(src)-pos))
	}
	out := make([]byte, 0, capacity)
	out = append(out, xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1) // version
	out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
	for pos := 0; pos < len(src); pos += xerialBlockBytes {
		lengthAt := len(out)
		// Encode straight into out's spare capacity, after room for the chunk length.
		block := s2.EncodeSnappy(out[lengthAt+4:cap(out)], src[pos:min(pos+xerialBlockBytes, len(src))])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		if len(block) > 0 && &block[0] != &out[lengthAt+4 : cap(out)][0] {
			copy(out[lengthAt+4:cap(out)], block) // the encoder allocated after all
		}
		out = out[:len(out)+len(block)]
	}
	return out
}

// xerialDecode reads the xerial stream framing and, like snappy-java's SnappyInputStream,
// falls back to one raw snappy block when the magic is absent (what non-Java clients write).
func xerialDecode(src []byte, maxBytes int) ([]byte, error) {
	if len(src) < len(xerialMagic) || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return snappyBlock(nil, src, maxBytes)
	}
	if len(src) < xerialHeaderBytes {
		return nil, newError(CodeCorruptCompressedData, nil, "snappy: truncated xerial header")
	}
	// snappy-java refuses streams whose minimum compatible version is newer than 1.
	if compat := binary.BigEndian.Uint32(src[12:16]); compat > 1 {
		return nil, newError(CodeCorruptCompressedData, nil, "snappy: xerial compatible version %d", compat)
	}
	var out []byte
	for pos := xerialHeaderBytes; pos < len(src); {
		if len(src)-pos < 4 {
			return nil, newError(CodeCorruptCompressedData, nil, "snappy: truncated chunk length")
		}
		n := int(binary.BigEndian.Uint32(src[pos:]))
		pos += 4
		if n < 0 || n > len(src)-pos {
			return nil, newError(CodeCorruptCompressedData, nil, "snappy: chunk of %d bytes, %d left", n, len(src)-pos)
		}
		var err error
		if out, err = snappyBlock(out, src[pos:pos+n], maxBytes); err != nil {
			return nil, err
		}
		pos += n
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// snappyBlock appends one raw snappy block to dst, checking its declared size against the bound first.
func snappyBlock(dst, block []byte, maxBytes int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, newError(CodeCorruptCompressedData, err, "snappy block header")
	}
	if n > maxBytes-len(dst) {
		return nil, newError(CodeDecompressedTooLarge, nil, "snappy decompresses to more than %d bytes", maxBytes)
	}
	start := len(dst)
	dst = growTo(dst, start+n, maxBytes)
	if _, err := s2.Decode(dst[start:], block); err != nil {
		return nil, newError(CodeCorruptCompressedData, err, "snappy block")
	}
	return dst, nil
}

// growTo extends b to length n, doubling capacity but never past limit (n <= limit).
func growTo(b []byte, n, limit int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, max(n, min(2*cap(b), limit)))
	copy(nb, b)
	return nb
}
