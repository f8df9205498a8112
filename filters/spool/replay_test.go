package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
)

// httpSender is a minimal Sender replaying to base; it adds the spool
// coordinates as headers so the test app can check them.
type httpSender struct{ base string }

func (h httpSender) Send(ctx context.Context, it Item) (int, error) {
	req, err := http.NewRequestWithContext(ctx, it.Method, h.base+it.Path, bytes.NewReader(it.Body))
	if err != nil {
		return 0, err
	}
	req.Header = it.Header.Clone()
	req.Header.Set("X-Spool-Queue", it.Queue)
	req.Header.Set("X-Spool-Seq", strconv.FormatUint(it.Seq, 10))
	req.Header.Set("X-Spool-Attempts", strconv.Itoa(it.Attempts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// senderFunc adapts a function to Sender.
type senderFunc func(ctx context.Context, it Item) (int, error)

func (f senderFunc) Send(ctx context.Context, it Item) (int, error) { return f(ctx, it) }

// testApp is an httptest app that fails its first failFirst requests with
// 500, records accepted bodies per queue, and checks that every item it
// receives is still held by the spool (nothing removed before a 2xx).
type testApp struct {
	t         *testing.T
	spool     *Spool
	failFirst int
	noHead    bool         // skip the spool-head check (a corrupt head is skipped by Peek)
	status    atomic.Int32 // if non-zero, answer this instead of 200 after failFirst

	mu       sync.Mutex
	requests int
	accepted map[string][]string
	attempts int // sum of X-Spool-Attempts over accepted items
}

func newTestApp(t *testing.T, s *Spool, failFirst int) (*testApp, *httptest.Server) {
	app := &testApp{t: t, spool: s, failFirst: failFirst, accepted: map[string][]string{}}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return app, srv
}

func (a *testApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.Header.Get("X-Spool-Queue")
	seq, _ := strconv.ParseUint(r.Header.Get("X-Spool-Seq"), 10, 64)
	if head, err := a.spool.Peek(q, 1); !a.noHead && (err != nil || len(head) != 1 || head[0].Seq != seq) {
		a.t.Errorf("app got %s seq %d but spool head is %v (err %v): removed early or out of order", q, seq, head, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	if a.requests <= a.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if st := a.status.Load(); st != 0 {
		w.WriteHeader(int(st))
		return
	}
	n, _ := strconv.Atoi(r.Header.Get("X-Spool-Attempts"))
	a.attempts += n
	a.accepted[q] = append(a.accepted[q], string(body))
}

func (a *testApp) snapshot() (requests int, accepted map[string][]string, attempts int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc := map[string][]string{}
	for q, b := range a.accepted {
		acc[q] = append([]string(nil), b...)
	}
	return a.requests, acc, a.attempts
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receive waits for one value on ch (Run's passes run on their own
// goroutine).
func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// runReplayer starts r.Run and stops it at test end.
func runReplayer(t *testing.T, r *Replayer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func TestReplayerDeliversInOrderExactlyOnceAfterRetries(t *testing.T) {
	cases := []struct {
		name      string
		failFirst int
		queues    int
		perQueue  int
		batch     int
	}{
		{"fails first two then accepts", 2, 1, 5, 0},
		{"two queues with failures", 2, 2, 4, 0},
		{"more than one batch", 0, 1, 7, 3},
		{"failures across batches", 3, 3, 5, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, Options{})
			app, srv := newTestApp(t, s, tc.failFirst)
			want := map[string][]string{}
			for i := range tc.queues * tc.perQueue {
				q := fmt.Sprintf("github/org%d", i%tc.queues)
				it := testItem(q, i)
				mustAppend(t, s, it)
				want[q] = append(want[q], string(it.Body))
			}
			var errCount atomic.Int32
			// The clock runs from testEpoch: Run retries after its 5 ms
			// backoffs by itself.
			r := NewReplayer(s, httpSender{srv.URL}, nil, ReplayOptions{Now: clocktest.Running(testEpoch()).Now,
				Interval: 20 * time.Millisecond, Backoff: 5 * time.Millisecond, Batch: tc.batch,
				OnError: func(string, error) { errCount.Add(1) },
			})
			runReplayer(t, r)
			waitFor(t, 10*time.Second, "spool to drain", func() bool { return s.Len() == 0 })

			requests, accepted, attempts := app.snapshot()
			if !reflect.DeepEqual(accepted, want) {
				t.Fatalf("accepted %v\nwant %v", accepted, want)
			}
			if total := tc.queues * tc.perQueue; requests != total+tc.failFirst {
				t.Fatalf("%d requests, want %d items + %d failures", requests, total, tc.failFirst)
			}
			if attempts != tc.failFirst || int(errCount.Load()) != tc.failFirst {
				t.Fatalf("recorded attempts %d, OnError calls %d, want %d each", attempts, errCount.Load(), tc.failFirst)
			}
			if s.Bytes() != 0 {
				t.Fatalf("Bytes %d after drain", s.Bytes())
			}
		})
	}
}

func TestDrainOnceStopsQueueOnFailure(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 0)
	app.status.Store(http.StatusInternalServerError)
	for i := range 3 {
		mustAppend(t, s, testItem("asana/ws", i))
	}
	r := NewReplayer(s, httpSender{srv.URL}, nil, ReplayOptions{Now: testEpoch})
	ctx := context.Background()

	sent, err := r.DrainOnce(ctx)
	if sent != 0 || err == nil || !strings.Contains(err.Error(), "app answered 500") || !strings.Contains(err.Error(), `"asana/ws"`) {
		t.Fatalf("DrainOnce = %d, %v; want 0 and a 500 error naming the queue", sent, err)
	}
	if requests, _, _ := app.snapshot(); requests != 1 {
		t.Fatalf("%d requests, want 1 (queue must stop at its first failure)", requests)
	}
	items, _ := s.Peek("asana/ws", 10)
	if len(items) != 3 || items[0].Attempts != 1 || items[1].Attempts != 0 {
		t.Fatalf("after failure: %d items, attempts %d/%d", len(items), items[0].Attempts, items[1].Attempts)
	}

	app.status.Store(0)
	if sent, err := r.DrainOnce(ctx); sent != 3 || err != nil || s.Len() != 0 {
		t.Fatalf("DrainOnce after recovery = %d, %v, Len %d", sent, err, s.Len())
	}
}

func TestReplayerSenderErrors(t *testing.T) {
	cases := []struct {
		name         string
		send         senderFunc
		cancel       bool
		wantAttempts int
		wantBackoff  bool
	}{
		{"transport error is not an attempt (the app never answered)", func(context.Context, Item) (int, error) {
			return 0, errors.New("connection refused")
		}, false, 0, true},
		{"503 is not an attempt (the app is unavailable)", func(context.Context, Item) (int, error) {
			return http.StatusServiceUnavailable, nil
		}, false, 0, true},
		{"500 is an attempt", func(context.Context, Item) (int, error) { return http.StatusInternalServerError, nil }, false, 1, true},
		{"redirect is not success", func(context.Context, Item) (int, error) { return http.StatusFound, nil }, false, 1, true},
		{"shutdown is not the app's fault", func(ctx context.Context, _ Item) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, true, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, Options{})
			mustAppend(t, s, testItem("q/a", 1))
			r := NewReplayer(s, tc.send, nil, ReplayOptions{Now: testEpoch})
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			if sent, err := r.DrainOnce(ctx); sent != 0 || err == nil {
				t.Fatalf("DrainOnce = %d, %v; want 0 and an error", sent, err)
			}
			items, err := s.Peek("q/a", 1)
			if err != nil || len(items) != 1 || items[0].Attempts != tc.wantAttempts {
				t.Fatalf("item after failure: %+v, %v; want Attempts %d", items, err, tc.wantAttempts)
			}
			if _, ok := r.backoff["q/a"]; ok != tc.wantBackoff {
				t.Fatalf("backoff set = %v, want %v", ok, tc.wantBackoff)
			}
		})
	}
}

func TestReadyFalseHoldsQueueWhileOthersDrain(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 0)
	for i := range 3 {
		mustAppend(t, s, testItem("hubspot/held", i))
		mustAppend(t, s, testItem("hubspot/open", i))
	}
	var heldReady atomic.Bool
	skipped := make(chan struct{}, 64) // one per pass that found held not ready
	ready := func(q string) bool {
		if q != "hubspot/held" || heldReady.Load() {
			return true
		}
		select {
		case skipped <- struct{}{}:
		default:
		}
		return false
	}
	r := NewReplayer(s, httpSender{srv.URL}, ready, ReplayOptions{Interval: time.Hour, Now: testEpoch})

	if sent, err := r.DrainOnce(context.Background()); sent != 3 || err != nil {
		t.Fatalf("DrainOnce = %d, %v; want 3 from the open queue", sent, err)
	}
	_, accepted, _ := app.snapshot()
	if len(accepted["hubspot/held"]) != 0 || len(accepted["hubspot/open"]) != 3 {
		t.Fatalf("accepted %v; held queue must not be sent", accepted)
	}
	if items, _ := s.Peek("hubspot/held", 10); len(items) != 3 {
		t.Fatalf("held queue has %d items, want 3", len(items))
	}

	<-skipped         // DrainOnce's
	runReplayer(t, r) // first pass runs at once; held still not ready
	receive(t, skipped, "Run's first pass")
	if s.Len() != 3 {
		t.Fatalf("Len %d while held queue not ready, want 3", s.Len())
	}
	heldReady.Store(true)
	r.Kick()
	waitFor(t, 2*time.Second, "held queue to drain after Kick", func() bool { return s.Len() == 0 })
}

func TestKickWakesPromptly(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 0)
	passes := make(chan struct{}, 16)
	ready := func(q string) bool {
		if q == "probe/x" {
			passes <- struct{}{}
			return false
		}
		return true
	}
	mustAppend(t, s, testItem("probe/x", 0)) // makes every pass observable
	r := NewReplayer(s, httpSender{srv.URL}, ready, ReplayOptions{Interval: time.Hour, Now: testEpoch})
	runReplayer(t, r)
	select {
	case <-passes:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not make its first pass")
	}

	mustAppend(t, s, testItem("pipedrive/co", 1))
	// Without Kick, Run sleeps for the whole Interval: no pass, no delivery.
	if w := r.nextWait(false); w != time.Hour {
		t.Fatalf("Run would wake after %s, want the Interval (1h)", w)
	}
	if _, acc, _ := app.snapshot(); len(acc["pipedrive/co"]) != 0 {
		t.Fatal("item delivered without Kick while Interval is an hour")
	}
	// Kick wakes it at once; any delivery before the Interval is the Kick's.
	r.Kick()
	waitFor(t, 10*time.Second, "delivery after Kick", func() bool {
		_, acc, _ := app.snapshot()
		return len(acc["pipedrive/co"]) == 1
	})
}

func TestRunHonorsBackoffDrainOnceIgnoresIt(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 1)
	mustAppend(t, s, testItem("q/a", 1))
	var passes atomic.Int32 // ready is asked once per pass
	ready := func(string) bool { passes.Add(1); return true }
	r := NewReplayer(s, httpSender{srv.URL}, ready, ReplayOptions{Interval: 10 * time.Millisecond, Backoff: time.Hour, Now: testEpoch})
	runReplayer(t, r)
	waitFor(t, 5*time.Second, "first (failing) request", func() bool { n, _, _ := app.snapshot(); return n == 1 })
	// Two more passes have begun, so the one after the failure is complete
	// (passes never overlap): it skipped the queue in backoff.
	after := passes.Load()
	r.Kick()
	waitFor(t, 5*time.Second, "two passes after the failure", func() bool { return passes.Load() >= after+2 })
	if n, _, _ := app.snapshot(); n != 1 || s.Len() != 1 {
		t.Fatalf("%d requests, Len %d during an hour of backoff; want 1 and 1", n, s.Len())
	}
	if sent, err := r.DrainOnce(context.Background()); sent != 1 || err != nil {
		t.Fatalf("DrainOnce during backoff = %d, %v; want 1, nil", sent, err)
	}
}

