package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/redistest"
)

const (
	// failTimeout is the store's per-operation budget in the failure tests:
	// the production default.
	failTimeout = DefaultTimeout
	// failSlack is what an operation may take beyond its budget on a
	// loaded two-core CI machine under the race detector.
	failSlack = 250 * time.Millisecond
	// recoverWithin bounds reconnection after Redis returns (go-redis
	// probes a failed pool once a second).
	recoverWithin = 5 * time.Second
)

// storeOps is every store operation, each run once per failure scenario.
func storeOps(s *Store, k ledger.Key) map[string]func(ctx context.Context) error {
	fields := []ledger.Field{f("a", 1)}
	return map[string]func(ctx context.Context) error{
		"RecordWrite": func(ctx context.Context) error {
			return s.RecordWrite(ctx, k, ledger.Write{Fields: fields, At: time.Now()})
		},
		"Accept": func(ctx context.Context) error {
			return s.Accept(ctx, k, ledger.Accept{Fields: fields, At: time.Now()})
		},
		"Get": func(ctx context.Context) error {
			var st ledger.State
			_, err := s.Get(ctx, k, &st)
			return err
		},
		"GetMany": func(ctx context.Context) error {
			_, err := s.GetMany(ctx, []ledger.Key{k, k}, make([]ledger.State, 2))
			return err
		},
		"EventSeen":  func(ctx context.Context) error { _, err := s.EventSeen(ctx, "e1"); return err },
		"EventsSeen": func(ctx context.Context) error { _, err := s.EventsSeen(ctx, []string{"e1", "e2"}); return err },
		"MarkEvent":  func(ctx context.Context) error { return s.MarkEvent(ctx, "e1") },
		"MarkEvents": func(ctx context.Context) error { return s.MarkEvents(ctx, []string{"e1", "e2"}) },
		"Ping":       func(ctx context.Context) error { return s.Ping(ctx) },
	}
}

// TestRedisDownAndBack: with Redis stopped or frozen every operation fails
// fast (within its timeout) without panicking and Healthy turns false; once
// Redis is back everything works again without any intervention.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, Options{URL: srv.URL(), Timeout: failTimeout})
	k := ledger.Key{Provider: "p", Object: "o", Record: "r"}
	ops := storeOps(s, k)
	mustWork := func(t *testing.T) {
		t.Helper()
		for name, op := range ops {
			if err := op(t.Context()); err != nil {
				t.Fatalf("%s with Redis up: %v", name, err)
			}
		}
		if !s.Healthy() {
			t.Fatal("Healthy is false with Redis up")
		}
	}
	mustFailFast := func(t *testing.T) {
		t.Helper()
		for name, op := range ops {
			start := time.Now()
			err := op(t.Context())
			if took := time.Since(start); took > failTimeout+failSlack {
				t.Errorf("%s took %v with Redis down, budget %v", name, took, failTimeout)
			}
			if err == nil {
				t.Errorf("%s succeeded with Redis down", name)
			}
		}
		if s.Healthy() {
			t.Fatal("Healthy is true with Redis down")
		}
	}
	awaitRecovery := func(t *testing.T) {
		t.Helper()
		deadline := time.Now().Add(recoverWithin)
		for s.Ping(t.Context()) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("store did not recover within %v", recoverWithin)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mustWork(t)
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"works while up", mustWork},
		{"stopped: fails fast", func(t *testing.T) { srv.Stop(t); mustFailFast(t) }},
		{"stopped: still fails fast on retry", mustFailFast},
		{"restarted: recovers", func(t *testing.T) { srv.Restart(t); awaitRecovery(t) }},
		{"frozen: times out", func(t *testing.T) { srv.Pause(t); mustFailFast(t) }},
		{"thawed: recovers", func(t *testing.T) { srv.Resume(t); awaitRecovery(t) }},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return
		}
	}
	// The restart lost the data (no persistence): the ledger fails open.
	var st ledger.State
	if err := s.RecordWrite(t.Context(), k, ledger.Write{Fields: []ledger.Field{f("a", 9)}, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Get(t.Context(), k, &st); err != nil || !ok || !st.Holds([]ledger.Field{f("a", 9)}) {
		t.Fatalf("after recovery: %v %v %+v", ok, err, st)
	}
}

// TestNewWithRedisDown: a sidecar must start while Redis is down.
func TestNewWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop(t)
	start := time.Now()
	s := newTestStore(t, Options{URL: srv.URL(), Timeout: failTimeout})
	if took := time.Since(start); took > failTimeout+failSlack {
		t.Fatalf("New took %v with Redis down", took)
	}
	if s.Healthy() {
		t.Fatal("Healthy with Redis down")
	}
	srv.Restart(t)
	deadline := time.Now().Add(recoverWithin)
	for s.Ping(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within %v", recoverWithin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !s.Healthy() {
		t.Fatal("not Healthy after recovery")
	}
}

// TestCallerCancellationIsNotUnhealthy: a request the caller abandoned says
// nothing about Redis.
func TestCallerCancellationIsNotUnhealthy(t *testing.T) {
	s := newTestStore(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.EventSeen(ctx, "x"); err == nil {
		t.Fatal("EventSeen with a cancelled context succeeded")
	}
	if !s.Healthy() {
		t.Fatal("a cancelled caller marked Redis unhealthy")
	}
}
