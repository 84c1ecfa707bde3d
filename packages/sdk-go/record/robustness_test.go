package record

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// seed returns SEED from the environment (so a failure replays exactly) or a fixed default.
func seed(t *testing.T) int64 {
	if s := os.Getenv("SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", s, err)
		}
		return v
	}
	return 20261125
}

func iterations(short, long int) int {
	if os.Getenv("STREAMBUS_LONG") == "1" {
		return long
	}
	return short
}

// decodeAll runs every reader over b and requires that failures are *Error, never panics.
func decodeAll(t *testing.T, b []byte, maxBytes int, label string) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s: panic %v on input %s", label, p, hex.EncodeToString(b))
		}
	}()
	views, err := SplitBatches(b)
	checkErr(t, err, label)
	for _, v := range views {
		checkErr(t, v.Validate(), label)
		_ = v.VerifyCRC()
		_, err := DecodeRecords(v, maxBytes)
		checkErr(t, err, label)
	}
}

func checkErr(t *testing.T, err error, label string) {
	t.Helper()
	if err == nil {
		return
	}
	if _, ok := CodeOf(err); !ok {
		t.Fatalf("%s: error is not a *record.Error: %v", label, err)
	}
}

// fixCRC makes a mutated batch pass the CRC so decoding reaches the record and codec layers.
func fixCRC(b []byte) {
	if len(b) >= HeaderBytes {
		binary.BigEndian.PutUint32(b[offCRC:], CRC32C(b[offAttributes:]))
	}
}

func TestRandomBytesNeverPanic(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewSource(s))
	for i := 0; i < iterations(3000, 100000); i++ {
		b := make([]byte, rng.Intn(200))
		rng.Read(b)
		if len(b) > offMagic && rng.Intn(2) == 0 {
			// Plausible framing so the checks after length and magic run too.
			binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-offPartitionLeaderEpoch))
			b[offMagic] = Magic
			fixCRC(b)
		}
		decodeAll(t, b, 1<<20, fmt.Sprintf("seed %d iteration %d", s, i))
	}
}

func TestMutatedBatchesNeverPanic(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewSource(s))
	for _, c := range allCodecs {
		originals := make([][]byte, 0, 4)
		for j := 0; j < 4; j++ {
			originals = append(originals, mustSeal(t, randomInputs(rng), WithCompression(c)))
		}
		for i := 0; i < iterations(400, 20000); i++ {
			b := bytes.Clone(originals[rng.Intn(len(originals))])
			switch rng.Intn(4) {
			case 0: // flip bytes in the payload
				for k := 1 + rng.Intn(4); k > 0; k-- {
					b[HeaderBytes+rng.Intn(len(b)-HeaderBytes)] ^= byte(1 + rng.Intn(255))
				}
			case 1: // truncate the payload, keeping the framing consistent
				b = b[:HeaderBytes+rng.Intn(len(b)-HeaderBytes)]
				binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-offPartitionLeaderEpoch))
			case 2: // lie about the record count
				binary.BigEndian.PutUint32(b[offRecordCount:], uint32(rng.Intn(100)))
				binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(100))
			case 3: // flip any byte, header included
				b[rng.Intn(len(b))] ^= byte(1 + rng.Intn(255))
			}
			if rng.Intn(4) != 0 {
				fixCRC(b)
			}
			decodeAll(t, b, 1<<20, fmt.Sprintf("%s seed %d iteration %d", c, s, i))
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(mustSealF(f, sampleInputs(), WithCompression(c)))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeAll(t, b, 1<<20, "fuzz")
		fixCRC(b)
		decodeAll(t, b, 1<<20, "fuzz (crc fixed)")
	})
}

func mustSealF(f *testing.F, in []Input, opts ...BuilderOption) []byte {
	b, err := EncodeBatch(in, opts...)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// bomb returns a batch whose records section is compressed and expands to size bytes.
func bomb(t *testing.T, c Compression, size int) BatchView {
	payload, err := compress(c, make([]byte, size))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, HeaderBytes, HeaderBytes+len(payload))
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-offPartitionLeaderEpoch))
	b[offMagic] = Magic
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(c))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0)
	binary.BigEndian.PutUint32(b[offRecordCount:], 1)
	fixCRC(b)
	v, err := ParseBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecompressionBombsAreRejectedWithoutAllocating(t *testing.T) {
	const bound = 1 << 20
	const expanded = 64 << 20
	for _, c := range allCodecs[1:] {
		t.Run(c.String(), func(t *testing.T) {
			v := bomb(t, c, expanded)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := DecodeRecords(v, bound)
			runtime.ReadMemStats(&after)
			wantCode(t, err, CodeDecompressedTooLarge)
			// A 64 MiB expansion must be cut near the 1 MiB bound (codec buffers included).
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 24<<20 {
				t.Fatalf("allocated %d bytes to reject a bomb with a %d-byte bound", allocated, bound)
			}
		})
	}
}

