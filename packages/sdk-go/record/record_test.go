package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"testing"
	"testing/quick"
)

var allCodecs = []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd}

func wantCode(t *testing.T, err error, code ErrorCode) {
	t.Helper()
	got, ok := CodeOf(err)
	if !ok || got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Retriable() {
		t.Fatalf("want a non-retriable *Error, got %#v", err)
	}
}

func sampleInputs() []Input {
	return []Input{
		{Key: []byte("k0"), Value: []byte("v0"), Timestamp: 1000},
		{Key: nil, Value: []byte("null key"), Timestamp: 1005},
		{Key: []byte("tomb"), Value: nil, Timestamp: 990},
		{Key: []byte{}, Value: []byte{}, Timestamp: 1001, Headers: []Header{{Key: "h", Value: []byte("x")}, {Key: "n", Value: nil}}},
	}
}

func mustSeal(t *testing.T, in []Input, opts ...BuilderOption) []byte {
	t.Helper()
	b, err := EncodeBatch(in, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderFieldsRoundTrip(t *testing.T) {
	raw := mustSeal(t, sampleInputs(), WithBaseOffset(1<<40), WithPartitionLeaderEpoch(9), WithProducer(77, 3, 500),
		WithTransactional(true), WithCompression(CompressionLz4))
	v, err := ParseBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"baseOffset", v.BaseOffset(), int64(1 << 40)}, {"leaderEpoch", v.PartitionLeaderEpoch(), int32(9)},
		{"magic", v.Magic(), int8(2)}, {"compression", v.Compression(), CompressionLz4},
		{"producerId", v.ProducerID(), int64(77)}, {"producerEpoch", v.ProducerEpoch(), int16(3)},
		{"baseSequence", v.BaseSequence(), int32(500)}, {"transactional", v.IsTransactional(), true},
		{"control", v.IsControl(), false}, {"recordCount", v.RecordCount(), int32(4)},
		{"lastOffsetDelta", v.LastOffsetDelta(), int32(3)}, {"baseTimestamp", v.BaseTimestamp(), int64(1000)},
		{"maxTimestamp", v.MaxTimestamp(), int64(1005)}, {"nextOffset", v.NextOffset(), int64(1<<40 + 4)},
		{"timestampType", v.TimestampType(), TimestampCreate}, {"size", v.SizeInBytes(), len(raw)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v want %v", c.name, c.got, c.want)
		}
	}
}

func TestEveryCodecRoundTrips(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			in := sampleInputs()
			v, err := ParseBatch(mustSeal(t, in, WithCompression(c), WithBaseOffset(10)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRecords(v, 0)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, got, in, 10)
		})
	}
}

func assertRecords(t *testing.T, got []Record, want []Input, baseOffset int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.Offset != baseOffset+int64(i) || r.Timestamp != w.Timestamp || !sameBytes(r.Key, w.Key) || !sameBytes(r.Value, w.Value) {
			t.Fatalf("record %d: got %+v want %+v", i, r, w)
		}
		if len(r.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers want %d", i, len(r.Headers), len(w.Headers))
		}
		for j, h := range r.Headers {
			if h.Key != w.Headers[j].Key || !sameBytes(h.Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: %+v want %+v", i, j, h, w.Headers[j])
			}
		}
	}
}

func randomInputs(rng *rand.Rand) []Input {
	n := 1 + rng.Intn(40)
	out := make([]Input, n)
	randBytes := func() []byte {
		switch rng.Intn(5) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, rng.Intn(300))
		for i := range b {
			b[i] = byte(rng.Intn(8)) // low entropy so codecs actually compress
		}
		return b
	}
	base := rng.Int63n(1 << 50)
	for i := range out {
		out[i] = Input{Key: randBytes(), Value: randBytes(), Timestamp: base + rng.Int63n(1<<20) - 1<<19}
		for h := rng.Intn(4); h > 0; h-- {
			out[i].Headers = append(out[i].Headers, Header{Key: string(randBytes()), Value: randBytes()})
		}
	}
	return out
}

