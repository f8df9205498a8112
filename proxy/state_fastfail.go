package proxy

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/breaker/redisshare"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
)

// With store: redis, the stores the engine and the guard see answer at
// once while the health check says Redis is unreachable (see state.run):
// a delivery is not slowed by one timeout per event per layer.

// errStoreDown answers store calls at once while the health check says the
// shared store is unreachable, so a delivery is not slowed by one timeout
// per event per layer; the layers abstain as for any store error.
var errStoreDown = errors.New("state store unreachable (health check)")

// fastFail is the ledger as the engine sees it with a shared store.
type fastFail struct {
	*redisstore.Store
	up *atomic.Bool
}

func (f fastFail) RecordWrite(ctx context.Context, k ledger.Key, w ledger.Write) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.RecordWrite(ctx, k, w)
}

func (f fastFail) Accept(ctx context.Context, k ledger.Key, a ledger.Accept) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.Accept(ctx, k, a)
}

func (f fastFail) Get(ctx context.Context, k ledger.Key, st *ledger.State) (bool, error) {
	if !f.up.Load() {
		return false, errStoreDown
	}
	return f.Store.Get(ctx, k, st)
}

func (f fastFail) EventSeen(ctx context.Context, id string) (bool, error) {
	if !f.up.Load() {
		return false, errStoreDown
	}
	return f.Store.EventSeen(ctx, id)
}

func (f fastFail) MarkEvent(ctx context.Context, id string) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.MarkEvent(ctx, id)
}

// GetMany passes a batch read through (filters.BatchStore).
func (f fastFail) GetMany(ctx context.Context, keys []ledger.Key, sts []ledger.State) ([]bool, error) {
	if !f.up.Load() {
		return nil, errStoreDown
	}
	return f.Store.GetMany(ctx, keys, sts)
}

// EventsSeen passes a batch dedup check through (filters.BatchStore).
func (f fastFail) EventsSeen(ctx context.Context, ids []string) ([]bool, error) {
	if !f.up.Load() {
		return nil, errStoreDown
	}
	return f.Store.EventsSeen(ctx, ids)
}

// AcceptMany passes a batch write through (filters.BatchWriter).
func (f fastFail) AcceptMany(ctx context.Context, keys []ledger.Key, accs []ledger.Accept) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.AcceptMany(ctx, keys, accs)
}

// MarkEvents passes a batch dedup mark through (filters.BatchWriter).
func (f fastFail) MarkEvents(ctx context.Context, ids []string) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.MarkEvents(ctx, ids)
}

// loopsFastFail skips the shared detector while the store is unreachable:
// nothing counted or quarantined, so events flow and writes pass.
type loopsFastFail struct {
	*redisshare.Loops
	up *atomic.Bool
}

func (l loopsFastFail) Wrote(k breaker.RecordKey) {
	if l.up.Load() {
		l.Loops.Wrote(k)
	}
}

func (l loopsFastFail) Echoed(k breaker.RecordKey) {
	if l.up.Load() {
		l.Loops.Echoed(k)
	}
}

func (l loopsFastFail) Inbound(k breaker.RecordKey) (bool, int) {
	if !l.up.Load() {
		return false, 0
	}
	return l.Loops.Inbound(k)
}

func (l loopsFastFail) Quarantined(k breaker.RecordKey) (bool, breaker.QuarantineInfo) {
	if !l.up.Load() {
		return false, breaker.QuarantineInfo{}
	}
	return l.Loops.Quarantined(k)
}
