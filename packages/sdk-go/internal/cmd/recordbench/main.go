// Command recordbench measures the Go RecordBatch codec against a plain copy of the same
// bytes measured in the same run (PERFORMANCE.md: ratios, never only absolute figures).
//
//	go run ./internal/cmd/recordbench [-duration 300ms]
//
// Progress goes to stderr; a table and then one JSON line go to stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"time"

	"github.com/streambus/streambus/packages/sdk-go/record"
)

const recordsPerBatch = 1000

type result struct {
	Op             string  `json:"op"`
	Codec          string  `json:"codec"`
	RecordBytes    int     `json:"recordBytes"`
	RecordsPerSec  float64 `json:"recordsPerSec"`
	MBPerSec       float64 `json:"mbPerSec"`
	CopyMBPerSec   float64 `json:"copyMbPerSec"`
	RatioToCopy    float64 `json:"ratioToCopy"`
	CompressedSize int     `json:"batchBytes"`
}

// measure runs f repeatedly for at least d and returns the mean seconds per call.
func measure(d time.Duration, f func() error) (float64, error) {
	if err := f(); err != nil { // warm-up, and fail fast
		return 0, err
	}
	calls := 0
	start := time.Now()
	for time.Since(start) < d {
		if err := f(); err != nil {
			return 0, err
		}
		calls++
	}
	return time.Since(start).Seconds() / float64(calls), nil
}

// inputs are half text, half random bytes: compressible, but not trivially.
func inputs(recordBytes int, rng *rand.Rand) []record.Input {
	out := make([]record.Input, recordsPerBatch)
	for i := range out {
		v := make([]byte, recordBytes)
		for j := range v {
			if j%2 == 0 {
				v[j] = "streambus record "[j%17]
			} else {
				v[j] = byte(rng.Intn(256))
			}
		}
		out[i] = record.Input{Key: []byte(fmt.Sprintf("key-%d", i%64)), Value: v, Timestamp: 1_700_000_000_000 + int64(i)}
	}
	return out
}

func run(d time.Duration) ([]result, error) {
	rng := rand.New(rand.NewSource(1))
	codecs := []record.Compression{record.CompressionNone, record.CompressionGzip, record.CompressionSnappy,
		record.CompressionLz4, record.CompressionZstd}
	var results []result
	for _, size := range []int{100, 1024} {
		in := inputs(size, rng)
		plain, err := record.EncodeBatch(in)
		if err != nil {
			return nil, err
		}
		dst := make([]byte, len(plain))
		fmt.Fprintf(os.Stderr, "records of %d B, %d per batch\n", size, recordsPerBatch)
		for _, c := range codecs {
			batch, err := record.EncodeBatch(in, record.WithCompression(c))
			if err != nil {
				return nil, err
			}
			view, err := record.ParseBatch(batch)
			if err != nil {
				return nil, err
			}
			ops := []struct {
				name string
				f    func() error
			}{
				{"encode", func() error { _, err := record.EncodeBatch(in, record.WithCompression(c)); return err }},
				{"decode", func() error { _, err := record.DecodeRecords(view, 0); return err }},
				{"validate", func() error {
					v, err := record.ParseBatch(batch)
					if err != nil {
						return err
					}
					return v.Validate()
				}},
			}
			for _, op := range ops {
				// The baseline is re-measured next to every figure: the machine is shared and noisy.
				copySec, _ := measure(d/2, func() error { copy(dst, plain); return nil })
				copyMBps := float64(len(plain)) / copySec / 1e6
				sec, err := measure(d, op.f)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", op.name, c, err)
				}
				// Encode and decode count uncompressed bytes so codecs compare fairly; validate
				// counts the batch bytes it actually reads (header + CRC over the stored bytes).
				bytesPerOp := len(plain)
				if op.name == "validate" {
					bytesPerOp = len(batch)
				}
				mbps := float64(bytesPerOp) / sec / 1e6
				results = append(results, result{Op: op.name, Codec: c.String(), RecordBytes: size,
					RecordsPerSec: recordsPerBatch / sec, MBPerSec: mbps, CopyMBPerSec: copyMBps,
					RatioToCopy: mbps / copyMBps, CompressedSize: len(batch)})
				fmt.Fprintf(os.Stderr, "  %-8s %-6s %8.0f MB/s (copy %.0f MB/s)\n", op.name, c, mbps, copyMBps)
			}
		}
	}
	return results, nil
}

func main() {
	d := flag.Duration("duration", 300*time.Millisecond, "time spent on each measurement")
	flag.Parse()
	results, err := run(*d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "recordbench:", err)
		os.Exit(1)
	}
	fmt.Printf("%-8s %-6s %6s %14s %10s %10s %8s\n", "op", "codec", "rec B", "records/s", "MB/s", "copy MB/s", "ratio")
	for _, r := range results {
		fmt.Printf("%-8s %-6s %6d %14.0f %10.0f %10.0f %8.4f\n", r.Op, r.Codec, r.RecordBytes, r.RecordsPerSec, r.MBPerSec, r.CopyMBPerSec, r.RatioToCopy)
	}
	line, _ := json.Marshal(map[string]any{"bench": "sdk-go/record", "baseline": "copy", "results": results})
	fmt.Println(string(line))
}