func TestPropertyEncodeDecodeIdentity(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			prop := func(seed int64, baseOffset uint32) bool {
				in := randomInputs(rand.New(rand.NewSource(seed)))
				raw, err := EncodeBatch(in, WithCompression(c), WithBaseOffset(int64(baseOffset)))
				if err != nil {
					t.Log(err)
					return false
				}
				v, err := ParseBatch(raw)
				if err != nil {
					t.Log(err)
					return false
				}
				got, err := DecodeRecords(v, 0)
				if err != nil {
					t.Log(err)
					return false
				}
				assertRecords(t, got, in, int64(baseOffset))
				return true
			}
			if err := quick.Check(prop, &quick.Config{MaxCount: 60, Rand: rand.New(rand.NewSource(1))}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHeaderRewriteKeepsCRCValid(t *testing.T) {
	prop := func(offset int64, epoch int32) bool {
		raw := mustSeal(t, sampleInputs(), WithCompression(CompressionZstd))
		v, _ := ParseBatch(raw)
		v.SetBaseOffset(offset)
		v.SetPartitionLeaderEpoch(epoch)
		return v.VerifyCRC() && v.BaseOffset() == offset && v.PartitionLeaderEpoch() == epoch
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 200, Rand: rand.New(rand.NewSource(2))}); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	good := mustSeal(t, sampleInputs())
	t.Run("short buffer", func(t *testing.T) {
		_, err := ParseBatch(good[:11])
		wantCode(t, err, CodeTruncated)
	})
	t.Run("partial batch", func(t *testing.T) {
		_, err := ParseBatch(good[:len(good)-1])
		wantCode(t, err, CodeTruncated)
	})
	t.Run("length below header", func(t *testing.T) {
		bad := bytes.Clone(good)
		binary.BigEndian.PutUint32(bad[offBatchLength:], batchLengthMin-1)
		_, err := ParseBatch(bad)
		wantCode(t, err, CodeInvalidLength)
	})
	t.Run("negative length", func(t *testing.T) {
		bad := bytes.Clone(good)
		binary.BigEndian.PutUint32(bad[offBatchLength:], math.MaxUint32)
		_, err := ParseBatch(bad)
		wantCode(t, err, CodeInvalidLength)
	})
	t.Run("magic 1", func(t *testing.T) {
		bad := bytes.Clone(good)
		bad[offMagic] = 1
		_, err := ParseBatch(bad)
		wantCode(t, err, CodeInvalidMagic)
	})
	t.Run("trailing bytes are not part of the batch", func(t *testing.T) {
		v, err := ParseBatch(append(bytes.Clone(good), 1, 2, 3))
		if err != nil || v.SizeInBytes() != len(good) {
			t.Fatalf("size %d err %v", v.SizeInBytes(), err)
		}
	})
}

func TestValidateErrors(t *testing.T) {
	good := mustSeal(t, sampleInputs())
	mutate := func(f func(b []byte), fixCRC bool) BatchView {
		b := bytes.Clone(good)
		f(b)
		if fixCRC {
			binary.BigEndian.PutUint32(b[offCRC:], CRC32C(b[offAttributes:]))
		}
		v, err := ParseBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantCode(t, mutate(func(b []byte) { b[len(b)-1] ^= 1 }, false).Validate(), CodeCorruptCRC)
	wantCode(t, mutate(func(b []byte) { b[offAttributes+1] |= 7 }, true).Validate(), CodeUnsupportedCompression)
	wantCode(t, mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offRecordCount:], 9) }, true).Validate(), CodeRecordCountMismatch)
	wantCode(t, mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offRecordCount:], math.MaxUint32) }, true).Validate(), CodeInvalidLength)
	wantCode(t, mutate(func(b []byte) { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], math.MaxUint32) }, true).Validate(), CodeInvalidLength)
	wantCode(t, mutate(func(b []byte) { b[offBaseOffset] = 0x80 }, false).Validate(), CodeInvalidLength)
	// baseOffset and partitionLeaderEpoch are outside the CRC.
	if err := mutate(func(b []byte) { b[offPartitionLeaderEpoch+3] ^= 0xff }, false).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeErrors(t *testing.T) {
	// A batch whose record region is replaced by raw, with count and CRC fixed up.
	withRecords := func(count int32, raw []byte) BatchView {
		b := make([]byte, HeaderBytes, HeaderBytes+len(raw))
		b = append(b, raw...)
		binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-offPartitionLeaderEpoch))
		b[offMagic] = Magic
		binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(max(count-1, 0)))
		binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
		binary.BigEndian.PutUint32(b[offCRC:], CRC32C(b[offAttributes:]))
		v, err := ParseBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rec := func(fields ...byte) []byte { return append([]byte{byte(len(fields) << 1)}, fields...) }
	ok := rec(0, 0, 0, 1, 1, 0) // attrs, tsDelta 0, offsetDelta 0, null key, null value, 0 headers
	cases := []struct {
		name  string
		count int32
		raw   []byte
		code  ErrorCode
	}{
		{"count larger than data", 2, ok, CodeRecordCountMismatch},
		{"bytes after last record", 1, append(bytes.Clone(ok), ok...), CodeRecordCountMismatch},
		{"record runs past batch", 1, append([]byte{40}, ok[1:]...), CodeInvalidRecord},
		{"record length too small", 1, append([]byte{2}, 0, 0, 0, 0, 0, 0), CodeInvalidRecord},
		{"key runs past record", 1, rec(0, 0, 0, 20, 1, 0), CodeInvalidRecord},
		{"key length below -1", 1, rec(0, 0, 0, 3, 1, 0), CodeInvalidRecord},
		{"negative header count", 1, rec(0, 0, 0, 1, 1, 1), CodeInvalidRecord},
		{"huge header count", 1, rec(0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x07), CodeInvalidRecord},
		{"null header key", 1, rec(0, 0, 0, 1, 1, 2, 1, 1), CodeInvalidRecord},
		{"fields shorter than length", 1, rec(0, 0, 0, 1, 1, 0, 0), CodeInvalidRecord},
		{"varint over 5 bytes", 1, rec(0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0), CodeVarintOverflow},
		{"varint over 32 bits", 1, rec(0, 0, 0xff, 0xff, 0xff, 0xff, 0x1f, 1, 1, 0), CodeVarintOverflow},
		{"varlong over 10 bytes", 1, rec(0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0), CodeVarintOverflow},
		{"varint past end of record", 1, rec(0, 0, 0, 1, 1, 0x80), CodeTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeRecords(withRecords(c.count, c.raw), 0)
			wantCode(t, err, c.code)
		})
	}
	if _, err := DecodeRecords(withRecords(1, ok), 0); err != nil {
		t.Fatalf("the well-formed control case failed: %v", err)
	}
	if _, err := DecodeRecords(withRecords(1, ok), -1); err == nil {
		t.Fatal("negative bound accepted")
	}
}

