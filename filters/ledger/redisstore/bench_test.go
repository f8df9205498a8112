package redisstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
)

// benchFields is a typical tracked-field set of one record.
func benchFields() []ledger.Field {
	return []ledger.Field{{Name: "email", Hash: 1}, {Name: "firstname", Hash: 2}, {Name: "lastname", Hash: 3}, {Name: "phone", Hash: 4}}
}

// benchKeys records n keys with a write and a seen state each.
func benchKeys(b *testing.B, s ledger.Store, n int) []ledger.Key {
	b.Helper()
	fields := benchFields()
	keys := make([]ledger.Key, n)
	for i := range keys {
		keys[i] = ledger.Key{Provider: "hubspot", Object: "contacts", Record: fmt.Sprintf("rec-%06d", i)}
		if err := s.Accept(b.Context(), keys[i], ledger.Accept{Fields: fields[:2], At: time.Now()}); err != nil {
			b.Fatal(err)
		}
		if err := s.RecordWrite(b.Context(), keys[i], ledger.Write{Fields: fields, FP: 42, At: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

func newBenchMemory(b *testing.B) *ledger.Memory {
	m, err := ledger.NewMemory(ledger.Options{Shards: 64, MaxSizeMB: 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

// BenchmarkRedisGet is one ledger lookup over loopback: one round trip.
func BenchmarkRedisGet(b *testing.B) {
	s := newTestStore(b, Options{})
	keys := benchKeys(b, s, 100)
	var st ledger.State
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if ok, err := s.Get(b.Context(), keys[i%len(keys)], &st); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMemoryGet is the same lookup on the embedded bigcache store.
func BenchmarkMemoryGet(b *testing.B) {
	m := newBenchMemory(b)
	keys := benchKeys(b, m, 100)
	var st ledger.State
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if ok, err := m.Get(b.Context(), keys[i%len(keys)], &st); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkRedisRecordWrite is one update of a record (an accepted event):
// a read and a compare-and-set.
func BenchmarkRedisRecordWrite(b *testing.B) {
	s := newTestStore(b, Options{})
	keys := benchKeys(b, s, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fields := []ledger.Field{{Name: "email", Hash: uint64(i)}, {Name: "phone", Hash: uint64(i)}}
		if err := s.Accept(b.Context(), keys[i%len(keys)], ledger.Accept{Fields: fields, At: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryRecordWrite is the same on the embedded store.
func BenchmarkMemoryRecordWrite(b *testing.B) {
	m := newBenchMemory(b)
	keys := benchKeys(b, m, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fields := []ledger.Field{{Name: "email", Hash: uint64(i)}, {Name: "phone", Hash: uint64(i)}}
		if err := m.Accept(b.Context(), keys[i%len(keys)], ledger.Accept{Fields: fields, At: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisGetMany100 is the ledger lookup of a 100-event inbound
// batch: one pipelined round trip.
func BenchmarkRedisGetMany100(b *testing.B) {
	s := newTestStore(b, Options{})
	keys := benchKeys(b, s, 100)
	sts := make([]ledger.State, len(keys))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		oks, err := s.GetMany(b.Context(), keys, sts)
		if err != nil || !oks[99] {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisEventsSeen100 is the dedup lookup of a 100-event batch.
func BenchmarkRedisEventsSeen100(b *testing.B) {
	s := newTestStore(b, Options{})
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("hubspot\x00evt-%d", i)
	}
	if err := s.MarkEvents(b.Context(), ids[:50]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		seen, err := s.EventsSeen(b.Context(), ids)
		if err != nil || !seen[0] || seen[99] {
			b.Fatal(seen, err)
		}
	}
}
