package spool

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// openTemp opens a spool in a fresh temp dir and closes it at test end.
func openTemp(t testing.TB, opts Options) *Spool {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "spool.db")
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testItem builds a valid item whose body identifies it as queue#i.
func testItem(queue string, i int) Item {
	return Item{
		Queue:    queue,
		Provider: "hubspot",
		Account:  "acme",
		Record:   fmt.Sprintf("rec-%d", i),
		Reason:   "breaker_open",
		Method:   http.MethodPost,
		Path:     "/webhooks/hubspot?i=" + fmt.Sprint(i),
		Header:   http.Header{"Content-Type": {"application/json"}, "X-Test": {"a", "b"}},
		Body:     []byte(fmt.Sprintf(`{"queue":%q,"i":%d}`, queue, i)),
		HeldAt:   time.Unix(1700000000, int64(i)).UTC(),
		// Trusted, so the main budget applies (see the unverified tests).
		Verification: Verified,
	}
}

// mustAppend appends or fails the test.
func mustAppend(t testing.TB, s *Spool, it Item) uint64 {
	t.Helper()
	seq, err := s.Append(it)
	if err != nil {
		t.Fatalf("Append(%s): %v", it.Queue, err)
	}
	return seq
}

// bodies returns the item bodies as strings, in order.
func bodies(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Body)
	}
	return out
}

// testEpoch is the clock of replay tests: testItem's HeldAt, so that
// DeadPolicy.MaxAge does not see the items as a year old.
var testEpoch = func() time.Time { return time.Unix(1700000000, 0) }
