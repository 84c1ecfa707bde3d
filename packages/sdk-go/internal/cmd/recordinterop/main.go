// Command recordinterop writes RecordBatches built by the Go codec for Apache Kafka's reader
// to check (test/interop/kafka.test.ts):
//
//	go run ./internal/cmd/recordinterop encode <batches.hex> <expected.json>
//
// batches.hex holds one hex batch per line; expected.json is a JSON array of what each batch
// must decode to, in the golden-vector "batch" format (test/vectors/README.md). The
// expectation is derived from the inputs, never from our own decoder.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/streambus/streambus/packages/sdk-go/record"
)

type header struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type rec struct {
	Offset    int64    `json:"offset"`
	Timestamp int64    `json:"timestamp"`
	Key       *string  `json:"key"`
	Value     *string  `json:"value"`
	Headers   []header `json:"headers"`
}

type batch struct {
	BaseOffset           int64  `json:"baseOffset"`
	PartitionLeaderEpoch int32  `json:"partitionLeaderEpoch"`
	Magic                int8   `json:"magic"`
	CRC                  uint32 `json:"crc"`
	Attributes           int16  `json:"attributes"`
	Compression          string `json:"compression"`
	TimestampType        string `json:"timestampType"`
	IsTransactional      bool   `json:"isTransactional"`
	IsControl            bool   `json:"isControl"`
	LastOffsetDelta      int32  `json:"lastOffsetDelta"`
	BaseTimestamp        int64  `json:"baseTimestamp"`
	MaxTimestamp         int64  `json:"maxTimestamp"`
	ProducerID           int64  `json:"producerId"`
	ProducerEpoch        int16  `json:"producerEpoch"`
	BaseSequence         int32  `json:"baseSequence"`
	RecordCount          int32  `json:"recordCount"`
	Records              []rec  `json:"records"`
}

type spec struct {
	compression   record.Compression
	baseOffset    int64
	leaderEpoch   int32
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	transactional bool
	control       bool
	logAppendTime int64 // 0: create time
	records       []record.Input
}

const t0 = 1_700_000_000_000

func hexPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

func mixed() []record.Input {
	return []record.Input{
		{Key: []byte("k0"), Value: []byte("hello"), Timestamp: t0},
		{Key: nil, Value: []byte("null key"), Timestamp: t0 + 5},
		{Key: []byte("tombstone"), Value: nil, Timestamp: t0 + 3},
		{Key: []byte{}, Value: []byte{}, Timestamp: t0 + 9, Headers: []record.Header{
			{Key: "trace-id", Value: []byte("abc")}, {Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}}},
		{Key: []byte("ключ-🔑"), Value: []byte("値"), Timestamp: t0 - 1000, Headers: []record.Header{{Key: "鍵", Value: []byte("v")}}},
	}
}

func large() []record.Input {
	out := mixed()
	for i := 0; i < 30; i++ {
		v := bytes.Repeat([]byte(fmt.Sprintf("value %d of a larger batch; ", i)), 200)
		out = append(out, record.Input{Key: []byte(fmt.Sprintf("key-%d", i)), Value: v, Timestamp: t0 + int64(i)})
	}
	return out
}

func specs() []spec {
	var out []spec
	codecs := []record.Compression{record.CompressionNone, record.CompressionGzip, record.CompressionSnappy,
		record.CompressionLz4, record.CompressionZstd}
	for i, c := range codecs {
		out = append(out,
			spec{compression: c, baseOffset: int64(100 * i), leaderEpoch: record.NoPartitionLeaderEpoch,
				producerID: record.NoProducerID, producerEpoch: record.NoProducerEpoch, baseSequence: record.NoSequence, records: mixed()},
			spec{compression: c, baseOffset: 1 << 40, leaderEpoch: 7, producerID: 4242, producerEpoch: 3, baseSequence: 17,
				records: large()},
			spec{compression: c, baseOffset: 5000, leaderEpoch: 2, producerID: 99, producerEpoch: 1, baseSequence: 0,
				transactional: true, logAppendTime: t0 + 12345, records: mixed()},
		)
	}
	// An end-transaction marker: control record key (version 0, type 1 = COMMIT), value
	// (version 0, coordinatorEpoch 21).
	out = append(out, spec{compression: record.CompressionNone, baseOffset: 3000, leaderEpoch: 6, producerID: 4242,
		producerEpoch: 9, baseSequence: record.NoSequence, transactional: true, control: true,
		records: []record.Input{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 21}, Timestamp: t0}}})
	return out
}

func build(s spec) ([]byte, batch, error) {
	opts := []record.BuilderOption{
		record.WithCompression(s.compression), record.WithBaseOffset(s.baseOffset),
		record.WithPartitionLeaderEpoch(s.leaderEpoch), record.WithProducer(s.producerID, s.producerEpoch, s.baseSequence),
		record.WithTransactional(s.transactional), record.WithControl(s.control),
	}
	if s.logAppendTime != 0 {
		opts = append(opts, record.WithLogAppendTime(s.logAppendTime))
	}
	raw, err := record.EncodeBatch(s.records, opts...)
	if err != nil {
		return nil, batch{}, err
	}
	want := batch{
		BaseOffset: s.baseOffset, PartitionLeaderEpoch: s.leaderEpoch, Magic: record.Magic,
		Compression: s.compression.String(), TimestampType: "create", IsTransactional: s.transactional,
		IsControl: s.control, LastOffsetDelta: int32(len(s.records) - 1), BaseTimestamp: s.records[0].Timestamp,
		ProducerID: s.producerID, ProducerEpoch: s.producerEpoch, BaseSequence: s.baseSequence,
		RecordCount: int32(len(s.records)), Attributes: int16(s.compression),
	}
	if s.transactional {
		want.Attributes |= 0x10
	}
	if s.control {
		want.Attributes |= 0x20
	}
	want.MaxTimestamp = s.records[0].Timestamp
	for i, r := range s.records {
		want.MaxTimestamp = max(want.MaxTimestamp, r.Timestamp)
		out := rec{Offset: s.baseOffset + int64(i), Timestamp: r.Timestamp, Key: hexPtr(r.Key), Value: hexPtr(r.Value), Headers: []header{}}
		for _, h := range r.Headers {
			out.Headers = append(out.Headers, header{Key: h.Key, Value: hexPtr(h.Value)})
		}
		want.Records = append(want.Records, out)
	}
	if s.logAppendTime != 0 {
		want.TimestampType, want.MaxTimestamp = "log-append", s.logAppendTime
		want.Attributes |= 0x08
		for i := range want.Records {
			want.Records[i].Timestamp = s.logAppendTime
		}
	}
	// The CRC is the one thing we take from the encoding: Kafka recomputes and compares it.
	view, err := record.ParseBatch(raw)
	if err != nil {
		return nil, batch{}, err
	}
	want.CRC = view.CRC()
	return raw, want, nil
}

func run(args []string) error {
	if len(args) != 3 || args[0] != "encode" {
		return fmt.Errorf("usage: recordinterop encode <batches.hex> <expected.json>")
	}
	var lines []string
	var expected []batch
	for _, s := range specs() {
		raw, want, err := build(s)
		if err != nil {
			return err
		}
		lines = append(lines, hex.EncodeToString(raw))
		expected = append(expected, want)
	}
	if err := os.WriteFile(args[1], []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(expected, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(args[2], append(js, '\n'), 0o644)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "recordinterop:", err)
		os.Exit(1)
	}
}
