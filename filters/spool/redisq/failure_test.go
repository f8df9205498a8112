package redisq

import (
	"errors"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/filters/spool"
)

// TestRedisDownAndBack: with Redis down every operation fails within its
// timeout (so the proxy answers 503 and the provider retries) and Len and
// Bytes keep their last values; once Redis is back the queue works again.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	q := newTestQueue(t, Options{URL: srv.URL(), Timeout: timeout})
	seq := mustAppend(t, q, testItem("q/a", 1))
	wantLen, wantBytes := q.Len(), q.Bytes()

	srv.Stop(t)
	ops := map[string]func() error{
		"Append":      func() error { _, err := q.Append(testItem("q/a", 2)); return err },
		"Peek":        func() error { _, err := q.Peek("q/a", 1); return err },
		"Remove":      func() error { return q.Remove("q/a", seq) },
		"MarkAttempt": func() error { return q.MarkAttempt("q/a", seq) },
		"Queues":      func() error { _, err := q.Queues(); return err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := op()
			if err == nil || errors.Is(err, spool.ErrNotFound) || errors.Is(err, spool.ErrFull) {
				t.Fatalf("%s with Redis down: %v, want a store error", name, err)
			}
			if took := time.Since(start); took > timeout+250*time.Millisecond {
				t.Fatalf("%s took %v with Redis down", name, took)
			}
		})
	}
	if q.Len() != wantLen || q.Bytes() != wantBytes {
		t.Fatalf("Len/Bytes with Redis down %d/%d, want the last values %d/%d", q.Len(), q.Bytes(), wantLen, wantBytes)
	}

	srv.Restart(t) // no persistence: the held item is gone with the old process
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := q.Append(testItem("q/a", 3))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Append did not recover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if items, err := q.Peek("q/a", 10); err != nil || len(items) != 1 || q.Len() != 1 {
		t.Fatalf("after recovery: %v %v Len %d", items, err, q.Len())
	}
}