func TestVarintEncoding(t *testing.T) {
	prop32 := func(v int32) bool {
		b := appendVarint(nil, v)
		got, n, err := readVarint(b, 0)
		return err == nil && got == v && n == len(b) && len(b) == varintSize(v)
	}
	prop64 := func(v int64) bool {
		b := appendVarlong(nil, v)
		got, n, err := readVarlong(b, 0)
		return err == nil && got == v && n == len(b) && len(b) == varlongSize(v)
	}
	cfg := &quick.Config{MaxCount: 2000, Rand: rand.New(rand.NewSource(3))}
	if err := quick.Check(prop32, cfg); err != nil {
		t.Fatal(err)
	}
	if err := quick.Check(prop64, cfg); err != nil {
		t.Fatal(err)
	}
	// Kafka's zig-zag: 0→0, -1→1, 1→2, -64→127, 64→128 (two bytes).
	for v, want := range map[int32]string{0: "\x00", -1: "\x01", 1: "\x02", -64: "\x7f", 64: "\x80\x01"} {
		if got := string(appendVarint(nil, v)); got != want {
			t.Errorf("varint(%d) = %x, want %x", v, got, want)
		}
	}
	for _, v := range []int32{math.MinInt32, math.MaxInt32} {
		if n := len(appendVarint(nil, v)); n != 5 {
			t.Errorf("varint(%d) takes %d bytes", v, n)
		}
	}
}

