// Package spooltest is one behaviour suite for every spool.Queue: the
// bbolt spool and the Redis Streams queue must agree on the verification
// budgets, the per-item bound and the dead letters, and the Replayer must
// move what the app keeps refusing out of the way on both.
package spooltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/spool"
)

// Open returns an empty queue with budget b (zero fields: defaults),
// closed at test end.
type Open func(t *testing.T, b spool.Budget) spool.Queue

// Run runs every case against open.
func Run(t *testing.T, open Open) {
	t.Run("UnverifiedBudgetIsSeparate", func(t *testing.T) { testUnverifiedBudget(t, open) })
	t.Run("MaxItemBytes", func(t *testing.T) { testMaxItemBytes(t, open) })
	t.Run("DeadLetterLifecycle", func(t *testing.T) { testDeadLetters(t, open) })
	t.Run("DeadLettersKeepTheirBudget", func(t *testing.T) { testDeadBudget(t, open) })
	t.Run("ReplayerBuriesAndGoesOn", func(t *testing.T) { testReplayerBuries(t, open) })
}

// epoch is the held-at time of test items and the replay clock.
var epoch = time.Unix(1700000000, 0)

// Item builds a valid item whose body names it.
func Item(queue string, i int, v spool.Verification) spool.Item {
	return spool.Item{
		Queue: queue, Provider: "github", Account: "octo", Record: fmt.Sprintf("r%d", i), Reason: "app_unavailable",
		Method: http.MethodPost, Path: "/webhooks/github", Verification: v,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Hub-Signature-256": {"sha256=00"}},
		Body:   []byte(fmt.Sprintf(`{"queue":%q,"i":%d}`, queue, i)), HeldAt: epoch.Add(time.Duration(i)),
	}
}

func mustAppend(t *testing.T, q spool.Queue, it spool.Item) uint64 {
	t.Helper()
	seq, err := q.Append(it)
	if err != nil {
		t.Fatalf("Append(%s): %v", it.Queue, err)
	}
	return seq
}

