package redisq

import (
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/spooltest"
)

// TestQueueTimesComeFromItsClock: the Redis spool reads its times from
// Options.Now. The assertions are the shared suite's (spooltest.RunClock
// fails the test on a held, dead-letter or requeue time not taken from the
// clock), run on both stores.
func TestQueueTimesComeFromItsClock(t *testing.T) {
	t.Parallel()
	opened := 0
	spooltest.RunClock(t, func(t *testing.T, now func() time.Time) spool.Queue {
		opened++
		return newTestQueue(t, Options{Now: now})
	})
	if opened != 1 {
		t.Fatalf("the clock suite opened %d Redis queues, want 1: it did not run on this store", opened)
	}
}