func TestSplitBatches(t *testing.T) {
	var all []byte
	for i := 0; i < 3; i++ {
		all = append(all, mustSeal(t, sampleInputs(), WithBaseOffset(int64(i*4)), WithCompression(allCodecs[i]))...)
	}
	views, err := SplitBatches(all)
	if err != nil || len(views) != 3 {
		t.Fatalf("%d views, %v", len(views), err)
	}
	for i, v := range views {
		if v.BaseOffset() != int64(i*4) || !v.VerifyCRC() {
			t.Fatalf("batch %d wrong", i)
		}
	}
	_, err = SplitBatches(all[:len(all)-3])
	wantCode(t, err, CodeTruncated)
}

func TestBuilderByteBudget(t *testing.T) {
	b := NewBuilder(WithBatchBytesMax(200))
	value := bytes.Repeat([]byte("x"), 50)
	appended := 0
	for i := 0; i < 100 && b.TryAppend(Input{Value: value, Timestamp: int64(i)}); i++ {
		appended++
	}
	if appended == 0 || appended >= 100 || b.EstimatedBytes() > 200 {
		t.Fatalf("appended %d, estimated %d", appended, b.EstimatedBytes())
	}
	raw, err := b.Seal()
	if err != nil || len(raw) != b.EstimatedBytes() {
		t.Fatalf("sealed %d bytes (estimate %d): %v", len(raw), b.EstimatedBytes(), err)
	}
	// The first record is always taken, however large.
	big := NewBuilder(WithBatchBytesMax(10))
	if !big.TryAppend(Input{Value: bytes.Repeat([]byte("y"), 1000)}) || big.TryAppend(Input{Value: []byte("z")}) {
		t.Fatal("first record must be accepted and the second refused")
	}
	if _, err := b.Seal(); err == nil {
		t.Fatal("second Seal accepted")
	}
}

func TestLogAppendTime(t *testing.T) {
	raw := mustSeal(t, []Input{{Value: []byte("a"), Timestamp: 5}, {Value: []byte("b"), Timestamp: 9}}, WithLogAppendTime(777))
	v, _ := ParseBatch(raw)
	recs, err := DecodeRecords(v, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.TimestampType() != TimestampLogAppend || v.MaxTimestamp() != 777 || recs[0].Timestamp != 777 || recs[1].Timestamp != 777 {
		t.Fatalf("log-append timestamps wrong: %d %+v", v.MaxTimestamp(), recs)
	}
	if recs[1].TimestampDelta != 4 {
		t.Fatalf("records keep their own deltas, got %d", recs[1].TimestampDelta)
	}
}

func TestEmptyBatch(t *testing.T) {
	for _, c := range allCodecs {
		raw, err := NewBuilder(WithCompression(c)).Seal()
		if err != nil {
			t.Fatal(err)
		}
		v, err := ParseBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := DecodeRecords(v, 0)
		if err != nil || len(recs) != 0 {
			t.Fatalf("%s: %d records, %v", c, len(recs), err)
		}
	}
}

func TestCompressionNames(t *testing.T) {
	for _, c := range allCodecs {
		got, err := ParseCompression(c.String())
		if err != nil || got != c {
			t.Fatalf("%s: %v %v", c, got, err)
		}
	}
	_, err := ParseCompression("brotli")
	wantCode(t, err, CodeUnsupportedCompression)
}
