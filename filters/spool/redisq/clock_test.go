package redisq

import (
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/clocktest"
	"github.com/loopguard/loopguard/filters/spool"
)

// TestQueueTimesComeFromItsClock: an item's HeldAt, a dead letter's At and
// a requeued item's new HeldAt are read from Options.Now.
func TestQueueTimesComeFromItsClock(t *testing.T) {
	t.Parallel()
	clk := clocktest.Frozen(clocktest.Epoch)
	s := newTestQueue(t, Options{Now: clk.Now})
	it := testItem("q/a", 1)
	it.HeldAt = time.Time{}
	seq := mustAppend(t, s, it)
	if items, err := s.Peek("q/a", 1); err != nil || len(items) != 1 || !items[0].HeldAt.Equal(clocktest.Epoch) {
		t.Fatalf("held item %+v, %v; want HeldAt %v", items, err, clocktest.Epoch)
	}
	clk.Advance(time.Hour)
	if err := s.Bury("q/a", seq, spool.DeadInfo{Reason: spool.DeadRefused}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.DeadItem(seq); err != nil || !d.Info.At.Equal(clocktest.Epoch.Add(time.Hour)) {
		t.Fatalf("dead letter %+v, %v; want At %v", d.Info, err, clocktest.Epoch.Add(time.Hour))
	}
	clk.Advance(time.Hour)
	nseq, err := s.Requeue(seq)
	if err != nil {
		t.Fatal(err)
	}
	if items, err := s.Peek("q/a", 1); err != nil || len(items) != 1 || items[0].Seq != nseq || !items[0].HeldAt.Equal(clocktest.Epoch.Add(2*time.Hour)) {
		t.Fatalf("requeued item %+v, %v; want HeldAt %v", items, err, clocktest.Epoch.Add(2*time.Hour))
	}
}