// TestBackoffEndsOnTheReplayersClock: a queue in backoff is retried once
// the replayer's clock has passed its backoff, however little wall time
// went by.
func TestBackoffEndsOnTheReplayersClock(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 1)
	mustAppend(t, s, testItem("q/a", 1))
	clk := clocktest.Frozen(testEpoch())
	r := NewReplayer(s, httpSender{srv.URL}, nil, ReplayOptions{Interval: 2 * time.Hour, Backoff: time.Hour, Now: clk.Now})
	runReplayer(t, r)
	waitFor(t, 5*time.Second, "the failure's hour of backoff", func() bool { return r.nextWait(false) == time.Hour })
	if n, _, _ := app.snapshot(); n != 1 {
		t.Fatalf("%d requests, want the one failure", n)
	}
	clk.Advance(time.Hour)
	if w := r.nextWait(false); w != 0 {
		t.Fatalf("next pass in %s once the backoff is over, want 0", w)
	}
	r.Kick()
	waitFor(t, 5*time.Second, "the retry", func() bool { return s.Len() == 0 })
	if n, _, _ := app.snapshot(); n != 2 {
		t.Fatalf("%d requests, want the failure and one retry", n)
	}
}

func TestBackoffDoublesToCap(t *testing.T) {
	r := NewReplayer(nil, nil, nil, ReplayOptions{Now: testEpoch})
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		t.Run(fmt.Sprint("failure ", i+1), func(t *testing.T) {
			r.fail("q")
			if got := r.backoff["q"].delay; got != w {
				t.Fatalf("delay %s, want %s", got, w)
			}
		})
	}
}

