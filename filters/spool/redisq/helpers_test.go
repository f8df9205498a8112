package redisq

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/filters/spool"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// testTimeout is generous for a loaded CI machine under the race detector.
const testTimeout = 2 * time.Second

// newTestQueue opens a Queue on the test Redis under a prefix of its own
// (unless opts names one) and closes it at test end.
func newTestQueue(t testing.TB, opts Options) *Queue {
	t.Helper()
	if opts.Client == nil && opts.URL == "" {
		opts.URL = redistest.URL(t)
	}
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	q, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// testItem builds a valid item whose body identifies it as queue#i; the
// body and a header hold bytes that are not valid UTF-8.
func testItem(queue string, i int) spool.Item {
	return spool.Item{
		Queue:    queue,
		Provider: "hubspot",
		Account:  "acme",
		Record:   fmt.Sprintf("rec-%d", i),
		Reason:   "breaker_open",
		Method:   http.MethodPost,
		Path:     "/webhooks/hubspot?i=" + fmt.Sprint(i),
		Header:   http.Header{"Content-Type": {"application/json"}, "X-Test": {"a", "b"}, "X-Bin": {"caf\xe9 \xff"}},
		Body:     []byte(fmt.Sprintf("{\"queue\":%q,\"i\":%d}\x00\xff", queue, i)),
		HeldAt:   time.Unix(1700000000, int64(i)).UTC(),
		// Trusted, so the main budget applies (see the unverified tests).
		Verification: spool.Verified,
	}
}

// mustAppend appends or fails the test.
func mustAppend(t testing.TB, q spool.Queue, it spool.Item) uint64 {
	t.Helper()
	seq, err := q.Append(it)
	if err != nil {
		t.Fatalf("Append(%s): %v", it.Queue, err)
	}
	return seq
}

// bodies returns the item bodies as strings, in order.
func bodies(items []spool.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Body)
	}
	return out
}
