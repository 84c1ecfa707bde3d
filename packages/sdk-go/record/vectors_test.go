package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Golden vectors written by Apache Kafka's own client (test/kafka-interop, see test/vectors/README.md).
// STREAMBUS_VECTORS_DIR points the same tests at a fresh generation (test/interop/kafka.test.ts).
const defaultVectorsDir = "../../../test/vectors"

type vectorHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type vectorRecord struct {
	Offset    int64          `json:"offset"`
	Timestamp int64          `json:"timestamp"`
	Key       *string        `json:"key"`
	Value     *string        `json:"value"`
	Headers   []vectorHeader `json:"headers"`
}

type vectorBatch struct {
	BaseOffset           int64          `json:"baseOffset"`
	PartitionLeaderEpoch int32          `json:"partitionLeaderEpoch"`
	Magic                int8           `json:"magic"`
	CRC                  uint32         `json:"crc"`
	Attributes           int16          `json:"attributes"`
	Compression          string         `json:"compression"`
	TimestampType        string         `json:"timestampType"`
	IsTransactional      bool           `json:"isTransactional"`
	IsControl            bool           `json:"isControl"`
	LastOffsetDelta      int32          `json:"lastOffsetDelta"`
	BaseTimestamp        int64          `json:"baseTimestamp"`
	MaxTimestamp         int64          `json:"maxTimestamp"`
	ProducerID           int64          `json:"producerId"`
	ProducerEpoch        int16          `json:"producerEpoch"`
	BaseSequence         int32          `json:"baseSequence"`
	RecordCount          int32          `json:"recordCount"`
	Records              []vectorRecord `json:"records"`
}