func TestBoundIsInclusive(t *testing.T) {
	for _, c := range allCodecs[1:] {
		payload, _ := compress(c, bytes.Repeat([]byte("ab"), 5000))
		out, err := decompress(c, payload, 10000)
		if err != nil || len(out) != 10000 {
			t.Fatalf("%s: exactly-at-bound data rejected: %v", c, err)
		}
		_, err = decompress(c, payload, 9999)
		wantCode(t, err, CodeDecompressedTooLarge)
	}
}

func TestSnappyXerialFraming(t *testing.T) {
	data := bytes.Repeat([]byte("kafka-snappy-"), 10000) // 130 KB: five 32 KiB chunks
	framed := xerialEncode(data)
	if !bytes.Equal(framed[:16], []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}) {
		t.Fatalf("xerial header %x", framed[:16])
	}
	chunks := 0
	for pos := 16; pos < len(framed); chunks++ {
		pos += 4 + int(binary.BigEndian.Uint32(framed[pos:]))
	}
	if chunks != 4 {
		t.Fatalf("%d chunks for %d bytes, want 4 of at most 32 KiB", chunks, len(data))
	}
	got, err := xerialDecode(framed, len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip failed: %v", err)
	}
	// Unframed raw snappy (what non-Java clients write) is accepted, as snappy-java does.
	raw, _ := compress(CompressionSnappy, data)
	got, err = xerialDecode(raw[16+4:16+4+int(binary.BigEndian.Uint32(raw[16:]))], len(data))
	if err != nil || !bytes.Equal(got, data[:32<<10]) {
		t.Fatalf("raw snappy block not accepted: %v", err)
	}
	_, err = xerialDecode(framed[:len(framed)-5], len(data))
	wantCode(t, err, CodeCorruptCompressedData)
	// A block that declares 2 GiB is refused from its header alone.
	_, err = xerialDecode([]byte{0x80, 0x80, 0x80, 0x80, 0x08, 0}, 1<<20)
	wantCode(t, err, CodeDecompressedTooLarge)
}

func TestLz4FrameMatchesKafkaDescriptor(t *testing.T) {
	out, err := compress(CompressionLz4, bytes.Repeat([]byte("lz4"), 50000))
	if err != nil {
		t.Fatal(err)
	}
	// Magic, then FLG 0x60 (version 1, independent blocks, no checksums, no content size)
	// and BD 0x40 (64 KiB blocks): the descriptor KafkaLZ4BlockOutputStream writes.
	if !bytes.Equal(out[:6], []byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x40}) {
		t.Fatalf("lz4 frame descriptor %x", out[:7])
	}
}

func TestCorruptCompressedData(t *testing.T) {
	for _, c := range allCodecs[1:] {
		_, err := decompress(c, []byte("definitely not compressed data"), 1<<20)
		wantCode(t, err, CodeCorruptCompressedData)
	}
}

func TestZstdDecoderReuseAfterFailures(t *testing.T) {
	good := bytes.Repeat([]byte("reuse "), 2000)
	payload, _ := compress(CompressionZstd, good)
	bombPayload, _ := compress(CompressionZstd, make([]byte, 4<<20))
	for i := 0; i < 5; i++ {
		_, err := decompress(CompressionZstd, bombPayload, 1<<20)
		wantCode(t, err, CodeDecompressedTooLarge)
		_, err = decompress(CompressionZstd, payload[:len(payload)/2], 1<<20)
		wantCode(t, err, CodeCorruptCompressedData)
		out, err := decompress(CompressionZstd, payload, 1<<20)
		if err != nil || !bytes.Equal(out, good) {
			t.Fatalf("round %d: a pooled decoder returned wrong data: %v", i, err)
		}
	}
}