func TestReplayOptionsDefaults(t *testing.T) {
	cases := []struct {
		name string
		in   ReplayOptions
		want ReplayOptions
	}{
		{"zero", ReplayOptions{}, ReplayOptions{Interval: time.Second, Backoff: 2 * time.Second, MaxBackoff: time.Minute, Batch: 50,
			Dead: DeadPolicy{MaxAttempts: 10, MaxAge: 24 * time.Hour}}},
		{"cap below backoff", ReplayOptions{Backoff: 5 * time.Minute}, ReplayOptions{Interval: time.Second, Backoff: 5 * time.Minute,
			MaxBackoff: 5 * time.Minute, Batch: 50, Dead: DeadPolicy{MaxAttempts: 10, MaxAge: 24 * time.Hour}}},
		{"kept", ReplayOptions{Interval: 3, Backoff: 4, MaxBackoff: 5, Batch: 6, Dead: DeadPolicy{MaxAttempts: -1, MaxAge: time.Minute}},
			ReplayOptions{Interval: 3, Backoff: 4, MaxBackoff: 5, Batch: 6, Dead: DeadPolicy{MaxAttempts: -1, MaxAge: time.Minute}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.withDefaults()
			if got.Now == nil {
				t.Fatal("Now not defaulted")
			}
			got.Now = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReplayerReportsCorruptAndDeliversRest(t *testing.T) {
	s := openTemp(t, Options{})
	app, srv := newTestApp(t, s, 0)
	var seqs []uint64
	for i := range 3 {
		seqs = append(seqs, mustAppend(t, s, testItem("q/a", i)))
	}
	corrupt(t, s, "q/a", seqs[0], []byte("garbage"))
	var reported []error
	r := NewReplayer(s, senderFunc(func(ctx context.Context, it Item) (int, error) {
		if it.Seq == seqs[0] {
			t.Errorf("corrupt record was sent")
		}
		return httpSender{srv.URL}.Send(ctx, it)
	}), nil, ReplayOptions{Now: testEpoch, OnError: func(_ string, err error) { reported = append(reported, err) }})
	app.noHead = true
	sent, err := r.DrainOnce(context.Background())
	var ce *CorruptError
	if sent != 2 || !errors.As(err, &ce) || ce.Seq != seqs[0] {
		t.Fatalf("DrainOnce = %d, %v; want 2 and a CorruptError for seq %d", sent, err, seqs[0])
	}
	if len(reported) != 1 || !errors.Is(reported[0], ErrCorrupt) {
		t.Fatalf("OnError got %v", reported)
	}
	if _, acc, _ := app.snapshot(); len(acc["q/a"]) != 2 || s.Len() != 1 {
		t.Fatalf("accepted %v, Len %d; want 2 delivered and the corrupt record still held", acc, s.Len())
	}
}
