package spool

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAppendPeekOrderAcrossQueues(t *testing.T) {
	s := openTemp(t, Options{})
	queues := []string{"hubspot/acme", "github/octo", "asana/ws1"}
	want := map[string][]string{}
	var lastSeq uint64
	for i := range 10 { // interleave arrivals across queues
		q := queues[i%len(queues)]
		it := testItem(q, i)
		seq := mustAppend(t, s, it)
		if seq <= lastSeq {
			t.Fatalf("seq %d not above previous %d", seq, lastSeq)
		}
		lastSeq = seq
		want[q] = append(want[q], string(it.Body))
	}
	for _, q := range queues {
		t.Run(q, func(t *testing.T) {
			items, err := s.Peek(q, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(items); !reflect.DeepEqual(got, want[q]) {
				t.Fatalf("order %v, want %v", got, want[q])
			}
			for i, it := range items {
				if it.Queue != q || (i > 0 && it.Seq <= items[i-1].Seq) {
					t.Fatalf("item %d: queue %q seq %d", i, it.Queue, it.Seq)
				}
				if it.Method != "POST" || !strings.HasPrefix(it.Path, "/webhooks/hubspot?i=") ||
					it.Header.Get("Content-Type") != "application/json" || len(it.Header["X-Test"]) != 2 {
					t.Fatalf("fields lost: %+v", it)
				}
			}
			two, err := s.Peek(q, 2)
			if err != nil || len(two) != 2 || two[0].Seq != items[0].Seq || two[1].Seq != items[1].Seq {
				t.Fatalf("Peek(2) = %v, %v", two, err)
			}
		})
	}
	if items, err := s.Peek("nope/none", 5); err != nil || len(items) != 0 {
		t.Fatalf("unknown queue: %v, %v", items, err)
	}
	if _, err := s.Peek("hubspot/acme", 0); err == nil {
		t.Fatal("Peek(n=0) succeeded")
	}
}

func TestAppendValidation(t *testing.T) {
	s := openTemp(t, Options{})
	cases := []struct {
		name   string
		mutate func(*Item)
		want   string
	}{
		{"no queue", func(it *Item) { it.Queue = "" }, "queue is required"},
		{"long queue", func(it *Item) { it.Queue = strings.Repeat("q", MaxQueueLen+1) }, "longer than"},
		{"no method", func(it *Item) { it.Method = "" }, "method is required"},
		{"bad method", func(it *Item) { it.Method = "PO ST" }, "whitespace"},
		{"relative path", func(it *Item) { it.Path = "webhooks" }, "must start with"},
		{"negative attempts", func(it *Item) { it.Attempts = -1 }, "attempts -1"},
		{"held-at out of range", func(it *Item) { it.HeldAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "not representable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := testItem("q/a", 1)
			tc.mutate(&it)
			if _, err := s.Append(it); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Append error %v, want containing %q", err, tc.want)
			}
		})
	}
	if s.Len() != 0 {
		t.Fatalf("rejected items were stored: Len=%d", s.Len())
	}
	it := testItem("q/a", 1)
	it.HeldAt = time.Time{}
	before := time.Now()
	mustAppend(t, s, it)
	got, err := s.Peek("q/a", 1)
	if err != nil || len(got) != 1 || got[0].HeldAt.Before(before.Add(-time.Second)) {
		t.Fatalf("zero HeldAt not defaulted to now: %v, %v", got, err)
	}
}

func TestReopenIsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for i := range 5 {
		seqs = append(seqs, mustAppend(t, s, testItem("a/1", i)))
	}
	mustAppend(t, s, testItem("b/2", 99))
	if err := s.MarkAttempt("a/1", seqs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("a/1", seqs[0]); err != nil {
		t.Fatal(err)
	}
	last := mustAppend(t, s, testItem("c/3", 7))
	if err := s.Remove("c/3", last); err != nil { // the highest seq is gone, yet must not be reused
		t.Fatal(err)
	}
	wantLen, wantBytes := s.Len(), s.Bytes()
	before, _ := s.Peek("a/1", 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTemp(t, Options{Path: path})
	if s.Len() != wantLen || s.Bytes() != wantBytes {
		t.Fatalf("after reopen Len=%d Bytes=%d, want %d %d", s.Len(), s.Bytes(), wantLen, wantBytes)
	}
	after, err := s.Peek("a/1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bodies(after), bodies(before)) || after[0].Seq != seqs[1] || after[0].Attempts != 1 {
		t.Fatalf("after reopen items %v (first seq %d attempts %d)", bodies(after), after[0].Seq, after[0].Attempts)
	}
	if next := mustAppend(t, s, testItem("a/1", 100)); next != last+1 {
		t.Fatalf("seq after reopen = %d, want %d (no reuse)", next, last+1)
	}
	stats, err := s.Queues()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, st := range stats {
		sum += st.Bytes
	}
	if sum != s.Bytes() || len(stats) != 2 {
		t.Fatalf("queues %+v sum %d, Bytes %d", stats, sum, s.Bytes())
	}
}

func TestBounds(t *testing.T) {
	size := int64(testItem("q/a", 1).Size())
	cases := []struct {
		name  string
		opts  Options
		fits  int    // appends that must succeed
		bound string // text of the ErrFull detail
	}{
		{"by count", Options{MaxItems: 3}, 3, "MaxItems 3"},
		{"by bytes", Options{MaxBytes: 2*size + size/2}, 2, "exceeds MaxBytes"},
		{"item larger than MaxBytes", Options{MaxBytes: size - 1}, 0, "exceeds MaxBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, tc.opts)
			var seqs []uint64
			for i := range tc.fits {
				seqs = append(seqs, mustAppend(t, s, testItem("q/a", i)))
			}
			lenBefore, bytesBefore := s.Len(), s.Bytes()
			_, err := s.Append(testItem("q/a", 1))
			if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), tc.bound) {
				t.Fatalf("Append when full: %v, want ErrFull mentioning %q", err, tc.bound)
			}
			if s.Len() != lenBefore || s.Bytes() != bytesBefore {
				t.Fatalf("failed Append changed counters: %d/%d -> %d/%d", lenBefore, bytesBefore, s.Len(), s.Bytes())
			}
			if tc.fits == 0 {
				return
			}
			if err := s.Remove("q/a", seqs[0]); err != nil {
				t.Fatal(err)
			}
			next, err := s.Append(testItem("q/a", 1))
			if err != nil {
				t.Fatalf("Append after Remove: %v", err)
			}
			if next != seqs[len(seqs)-1]+1 {
				t.Fatalf("seq %d after a rejected Append, want %d (rejection must not consume a seq)", next, seqs[len(seqs)-1]+1)
			}
		})
	}
}

