package redisq

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/spooltest"
)

func TestAppendPeekOrderAcrossQueues(t *testing.T) {
	q := newTestQueue(t, Options{})
	queues := []string{"hubspot/acme", "github/octo", "asana/ws1"}
	want := map[string][]spool.Item{}
	var lastSeq uint64
	for i := range 10 { // interleave arrivals across queues
		name := queues[i%len(queues)]
		it := testItem(name, i)
		it.Attempts = i % 2
		seq := mustAppend(t, q, it)
		if seq <= lastSeq {
			t.Fatalf("seq %d not above previous %d", seq, lastSeq)
		}
		lastSeq = seq
		it.Seq = seq
		want[name] = append(want[name], it)
	}
	for _, name := range queues {
		t.Run(name, func(t *testing.T) {
			items, err := q.Peek(name, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != len(want[name]) {
				t.Fatalf("%d items, want %d", len(items), len(want[name]))
			}
			for i, it := range items {
				w := want[name][i]
				if !it.HeldAt.Equal(w.HeldAt) {
					t.Fatalf("item %d HeldAt %v, want %v", i, it.HeldAt, w.HeldAt)
				}
				it.HeldAt = w.HeldAt
				if !reflect.DeepEqual(it, w) {
					t.Fatalf("item %d round-tripped to\n%+v\nwant\n%+v", i, it, w)
				}
			}
			two, err := q.Peek(name, 2)
			if err != nil || len(two) != 2 || two[0].Seq != items[0].Seq || two[1].Seq != items[1].Seq {
				t.Fatalf("Peek(2) = %v, %v", two, err)
			}
		})
	}
	if items, err := q.Peek("nope/none", 5); err != nil || len(items) != 0 {
		t.Fatalf("unknown queue: %v, %v", items, err)
	}
	if _, err := q.Peek("hubspot/acme", 0); err == nil {
		t.Fatal("Peek(n=0) succeeded")
	}
}

func TestAppendValidation(t *testing.T) {
	q := newTestQueue(t, Options{})
	cases := []struct {
		name   string
		mutate func(*spool.Item)
		want   string
	}{
		{"no queue", func(it *spool.Item) { it.Queue = "" }, "queue is required"},
		{"long queue", func(it *spool.Item) { it.Queue = strings.Repeat("q", spool.MaxQueueLen+1) }, "longer than"},
		{"no method", func(it *spool.Item) { it.Method = "" }, "method is required"},
		{"bad method", func(it *spool.Item) { it.Method = "PO ST" }, "whitespace"},
		{"relative path", func(it *spool.Item) { it.Path = "webhooks" }, "must start with"},
		{"negative attempts", func(it *spool.Item) { it.Attempts = -1 }, "attempts -1"},
		{"held-at out of range", func(it *spool.Item) { it.HeldAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "not representable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := testItem("q/a", 1)
			tc.mutate(&it)
			if _, err := q.Append(it); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Append error %v, want containing %q", err, tc.want)
			}
		})
	}
	if q.Len() != 0 {
		t.Fatalf("rejected items were stored: Len=%d", q.Len())
	}
	it := testItem("q/a", 1)
	it.HeldAt, it.Header, it.Body = time.Time{}, nil, nil
	before := time.Now()
	mustAppend(t, q, it)
	got, err := q.Peek("q/a", 1)
	if err != nil || len(got) != 1 || got[0].HeldAt.Before(before.Add(-time.Second)) || got[0].Header == nil || len(got[0].Body) != 0 {
		t.Fatalf("zero HeldAt not defaulted to now, or empty header/body mangled: %+v, %v", got, err)
	}
}

