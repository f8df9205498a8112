package redisq

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/filters/spool"
)

// httpSender replays to base, adding the spool coordinates as headers.
type httpSender struct{ base string }

func (h httpSender) Send(ctx context.Context, it spool.Item) (int, error) {
	req, err := http.NewRequestWithContext(ctx, it.Method, h.base+it.Path, bytes.NewReader(it.Body))
	if err != nil {
		return 0, err
	}
	req.Header = it.Header.Clone()
	req.Header.Set("X-Spool-Queue", it.Queue)
	req.Header.Set("X-Spool-Seq", strconv.FormatUint(it.Seq, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// app is the test app: it records accepted deliveries per queue and checks
// that each one is still the head of its queue (nothing removed early,
// nothing out of order).
type app struct {
	t     *testing.T
	q     *Queue
	mu    sync.Mutex
	got   map[string][]string
	paths map[string][]string
	bad   []string
}

func newApp(t *testing.T, q *Queue) (*app, *httptest.Server) {
	a := &app{t: t, q: q, got: map[string][]string{}, paths: map[string][]string{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	queue := r.Header.Get("X-Spool-Queue")
	seq, _ := strconv.ParseUint(r.Header.Get("X-Spool-Seq"), 10, 64)
	if head, err := a.q.Inspect(queue, 1); err != nil || len(head) != 1 || head[0].Seq != seq {
		a.t.Errorf("app got %s seq %d but the queue head is %v (err %v)", queue, seq, head, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Header.Get("X-Bin") != "caf\xe9 \xff" || r.Header.Get("Content-Type") != "application/json" {
		a.bad = append(a.bad, "headers lost: "+queue)
	}
	a.got[queue] = append(a.got[queue], string(body))
	a.paths[queue] = append(a.paths[queue], r.URL.RequestURI())
}

func (a *app) accepted() map[string][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]string{}
	for q, b := range a.got {
		out[q] = append([]string(nil), b...)
	}
	if len(a.bad) > 0 {
		a.t.Errorf("app: %v", a.bad)
	}
	return out
}

// runReplayer runs r until the test ends.
func runReplayer(t *testing.T, r *spool.Replayer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHeldByADeadReplicaReplayedByAnother: events held by instance A are
// replayed by instance B after A is gone, in order per queue, each removed
// after the app accepted it. A either closed cleanly (its leases are
// released) or died mid-replay (its lease on a queue it had started must
// expire first).
func TestHeldByADeadReplicaReplayedByAnother(t *testing.T) {
	cases := []struct {
		name     string
		aClaimed bool // A had peeked (claimed) a queue and died without Close
	}{
		{"A closed", false},
		{"A died while replaying", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			const lease = 300 * time.Millisecond
			a := newTestQueue(t, Options{Prefix: prefix, Lease: lease})
			want := map[string][]string{}
			for i := range 9 {
				name := []string{"hubspot/acme", "github/octo", "asana/ws1"}[i%3]
				it := testItem(name, i)
				mustAppend(t, a, it)
				want[name] = append(want[name], string(it.Body))
			}
			if tc.aClaimed {
				if items, err := a.Peek("hubspot/acme", 1); err != nil || len(items) != 1 {
					t.Fatalf("A's peek: %v %v", items, err)
				}
				// A dies: no Close, so its claim on hubspot/acme must run out.
			} else if err := a.Close(); err != nil {
				t.Fatal(err)
			}

			b := newTestQueue(t, Options{Prefix: prefix, Lease: lease})
			appB, srv := newApp(t, b)
			start := time.Now()
			r := spool.NewReplayer(b, httpSender{srv.URL}, nil, spool.ReplayOptions{Now: clocktest.Running(time.Unix(1700000000, 0)).Now, Interval: 20 * time.Millisecond, Backoff: 5 * time.Millisecond, OnError: func(q string, err error) { t.Logf("replay %s: %v", q, err) }})
			runReplayer(t, r)
			waitFor(t, 10*time.Second, "B to drain the spool", func() bool { return b.Len() == 0 })
			if got := appB.accepted(); !reflect.DeepEqual(got, want) {
				t.Fatalf("accepted %v\nwant %v", got, want)
			}
			if tc.aClaimed && time.Since(start) < lease/2 {
				t.Fatalf("B drained A's claimed queue after %v, before A's lease (%v) ran out", time.Since(start), lease)
			}
			if stats, err := b.Queues(); err != nil || len(stats) != 0 || b.Bytes() != 0 {
				t.Fatalf("after the drain: %v %v Bytes %d", stats, err, b.Bytes())
			}
		})
	}
}

// TestLeaseKeepsReplicasApart: while one instance replays a queue, another
// sees nothing to send in it; Inspect still shows the items.
func TestLeaseKeepsReplicasApart(t *testing.T) {
	prefix := redistest.Prefix(t)
	a := newTestQueue(t, Options{Prefix: prefix})
	b := newTestQueue(t, Options{Prefix: prefix})
	for i := range 3 {
		mustAppend(t, a, testItem("q/a", i))
	}
	steps := []struct {
		name  string
		q     *Queue
		peek  func(q *Queue) ([]spool.Item, error)
		wantN int
	}{
		{"A claims", a, func(q *Queue) ([]spool.Item, error) { return q.Peek("q/a", 10) }, 3},
		{"B is kept out", b, func(q *Queue) ([]spool.Item, error) { return q.Peek("q/a", 10) }, 0},
		{"B may look", b, func(q *Queue) ([]spool.Item, error) { return q.Inspect("q/a", 10) }, 3},
		{"A keeps its claim", a, func(q *Queue) ([]spool.Item, error) { return q.Peek("q/a", 10) }, 3},
		{"A releases on Close", a, func(q *Queue) ([]spool.Item, error) { return nil, q.Close() }, 0},
		{"B takes over", b, func(q *Queue) ([]spool.Item, error) { return q.Peek("q/a", 10) }, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			items, err := st.peek(st.q)
			if err != nil || len(items) != st.wantN {
				t.Fatalf("got %d items (%v), want %d", len(items), err, st.wantN)
			}
		})
	}
}
