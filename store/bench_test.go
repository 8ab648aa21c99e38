package store

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lbd-dev/lbd/wire"
)

// benchRecord is a task as the master stores it at submission: a 256-byte
// payload and no output yet.
func benchRecord(n int64) *Record {
	return &Record{
		ID:          fmt.Sprintf("t%016d", n),
		Seq:         uint64(n),
		Type:        "exec",
		Payload:     bytes.Repeat([]byte("p"), 256),
		Status:      "queued",
		MaxAttempts: 3,
		Timeout:     30e9,
		Created:     1_700_000_000_000_000_000 + n,
	}
}

func reportRecordsPerSecond(b *testing.B, s *Bolt) {
	stats := s.Stats()
	b.ReportMetric(float64(stats.Records)/b.Elapsed().Seconds(), "records/s")
	if stats.Commits > 0 {
		b.ReportMetric(float64(stats.Writes)/float64(stats.Commits), "writes/commit")
	}
}

func BenchmarkWriteSingle(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%t", noSync), func(b *testing.B) {
			s := openStore(b, b.TempDir(), Options{NoSync: noSync})
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Write(Batch{Put: []*Record{benchRecord(int64(i))}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRecordsPerSecond(b, s)
		})
	}
}

func BenchmarkWriteGroup(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%t", noSync), func(b *testing.B) {
			s := openStore(b, b.TempDir(), Options{NoSync: noSync})
			var next atomic.Int64
			b.SetParallelism(32) // 32 writers per GOMAXPROCS, like concurrent API requests
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Write(Batch{Put: []*Record{benchRecord(next.Add(1))}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportRecordsPerSecond(b, s)
		})
	}
}

// BenchmarkEncodeRecord compares the encoding of this package with msgpack
// as package wire writes it.
func BenchmarkEncodeRecord(b *testing.B) {
	r := benchRecord(1)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeBatch(Batch{Put: []*Record{r}})
		}
		_, value := encodeOne(b, r)
		b.ReportMetric(float64(len(value)), "bytes/record")
	})
	b.Run("msgpack", func(b *testing.B) {
		b.ReportAllocs()
		var value []byte
		for range b.N {
			var err error
			if value, err = wire.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(value)), "bytes/record")
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	r := benchRecord(1)
	b.Run("binary", func(b *testing.B) {
		key, value := encodeOne(b, r)
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeRecord(key, value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("msgpack", func(b *testing.B) {
		value, err := wire.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			var got Record
			if err := wire.Unmarshal(value, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