type vector struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Hex         string      `json:"hex"`
	Batch       vectorBatch `json:"batch"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	vectorsDir := defaultVectorsDir
	if dir := os.Getenv("STREAMBUS_VECTORS_DIR"); dir != "" {
		vectorsDir = dir
	}
	files, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden vectors in %s", vectorsDir)
	}
	out := make([]vector, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}

func hexOrNil(t *testing.T, s *string) []byte {
	t.Helper()
	if s == nil {
		return nil
	}
	b, err := hex.DecodeString(*s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	return hexOrNil(t, &s)
}

// checkBatch compares a parsed batch and its decoded records with the expectation field by field.
func checkBatch(t *testing.T, view BatchView, want vectorBatch, compareCRC bool) {
	t.Helper()
	if err := view.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	type field struct {
		name      string
		got, want any
	}
	fields := []field{
		{"baseOffset", view.BaseOffset(), want.BaseOffset},
		{"partitionLeaderEpoch", view.PartitionLeaderEpoch(), want.PartitionLeaderEpoch},
		{"magic", view.Magic(), want.Magic},
		{"compression", view.Compression().String(), want.Compression},
		{"timestampType", view.TimestampType().String(), want.TimestampType},
		{"isTransactional", view.IsTransactional(), want.IsTransactional},
		{"isControl", view.IsControl(), want.IsControl},
		{"lastOffsetDelta", view.LastOffsetDelta(), want.LastOffsetDelta},
		{"baseTimestamp", view.BaseTimestamp(), want.BaseTimestamp},
		{"maxTimestamp", view.MaxTimestamp(), want.MaxTimestamp},
		{"producerId", view.ProducerID(), want.ProducerID},
		{"producerEpoch", view.ProducerEpoch(), want.ProducerEpoch},
		{"baseSequence", view.BaseSequence(), want.BaseSequence},
		{"recordCount", view.RecordCount(), want.RecordCount},
	}
	if compareCRC {
		fields = append(fields, field{"crc", view.CRC(), want.CRC}, field{"attributes", view.Attributes(), want.Attributes})
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: got %v, want %v", f.name, f.got, f.want)
		}
	}
	records, err := DecodeRecords(view, 0)
	if err != nil {
		t.Fatalf("decode records: %v", err)
	}
	if len(records) != len(want.Records) {
		t.Fatalf("got %d records, want %d", len(records), len(want.Records))
	}
	for i, r := range records {
		w := want.Records[i]
		if r.Offset != w.Offset || r.Timestamp != w.Timestamp {
			t.Errorf("record %d: offset/timestamp %d/%d, want %d/%d", i, r.Offset, r.Timestamp, w.Offset, w.Timestamp)
		}
		if !sameBytes(r.Key, hexOrNil(t, w.Key)) || !sameBytes(r.Value, hexOrNil(t, w.Value)) {
			t.Errorf("record %d: key/value differ", i)
		}
		if len(r.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(w.Headers))
		}
		for j, h := range r.Headers {
			if h.Key != w.Headers[j].Key || !sameBytes(h.Value, hexOrNil(t, w.Headers[j].Value)) {
				t.Errorf("record %d header %d: got %q=%x, want %q", i, j, h.Key, h.Value, w.Headers[j].Key)
			}
		}
	}
}

// sameBytes distinguishes null (nil) from empty, as Kafka does.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func inputsOf(t *testing.T, b vectorBatch) []Input {
	out := make([]Input, len(b.Records))
	for i, r := range b.Records {
		in := Input{Key: hexOrNil(t, r.Key), Value: hexOrNil(t, r.Value), Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			in.Headers = append(in.Headers, Header{Key: h.Key, Value: hexOrNil(t, h.Value)})
		}
		out[i] = in
	}
	return out
}

func optionsOf(t *testing.T, b vectorBatch) []BuilderOption {
	c, err := ParseCompression(b.Compression)
	if err != nil {
		t.Fatal(err)
	}
	timestamps := WithTimestampType(TimestampCreate)
	if b.TimestampType == "log-append" {
		timestamps = WithLogAppendTime(b.MaxTimestamp)
	}
	return []BuilderOption{
		WithBaseOffset(b.BaseOffset), WithCompression(c), timestamps,
		WithProducer(b.ProducerID, b.ProducerEpoch, b.BaseSequence), WithTransactional(b.IsTransactional),
		WithControl(b.IsControl), WithPartitionLeaderEpoch(b.PartitionLeaderEpoch),
	}
}

func TestGoldenVectorsDecode(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			raw := mustHex(t, v.Hex)
			view, err := ParseBatch(raw)
			if err != nil {
				t.Fatal(err)
			}
			if view.SizeInBytes() != len(raw) {
				t.Fatalf("batch spans %d of %d bytes", view.SizeInBytes(), len(raw))
			}
			checkBatch(t, view, v.Batch, true)
		})
	}
}

func TestGoldenVectorsReencode(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			encoded, err := EncodeBatch(inputsOf(t, v.Batch), optionsOf(t, v.Batch)...)
			if err != nil {
				t.Fatal(err)
			}
			if v.Batch.Compression == "none" {
				if got := hex.EncodeToString(encoded); got != v.Hex {
					t.Fatalf("re-encoded bytes differ from Kafka's\n got %s\nwant %s", got, v.Hex)
				}
			}
			view, err := ParseBatch(encoded)
			if err != nil {
				t.Fatal(err)
			}
			// Compressed bytes differ between compressor implementations, so the CRC does too.
			checkBatch(t, view, v.Batch, v.Batch.Compression == "none")
		})
	}
}

func TestGoldenVectorsCoverEveryCodecAndFlag(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range loadVectors(t) {
		b := v.Batch
		seen["compression:"+b.Compression] = true
		seen["timestamp:"+b.TimestampType] = true
		if b.IsTransactional {
			seen["transactional"] = true
		}
		if b.IsControl {
			seen["control"] = true
		}
	}
	for _, want := range []string{"compression:none", "compression:gzip", "compression:snappy", "compression:lz4",
		"compression:zstd", "timestamp:create", "timestamp:log-append", "transactional", "control"} {
		if !seen[want] {
			t.Errorf("no vector covers %s", want)
		}
	}
}
