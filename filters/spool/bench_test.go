package spool

import (
	"bytes"
	"math"
	"net/http"
	"testing"
)

// benchItem is a typical 1 KB webhook delivery.
func benchItem() Item {
	it := testItem("hubspot/acme", 1)
	it.Header = http.Header{
		"Content-Type":         {"application/json"},
		"User-Agent":           {"HubSpot Webhooks"},
		"X-Hubspot-Signature":  {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		"X-Hubspot-Request-Id": {"6a4c7e0e-0000-4000-8000-000000000000"},
	}
	it.Body = bytes.Repeat([]byte("x"), 1024)
	return it
}

func benchSpool(b *testing.B) *Spool {
	return openTemp(b, Options{MaxItems: math.MaxInt32, MaxBytes: math.MaxInt64})
}

// BenchmarkAppend measures one durable (fsynced) Append of a 1 KB item.
func BenchmarkAppend(b *testing.B) {
	s := benchSpool(b)
	it := benchItem()
	b.SetBytes(int64(len(it.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel measures Append of a 1 KB item from 16 callers per
// CPU, like a webhook burst; group commit lets them share fsyncs.
func BenchmarkAppendParallel(b *testing.B) {
	s := benchSpool(b)
	it := benchItem()
	b.SetBytes(int64(len(it.Body)))
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(it); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPeek measures reading a batch of 50 held 1 KB items.
func BenchmarkPeek(b *testing.B) {
	s := benchSpool(b)
	it := benchItem()
	for range DefaultReplayBatch {
		mustAppend(b, s, it)
	}
	b.ReportAllocs()
	for b.Loop() {
		items, err := s.Peek(it.Queue, DefaultReplayBatch)
		if err != nil || len(items) != DefaultReplayBatch {
			b.Fatal(len(items), err)
		}
	}
}

// BenchmarkEncode measures the record encoding alone, without bbolt.
func BenchmarkEncode(b *testing.B) {
	it := benchItem()
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeItem(&it)
	}
}
