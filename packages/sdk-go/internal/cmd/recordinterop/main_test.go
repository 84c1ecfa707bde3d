package main

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/streambus/streambus/packages/sdk-go/record"
)

// The expectations handed to Kafka must hold for our own decoder too; a mismatch here is a
// bug in the expectation, caught without needing Java.
func TestExpectationsMatchOurDecoder(t *testing.T) {
	for i, s := range specs() {
		raw, want, err := build(s)
		if err != nil {
			t.Fatal(err)
		}
		view, err := record.ParseBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := record.DecodeRecords(view, 0)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		got := batch{
			BaseOffset: view.BaseOffset(), PartitionLeaderEpoch: view.PartitionLeaderEpoch(), Magic: view.Magic(),
			CRC: view.CRC(), Attributes: view.Attributes(), Compression: view.Compression().String(),
			TimestampType: view.TimestampType().String(), IsTransactional: view.IsTransactional(),
			IsControl: view.IsControl(), LastOffsetDelta: view.LastOffsetDelta(), BaseTimestamp: view.BaseTimestamp(),
			MaxTimestamp: view.MaxTimestamp(), ProducerID: view.ProducerID(), ProducerEpoch: view.ProducerEpoch(),
			BaseSequence: view.BaseSequence(), RecordCount: view.RecordCount(),
		}
		for _, r := range recs {
			out := rec{Offset: r.Offset, Timestamp: r.Timestamp, Key: hexPtr(r.Key), Value: hexPtr(r.Value), Headers: []header{}}
			for _, h := range r.Headers {
				out.Headers = append(out.Headers, header{Key: h.Key, Value: hexPtr(h.Value)})
			}
			got.Records = append(got.Records, out)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batch %d (%s): decoded %+v\nexpected %+v", i, hex.EncodeToString(raw[:min(len(raw), 80)]), got, want)
		}
	}
}
