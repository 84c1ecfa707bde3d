package record

import (
	"fmt"
	"testing"
)

func benchInputs(size int) []Input {
	out := make([]Input, 1000)
	for i := range out {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(i * j)
		}
		out[i] = Input{Key: []byte(fmt.Sprintf("key-%d", i)), Value: v, Timestamp: int64(i)}
	}
	return out
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range allCodecs {
		in := benchInputs(1024)
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(1024 * 1000)
			for i := 0; i < b.N; i++ {
				if _, err := EncodeBatch(in, WithCompression(c)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range allCodecs {
		raw, err := EncodeBatch(benchInputs(1024), WithCompression(c))
		if err != nil {
			b.Fatal(err)
		}
		v, _ := ParseBatch(raw)
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(1024 * 1000)
			for i := 0; i < b.N; i++ {
				if _, err := DecodeRecords(v, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