func stats(t *testing.T, q spool.Queue) spool.Stats {
	t.Helper()
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testUnverifiedBudget: a flood of untrusted items fills only the
// unverified budget; trusted ones still fit, and the other way round.
func testUnverifiedBudget(t *testing.T, open Open) {
	q := open(t, spool.Budget{MaxItems: 3, UnverifiedMaxItems: 2})
	for i := range 2 {
		mustAppend(t, q, Item("app:gh", i, spool.Unverified))
	}
	for _, v := range []spool.Verification{spool.Unverified, spool.VerifyUnknown} {
		if _, err := q.Append(Item("app:gh", 9, v)); !errors.Is(err, spool.ErrFull) || !strings.Contains(err.Error(), "Unverified") {
			t.Fatalf("untrusted (%s) item over the unverified budget: %v, want ErrFull naming it", v, err)
		}
	}
	for i := range 3 { // trusted ones are untouched by the flood
		v := spool.Verified
		if i == 2 {
			v = spool.Unsigned
		}
		mustAppend(t, q, Item("app:gh", 10+i, v))
	}
	if _, err := q.Append(Item("app:gh", 20, spool.Verified)); !errors.Is(err, spool.ErrFull) || strings.Contains(err.Error(), "Unverified") {
		t.Fatalf("trusted item over the main budget: %v", err)
	}
	if st := stats(t, q); st.Items != 5 || st.UnverifiedItems != 2 || q.Len() != 5 {
		t.Fatalf("stats %+v Len %d", st, q.Len())
	}
	// Removing an untrusted item frees unverified space only.
	items, err := q.Peek("app:gh", 10)
	if err != nil || len(items) != 5 {
		t.Fatalf("peek: %d %v", len(items), err)
	}
	if items[0].Verification != spool.Unverified || items[2].Verification != spool.Verified || items[4].Verification != spool.Unsigned {
		t.Fatalf("verifications did not round-trip: %s %s %s", items[0].Verification, items[2].Verification, items[4].Verification)
	}
	if err := q.Remove("app:gh", items[0].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append(Item("app:gh", 21, spool.Verified)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("main budget grew when an untrusted item left: %v", err)
	}
	mustAppend(t, q, Item("app:gh", 22, spool.Unverified))
	if st := stats(t, q); st.UnverifiedItems != 2 || st.Items != 5 {
		t.Fatalf("stats after remove/append %+v", st)
	}
}

func testMaxItemBytes(t *testing.T, open Open) {
	small := Item("q", 1, spool.Verified)
	q := open(t, spool.Budget{MaxItemBytes: int64(small.Size()) + 100})
	mustAppend(t, q, small)
	big := Item("q", 2, spool.Verified)
	big.Body = bytes.Repeat([]byte("x"), 200)
	if _, err := q.Append(big); !errors.Is(err, spool.ErrTooLarge) {
		t.Fatalf("item over MaxItemBytes: %v", err)
	}
	it := Item("q", 3, spool.Verified)
	if _, err := spool.AppendFrom(q, it, strings.NewReader(strings.Repeat("y", 50)), 49); !errors.Is(err, spool.ErrTooLarge) {
		t.Fatalf("AppendFrom over its limit: %v", err)
	}
	if _, err := spool.AppendFrom(q, it, strings.NewReader(strings.Repeat("y", 50)), 50); err != nil {
		t.Fatalf("AppendFrom at its limit: %v", err)
	}
	items, _ := q.Peek("q", 10)
	if q.Len() != 2 || len(items) != 2 || string(items[1].Body) != strings.Repeat("y", 50) {
		t.Fatalf("held %d: %+v", q.Len(), items)
	}
}

func testDeadLetters(t *testing.T, open Open) {
	q := open(t, spool.Budget{})
	var seqs []uint64
	for i := range 3 {
		seqs = append(seqs, mustAppend(t, q, Item("app:gh", i, spool.Verified)))
	}
	info := spool.DeadInfo{Reason: spool.DeadRefused, At: epoch.Add(time.Hour), Attempts: 1, LastStatus: 400, LastError: "app answered 400",
		Answers: []spool.Answer{{At: epoch.Add(time.Minute), Status: 400, Body: []byte("bad \xff payload")}}}
	if err := q.Bury("app:gh", seqs[1], info); err != nil {
		t.Fatal(err)
	}
	if err := q.Bury("app:gh", seqs[1], info); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("second Bury: %v", err)
	}
	items, _ := q.Peek("app:gh", 10)
	if len(items) != 2 || items[0].Seq != seqs[0] || items[1].Seq != seqs[2] {
		t.Fatalf("queue after Bury: %+v", items)
	}
	st := stats(t, q)
	if st.Items != 2 || st.DeadItems != 1 || q.Len() != 2 || st.DeadBytes != int64(Item("app:gh", 1, spool.Verified).Size()) {
		t.Fatalf("stats %+v", st)
	}
	list, err := q.Dead(10)
	if err != nil || len(list) != 1 {
		t.Fatalf("Dead: %v %v", list, err)
	}
	d := list[0]
	if d.Seq != seqs[1] || d.Queue != "app:gh" || d.Provider != "github" || d.Info.Reason != spool.DeadRefused || d.Info.LastStatus != 400 ||
		d.Attempts != 1 || !d.Info.At.Equal(info.At) || !d.HeldAt.Equal(epoch.Add(1)) || d.Body != nil || d.Verification != spool.Verified ||
		d.Size != int64(Item("app:gh", 1, spool.Verified).Size()) {
		t.Fatalf("listed %+v", d)
	}
	full, err := q.DeadItem(seqs[1])
	want := Item("app:gh", 1, spool.Verified)
	if err != nil || string(full.Body) != string(want.Body) || !reflect.DeepEqual(full.Header, want.Header) ||
		len(full.Info.Answers) != 1 || string(full.Info.Answers[0].Body) != "bad \xff payload" || full.Info.LastError != "app answered 400" {
		t.Fatalf("DeadItem = %+v, %v", full, err)
	}
	if _, err := q.DeadItem(12345); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("DeadItem(unknown): %v", err)
	}
	if n, err := q.DeadByProvider(); err != nil || !reflect.DeepEqual(n, map[string]int{"github": 1}) {
		t.Fatalf("DeadByProvider %v %v", n, err)
	}
	// Requeue: at the end of its queue, attempts reset, a new seq.
	seq, err := q.Requeue(seqs[1])
	if err != nil || seq <= seqs[2] {
		t.Fatalf("Requeue = %d, %v", seq, err)
	}
	items, _ = q.Peek("app:gh", 10)
	if len(items) != 3 || items[2].Seq != seq || string(items[2].Body) != string(want.Body) || items[2].Attempts != 0 ||
		items[2].Verification != spool.Verified {
		t.Fatalf("queue after Requeue: %+v", items)
	}
	if st := stats(t, q); st.Items != 3 || st.DeadItems != 0 || st.DeadBytes != 0 {
		t.Fatalf("stats after Requeue %+v", st)
	}
	if n, _ := q.DeadByProvider(); len(n) != 0 {
		t.Fatalf("DeadByProvider after Requeue %v", n)
	}
	if _, err := q.Requeue(seqs[1]); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("second Requeue: %v", err)
	}
	// The whole queue buried, then deleted: everything is freed.
	for _, it := range items {
		if err := q.Bury("app:gh", it.Seq, info); err != nil {
			t.Fatal(err)
		}
	}
	if qs, _ := q.Queues(); len(qs) != 0 {
		t.Fatalf("emptied queue still listed: %+v", qs)
	}
	list, _ = q.Dead(2)
	if len(list) != 2 || list[0].Seq != seqs[0] || list[1].Seq != seqs[2] {
		t.Fatalf("Dead(2) = %+v", list)
	}
	for _, it := range items {
		if err := q.DeleteDead(it.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.DeleteDead(seqs[0]); !errors.Is(err, spool.ErrNotFound) {
		t.Fatalf("second DeleteDead: %v", err)
	}
	if st := stats(t, q); st != (spool.Stats{}) || q.Len() != 0 || q.Bytes() != 0 {
		t.Fatalf("stats after deleting everything %+v", st)
	}
}

// testDeadBudget: dead letters keep counting against their budget (they
// are never discarded silently); deleting one frees it.
func testDeadBudget(t *testing.T, open Open) {
	q := open(t, spool.Budget{MaxItems: 2, UnverifiedMaxItems: 1})
	a := mustAppend(t, q, Item("q", 1, spool.Verified))
	u := mustAppend(t, q, Item("q", 2, spool.Unverified))
	for _, seq := range []uint64{a, u} {
		if err := q.Bury("q", seq, spool.DeadInfo{Reason: spool.DeadRefused}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Append(Item("q", 3, spool.Unverified)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("unverified dead letter freed its budget: %v", err)
	}
	mustAppend(t, q, Item("q", 4, spool.Verified))
	if _, err := q.Append(Item("q", 5, spool.Verified)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("trusted dead letter freed its budget: %v", err)
	}
	if err := q.DeleteDead(u); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, q, Item("q", 6, spool.Unverified))
	if st := stats(t, q); st.UnverifiedItems != 1 || st.DeadItems != 1 || st.Items != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// statusApp answers each item by its body's "i" through answer.
type statusApp struct {
	mu     sync.Mutex
	answer func(i int) (int, error)
	got    []int
}

func (a *statusApp) Send(_ context.Context, it spool.Item) (int, error) {
	var i int
	_, _ = fmt.Sscanf(string(it.Body[bytes.LastIndexByte(it.Body, ':')+1:]), "%d", &i)
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.answer(i)
	if err == nil && st >= 200 && st < 300 {
		a.got = append(a.got, i)
	}
	return st, err
}

func (a *statusApp) Answers(it spool.Item) []spool.Answer {
	return []spool.Answer{{At: epoch, Status: 418, Body: []byte("kept by the sender")}}
}

// testReplayerBuries: the queue goes on behind a refused item (at once),
// a failing one (after MaxAttempts) and an old one (MaxAge); an
// unavailable or unreachable app buries nothing before MaxAge.
func testReplayerBuries(t *testing.T, open Open) {
	errRefused := errors.New("connection refused")
	cases := []struct {
		name     string
		answer   func(i int) (int, error)
		passes   int
		wantGot  []int
		wantDead map[uint64]spool.DeadReason // by item index
		wantAtt  int                         // attempts of the first dead letter
		now      time.Time
	}{
		{"400 is refused at once", func(i int) (int, error) {
			if i == 1 {
				return 400, nil
			}
			return 200, nil
		}, 1, []int{0, 2, 3}, map[uint64]spool.DeadReason{1: spool.DeadRefused}, 1, epoch},
		{"500 after max attempts", func(i int) (int, error) {
			if i == 0 {
				return 500, nil
			}
			return 200, nil
		}, 3, []int{1, 2, 3}, map[uint64]spool.DeadReason{0: spool.DeadMaxAttempts}, 3, epoch},
		{"503 never by attempts", func(i int) (int, error) { return 503, nil }, 5, nil, nil, 0, epoch},
		{"no answer never", func(i int) (int, error) { return 0, errRefused }, 5, nil, nil, 0, epoch.Add(48 * time.Hour)},
		{"503 past max age", func(i int) (int, error) {
			if i == 2 {
				return 503, nil
			}
			return 200, nil
		}, 1, []int{0, 1, 3}, map[uint64]spool.DeadReason{2: spool.DeadMaxAge}, 0, epoch.Add(25 * time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := open(t, spool.Budget{})
			seqs := map[uint64]uint64{}
			for i := range 4 {
				seqs[uint64(i)] = mustAppend(t, q, Item("app:gh", i, spool.Verified))
			}
			app := &statusApp{answer: tc.answer}
			var buried []spool.DeadLetter
			r := spool.NewReplayer(q, app, nil, spool.ReplayOptions{
				Dead: spool.DeadPolicy{MaxAttempts: 3, MaxAge: 24 * time.Hour}, Now: func() time.Time { return tc.now },
				OnDead: func(d spool.DeadLetter) { buried = append(buried, d) },
			})
			for range tc.passes {
				_, _ = r.DrainOnce(context.Background())
			}
			if !reflect.DeepEqual(app.got, tc.wantGot) {
				t.Fatalf("delivered %v, want %v", app.got, tc.wantGot)
			}
			dead, err := q.Dead(10)
			if err != nil || len(dead) != len(tc.wantDead) || len(buried) != len(tc.wantDead) {
				t.Fatalf("dead %+v (OnDead %d), %v; want %v", dead, len(buried), err, tc.wantDead)
			}
			for i, why := range tc.wantDead {
				d, err := q.DeadItem(seqs[i])
				if err != nil || d.Info.Reason != why || d.Attempts != tc.wantAtt || len(d.Info.Answers) != 1 ||
					d.Info.Answers[0].Status != 418 || buried[0].Seq != seqs[i] {
					t.Fatalf("dead letter of item %d: %+v %v", i, d, err)
				}
			}
			if want := 4 - len(tc.wantGot) - len(tc.wantDead); q.Len() != want {
				t.Fatalf("Len %d, want %d", q.Len(), want)
			}
		})
	}
}

// OpenAt opens a fresh, empty queue whose times come from now.
type OpenAt func(t *testing.T, now func() time.Time) spool.Queue

// RunClock checks that a queue reads its times from its clock: an item's
// HeldAt, a dead letter's At and a requeued item's new HeldAt.
func RunClock(t *testing.T, open OpenAt) {
	at := epoch
	s := open(t, func() time.Time { return at })
	it := Item("q/a", 1, spool.Verified)
	it.HeldAt = time.Time{}
	seq := mustAppend(t, s, it)
	if items, err := s.Peek("q/a", 1); err != nil || len(items) != 1 || !items[0].HeldAt.Equal(epoch) {
		t.Fatalf("held item %+v, %v; want HeldAt %v", items, err, epoch)
	}
	at = at.Add(time.Hour)
	if err := s.Bury("q/a", seq, spool.DeadInfo{Reason: spool.DeadRefused}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.DeadItem(seq); err != nil || !d.Info.At.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("dead letter %+v, %v; want At %v", d.Info, err, epoch.Add(time.Hour))
	}
	at = at.Add(time.Hour)
	nseq, err := s.Requeue(seq)
	if err != nil {
		t.Fatal(err)
	}
	if items, err := s.Peek("q/a", 1); err != nil || len(items) != 1 || items[0].Seq != nseq || !items[0].HeldAt.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("requeued item %+v, %v; want HeldAt %v", items, err, epoch.Add(2*time.Hour))
	}
}