func TestRemoveAndMarkAttempt(t *testing.T) {
	s := openTemp(t, Options{})
	seq := mustAppend(t, s, testItem("q/a", 1))
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"remove unknown queue", func() error { return s.Remove("q/none", seq) }, ErrNotFound},
		{"remove unknown seq", func() error { return s.Remove("q/a", seq+1) }, ErrNotFound},
		{"mark unknown queue", func() error { return s.MarkAttempt("q/none", seq) }, ErrNotFound},
		{"mark unknown seq", func() error { return s.MarkAttempt("q/a", seq+1) }, ErrNotFound},
		{"mark", func() error { return s.MarkAttempt("q/a", seq) }, nil},
		{"mark again", func() error { return s.MarkAttempt("q/a", seq) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	items, err := s.Peek("q/a", 1)
	if err != nil || items[0].Attempts != 2 {
		t.Fatalf("attempts after two marks: %+v, %v", items, err)
	}
	if s.Bytes() != int64(items[0].Size()) {
		t.Fatalf("MarkAttempt changed accounted size: Bytes %d, Size %d", s.Bytes(), items[0].Size())
	}
	if err := s.Remove("q/a", seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("q/a", seq); !errors.Is(err, ErrNotFound) {
		t.Fatalf("double Remove: %v", err)
	}
	if stats, err := s.Queues(); err != nil || len(stats) != 0 || s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("after emptying: stats %+v err %v Len %d Bytes %d", stats, err, s.Len(), s.Bytes())
	}
}

func TestQueuesStats(t *testing.T) {
	s := openTemp(t, Options{})
	want := map[string]QueueStat{}
	for i := range 7 {
		q := fmt.Sprintf("p/%d", i%3)
		it := testItem(q, i)
		mustAppend(t, s, it)
		st := want[q]
		if st.Count == 0 {
			st.Queue, st.Oldest = q, it.HeldAt
		}
		st.Count++
		st.Bytes += int64(it.Size())
		want[q] = st
	}
	stats, err := s.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(want) {
		t.Fatalf("got %d queues, want %d", len(stats), len(want))
	}
	for i, st := range stats {
		w := want[st.Queue]
		if st.Count != w.Count || st.Bytes != w.Bytes || !st.Oldest.Equal(w.Oldest) {
			t.Errorf("queue %s: %+v, want %+v", st.Queue, st, w)
		}
		if i > 0 && stats[i-1].Queue >= st.Queue {
			t.Errorf("queues not sorted: %s before %s", stats[i-1].Queue, st.Queue)
		}
	}
}

// corrupt overwrites a stored record with bad bytes.

func corrupt(t *testing.T, s *Spool, queue string, seq uint64, val []byte) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(queuesBucket)).Bucket([]byte(queue)).Put(seqKey(seq), val)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorruptRecordIsSkippedAndNamed(t *testing.T) {
	s := openTemp(t, Options{})
	var seqs []uint64
	for i := range 3 {
		seqs = append(seqs, mustAppend(t, s, testItem("q/a", i)))
	}
	good := encodeItem(new(testItem("q/a", 1)))
	bad := append([]byte(nil), good...)
	bad[20] ^= 0xff
	corrupt(t, s, "q/a", seqs[1], bad)

	items, err := s.Peek("q/a", 10)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Queue != "q/a" || ce.Seq != seqs[1] || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Peek error %v, want CorruptError for seq %d", err, seqs[1])
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("seq %d", seqs[1])) || !strings.Contains(err.Error(), `"q/a"`) {
		t.Fatalf("error %q does not name queue and seq", err)
	}
	if len(items) != 2 || items[0].Seq != seqs[0] || items[1].Seq != seqs[2] {
		t.Fatalf("good items around the corrupt one: %v", bodies(items))
	}
	if err := s.MarkAttempt("q/a", seqs[1]); !errors.As(err, &ce) {
		t.Fatalf("MarkAttempt on corrupt record: %v", err)
	}
	if err := s.Remove("q/a", seqs[1]); err != nil {
		t.Fatalf("Remove of corrupt record: %v", err)
	}
	if items, err := s.Peek("q/a", 10); err != nil || len(items) != 2 {
		t.Fatalf("after removing corrupt record: %v, %v", bodies(items), err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	const workers, per = 20, 10
	cases := []struct {
		name     string
		maxItems int
		want     int // appends that must succeed; the rest must be ErrFull
	}{
		{"unbounded", 0, workers * per},
		{"hits MaxItems mid-burst", 75, 75},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, Options{MaxItems: tc.maxItems})
			var wg sync.WaitGroup
			var full atomic.Int32
			seqs := make([][]uint64, workers)
			for w := range workers {
				wg.Go(func() {
					q := fmt.Sprintf("w/%d", w%4)
					for i := range per {
						seq, err := s.Append(testItem(q, w*per+i))
						switch {
						case errors.Is(err, ErrFull):
							full.Add(1)
						case err != nil:
							t.Error(err)
						default:
							seqs[w] = append(seqs[w], seq)
						}
					}
				})
			}
			wg.Wait()
			if s.Len() != tc.want || int(full.Load()) != workers*per-tc.want {
				t.Fatalf("Len %d, ErrFull %d; want %d and %d", s.Len(), full.Load(), tc.want, workers*per-tc.want)
			}
			seen := map[uint64]bool{}
			for w, ss := range seqs {
				for i, seq := range ss {
					if seen[seq] || seq < 1 || seq > uint64(tc.want) || (i > 0 && seq <= ss[i-1]) {
						t.Fatalf("worker %d: seq %d duplicated, out of order or outside 1..%d", w, seq, tc.want)
					}
					seen[seq] = true
				}
			}
			checkQueuesMatchCounters(t, s)
		})
	}
}

// checkQueuesMatchCounters verifies per-queue order and that Queues sums to Len/Bytes.

func checkQueuesMatchCounters(t *testing.T, s *Spool) {
	t.Helper()
	stats, err := s.Queues()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var b int64
	for _, st := range stats {
		n += st.Count
		b += st.Bytes
		items, err := s.Peek(st.Queue, st.Count)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(items); i++ {
			if items[i].Seq <= items[i-1].Seq {
				t.Fatalf("queue %s not in seq order", st.Queue)
			}
		}
	}
	if n != s.Len() || b != s.Bytes() {
		t.Fatalf("stats total %d/%d, counters %d/%d", n, b, s.Len(), s.Bytes())
	}
}