func TestBounds(t *testing.T) {
	size := int64(testItem("q/a", 1).Size())
	cases := []struct {
		name  string
		opts  Options
		fits  int
		bound string
	}{
		{"by count", Options{MaxItems: 3}, 3, "MaxItems 3"},
		{"by bytes", Options{MaxBytes: 2*size + size/2}, 2, "exceeds MaxBytes"},
		{"item larger than MaxBytes", Options{MaxBytes: size - 1}, 0, "exceeds MaxBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQueue(t, tc.opts)
			var seqs []uint64
			for i := range tc.fits {
				seqs = append(seqs, mustAppend(t, q, testItem("q/a", i)))
			}
			lenBefore, bytesBefore := q.Len(), q.Bytes()
			if bytesBefore != int64(tc.fits)*size {
				t.Fatalf("Bytes %d, want %d", bytesBefore, int64(tc.fits)*size)
			}
			_, err := q.Append(testItem("q/a", 1))
			if !errors.Is(err, spool.ErrFull) || !strings.Contains(err.Error(), tc.bound) {
				t.Fatalf("Append when full: %v, want ErrFull mentioning %q", err, tc.bound)
			}
			if q.Len() != lenBefore || q.Bytes() != bytesBefore {
				t.Fatalf("failed Append changed counters: %d/%d -> %d/%d", lenBefore, bytesBefore, q.Len(), q.Bytes())
			}
			if tc.fits == 0 {
				return
			}
			if err := q.Remove("q/a", seqs[0]); err != nil {
				t.Fatal(err)
			}
			next, err := q.Append(testItem("q/a", 1))
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
	q := newTestQueue(t, Options{})
	seq := mustAppend(t, q, testItem("q/a", 1))
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"remove unknown queue", func() error { return q.Remove("q/none", seq) }, spool.ErrNotFound},
		{"remove unknown seq", func() error { return q.Remove("q/a", seq+1) }, spool.ErrNotFound},
		{"mark unknown queue", func() error { return q.MarkAttempt("q/none", seq) }, spool.ErrNotFound},
		{"mark unknown seq", func() error { return q.MarkAttempt("q/a", seq+1) }, spool.ErrNotFound},
		{"mark", func() error { return q.MarkAttempt("q/a", seq) }, nil},
		{"mark again", func() error { return q.MarkAttempt("q/a", seq) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	items, err := q.Peek("q/a", 1)
	if err != nil || len(items) != 1 || items[0].Attempts != 2 {
		t.Fatalf("attempts after two marks: %+v, %v", items, err)
	}
	if q.Bytes() != int64(items[0].Size()) {
		t.Fatalf("MarkAttempt changed accounted size: Bytes %d, Size %d", q.Bytes(), items[0].Size())
	}
	if err := q.Remove("q/a", seq); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove("q/a", seq); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("double Remove: %v", err)
	}
	if stats, err := q.Queues(); err != nil || len(stats) != 0 || q.Len() != 0 || q.Bytes() != 0 {
		t.Fatalf("after emptying: stats %+v err %v Len %d Bytes %d", stats, err, q.Len(), q.Bytes())
	}
	keys, err := q.client.Keys(t.Context(), q.opts.Prefix+"*").Result()
	if err != nil || len(keys) != 1 { // the counters and the seq remain
		t.Fatalf("keys after emptying %v (%v), want only meta", keys, err)
	}
	if len(q.leased) != 0 {
		t.Fatalf("an emptied queue is still remembered as leased: %v", q.leased)
	}
}

func TestQueuesStats(t *testing.T) {
	q := newTestQueue(t, Options{})
	want := map[string]spool.QueueStat{}
	for i := range 7 {
		name := fmt.Sprintf("p/%d", i%3)
		it := testItem(name, i)
		mustAppend(t, q, it)
		st := want[name]
		if st.Count == 0 {
			st.Queue, st.Oldest = name, it.HeldAt
		}
		st.Count++
		st.Bytes += int64(it.Size())
		want[name] = st
	}
	stats, err := q.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(want) {
		t.Fatalf("got %d queues, want %d", len(stats), len(want))
	}
	var total int64
	for i, st := range stats {
		w := want[st.Queue]
		if st.Count != w.Count || st.Bytes != w.Bytes || !st.Oldest.Equal(w.Oldest) {
			t.Errorf("queue %s: %+v, want %+v", st.Queue, st, w)
		}
		if i > 0 && stats[i-1].Queue >= st.Queue {
			t.Errorf("queues not sorted: %s before %s", stats[i-1].Queue, st.Queue)
		}
		total += st.Bytes
	}
	if total != q.Bytes() || q.Len() != 7 {
		t.Fatalf("Queues total %d bytes, Bytes %d, Len %d", total, q.Bytes(), q.Len())
	}
}

// TestConcurrentAppendFromTwoReplicas: counters and bounds are shared and
// stay consistent under concurrent appends from two instances.
func TestConcurrentAppendFromTwoReplicas(t *testing.T) {
	const workers, per, maxItems = 8, 10, 60
	prefix := redistest.Prefix(t)
	a := newTestQueue(t, Options{Prefix: prefix, MaxItems: maxItems})
	b := newTestQueue(t, Options{Prefix: prefix, MaxItems: maxItems})
	var wg sync.WaitGroup
	var full atomic.Int32
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for w := range workers {
		wg.Go(func() {
			q := a
			if w%2 == 1 {
				q = b
			}
			for i := range per {
				seq, err := q.Append(testItem(fmt.Sprintf("w/%d", w%3), w*per+i))
				switch {
				case errors.Is(err, spool.ErrFull):
					full.Add(1)
				case err != nil:
					t.Error(err)
				default:
					mu.Lock()
					if seen[seq] {
						t.Errorf("seq %d handed out twice", seq)
					}
					seen[seq] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if a.Len() != maxItems || b.Len() != maxItems || int(full.Load()) != workers*per-maxItems {
		t.Fatalf("Len %d/%d, ErrFull %d; want %d and %d", a.Len(), b.Len(), full.Load(), maxItems, workers*per-maxItems)
	}
	stats, err := b.Queues()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var bytes int64
	for _, st := range stats {
		n += st.Count
		bytes += st.Bytes
		items, err := b.Inspect(st.Queue, st.Count)
		if err != nil || len(items) != st.Count {
			t.Fatalf("queue %s: %d items (%v), stats say %d", st.Queue, len(items), err, st.Count)
		}
		for i := 1; i < len(items); i++ {
			if items[i].Seq <= items[i-1].Seq {
				t.Fatalf("queue %s not in seq order", st.Queue)
			}
		}
	}
	if n != a.Len() || bytes != a.Bytes() {
		t.Fatalf("stats total %d/%d, counters %d/%d", n, bytes, a.Len(), a.Bytes())
	}
}

func TestCorruptEntryIsSkippedAndNamed(t *testing.T) {
	q := newTestQueue(t, Options{})
	var seqs []uint64
	for i := range 2 {
		seqs = append(seqs, mustAppend(t, q, testItem("q/a", i)))
	}
	k := q.keysFor("q/a")
	// A foreign entry after the good ones, with its info, as if a bad
	// writer had added it.
	badSeq := seqs[1] + 100
	if err := q.client.XAdd(t.Context(), &redis.XAddArgs{Stream: k.stream, ID: entryID(badSeq), Values: []any{"zz", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.client.HSet(t.Context(), k.info, badSeq, "10 0").Err(); err != nil {
		t.Fatal(err)
	}
	items, err := q.Peek("q/a", 10)
	var ce *spool.CorruptError
	if !errors.As(err, &ce) || ce.Queue != "q/a" || ce.Seq != badSeq || !errors.Is(err, spool.ErrCorrupt) {
		t.Fatalf("Peek error %v, want CorruptError for seq %d", err, badSeq)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("seq %d", badSeq)) || !strings.Contains(err.Error(), `"q/a"`) {
		t.Fatalf("error %q does not name queue and seq", err)
	}
	if len(items) != 2 || items[0].Seq != seqs[0] || items[1].Seq != seqs[1] {
		t.Fatalf("good items around the corrupt one: %v", bodies(items))
	}
	if err := q.Remove("q/a", badSeq); err != nil {
		t.Fatalf("Remove of a corrupt entry: %v", err)
	}
	if items, err := q.Peek("q/a", 10); err != nil || len(items) != 2 {
		t.Fatalf("after removing the corrupt entry: %v, %v", bodies(items), err)
	}
}

// TestKeysAreHashed: queue names (provider/account) never appear in key
// names.
func TestKeysAreHashed(t *testing.T) {
	q := newTestQueue(t, Options{})
	mustAppend(t, q, testItem("hubspot/acct-4242", 1))
	if _, err := q.Peek("hubspot/acct-4242", 1); err != nil {
		t.Fatal(err)
	}
	keys, err := q.client.Keys(t.Context(), q.opts.Prefix+"*").Result()
	if err != nil || len(keys) != 5 { // meta, queues, stream, info, lease
		t.Fatalf("keys %v (%v)", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, "4242") || strings.Contains(k, "hubspot") {
			t.Fatalf("key %q names the queue", k)
		}
	}
}

// TestBehaviourSuite runs the behaviour every spool must have
// (filters/spool/spooltest, which asserts) against the Redis queue.
func TestBehaviourSuite(t *testing.T) {
	spooltest.Run(t, func(t *testing.T, b spool.Budget) spool.Queue {
		return newTestQueue(t, Options{MaxBytes: b.MaxBytes, MaxItems: b.MaxItems, UnverifiedMaxBytes: b.UnverifiedMaxBytes,
			UnverifiedMaxItems: b.UnverifiedMaxItems, MaxItemBytes: b.MaxItemBytes})
	})
}
