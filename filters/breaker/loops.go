package breaker

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loopEntry is one record's loop-detection state.
type loopEntry struct {
	pending     bool      // a write happened since the last inbound event
	lastWrite   time.Time // of the pending write
	lastTouch   time.Time // last Wrote or Inbound, for eviction
	bounces     []time.Time
	quarantined bool
	info        QuarantineInfo
}

// expire ends a quarantine whose time is up; it reports the released info.
func (e *loopEntry) expire(now time.Time) (QuarantineInfo, bool) {
	if !e.quarantined || now.Before(e.info.Until) {
		return QuarantineInfo{}, false
	}
	info := e.info
	e.quarantined, e.info, e.pending = false, QuarantineInfo{}, false
	e.bounces = e.bounces[:0]
	return info, true
}

// expireLocked is e.expire, keeping held; l.mu must be held.
func (l *Loops) expireLocked(e *loopEntry, now time.Time) (QuarantineInfo, bool) {
	info, ok := e.expire(now)
	if ok {
		l.held.Add(-1)
	}
	return info, ok
}

// prune drops round trips that left the sliding window (now-window, now].
func (e *loopEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.bounces) && now.Sub(e.bounces[i]) >= window {
		i++
	}
	if i > 0 {
		e.bounces = append(e.bounces[:0], e.bounces[i:]...)
	}
}

// idle reports whether the entry holds nothing that can still matter.
func (e *loopEntry) idle(now time.Time, window time.Duration) bool {
	if e.quarantined || (e.pending && now.Sub(e.lastWrite) < window) {
		return false
	}
	return len(e.bounces) == 0 || now.Sub(e.bounces[len(e.bounces)-1]) >= window
}

// Loops is the per-record loop detector and quarantine. Use NewLoops.
// One mutex guards it: every operation is a map lookup and a few field
// updates, far cheaper than the webhook handling around it.
type Loops struct {
	cfg LoopConfig
	now func() time.Time

	mu sync.Mutex
	m  map[RecordKey]*loopEntry
	// held counts the entries of m that are quarantined (changed under mu):
	// while it is zero, Quarantined answers without the lock — the check
	// every forwarded event makes.
	held atomic.Int64

	onQuarantine callbacks[QuarantineInfo]
	onRelease    callbacks[QuarantineInfo]
}

// NewLoops validates cfg (zero fields take their defaults) and returns an
// empty detector. now is the clock; nil means time.Now.
func NewLoops(cfg LoopConfig, now func() time.Time) (*Loops, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("breaker: new loops: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Loops{cfg: c, now: now, m: make(map[RecordKey]*loopEntry)}, nil
}

// Config returns the effective configuration, defaults filled in.
func (l *Loops) Config() LoopConfig { return l.cfg }

// OnQuarantine registers fn, called once each time a record is quarantined
// (for the error log line and the metric). It runs outside the lock; nil is
// ignored.
func (l *Loops) OnQuarantine(fn func(QuarantineInfo)) { l.onQuarantine.add(fn) }

// OnRelease registers fn, called once each time a quarantine ends, by
// Release or by time (noticed lazily by Inbound, Quarantined, List, Sweep
// or Wrote's eviction). It runs outside the lock; nil is ignored.
func (l *Loops) OnRelease(fn func(QuarantineInfo)) { l.onRelease.add(fn) }

// Wrote records that the app wrote k (outbound). When the table is full and
// nothing can be evicted (every record quarantined), the write is not
// tracked.
func (l *Loops) Wrote(k RecordKey) {
	now := l.now()
	var released []QuarantineInfo
	l.mu.Lock()
	e := l.m[k]
	if e == nil {
		if len(l.m) >= l.cfg.MaxRecords {
			released = l.evictLocked(now)
		}
		if len(l.m) < l.cfg.MaxRecords {
			e = &loopEntry{}
			l.m[k] = e
		}
	}
	if e != nil {
		e.pending, e.lastWrite, e.lastTouch = true, now, now
	}
	l.mu.Unlock()
	for _, info := range released {
		l.onRelease.fire(info)
	}
}

// Inbound is called when an inbound event for k arrives. It counts a round
// trip when the app wrote k since the previous event for k (and within
// Window), keeps the round trips of the sliding Window, and quarantines k
// when their count reaches Threshold. It returns whether k is quarantined
// (from that event until release) and the current count.
func (l *Loops) Inbound(k RecordKey) (quarantined bool, count int) {
	now := l.now()
	l.mu.Lock()
	e := l.m[k]
	if e == nil {
		l.mu.Unlock()
		return false, 0
	}
	released, wasReleased := l.expireLocked(e, now)
	e.lastTouch = now
	e.prune(now, l.cfg.Window)
	if e.pending {
		e.pending = false
		if now.Sub(e.lastWrite) < l.cfg.Window {
			if len(e.bounces) >= l.cfg.Threshold {
				e.bounces = append(e.bounces[:0], e.bounces[1:]...)
			}
			e.bounces = append(e.bounces, now)
		}
	}
	count = len(e.bounces)
	var info QuarantineInfo
	isNew := false
	if !e.quarantined && count >= l.cfg.Threshold {
		e.quarantined, isNew = true, true
		l.held.Add(1)
		e.info = QuarantineInfo{
			Key:    k,
			Since:  now,
			Until:  now.Add(l.cfg.Quarantine),
			Count:  count,
			Reason: fmt.Sprintf("%d write->event round trips within %s", count, l.cfg.Window),
		}
		info = e.info
	}
	quarantined = e.quarantined
	l.mu.Unlock()
	if wasReleased {
		l.onRelease.fire(released)
	}
	if isNew {
		l.onQuarantine.fire(info)
	}
	return quarantined, count
}

// Echoed notes that an inbound event for k was our own echo and was dropped:
// the pending write is accounted for, so the next genuine event for k (a
// person editing a record the app just wrote back) is not a round trip.
// Only events that reach the app count, via Inbound.
func (l *Loops) Echoed(k RecordKey) {
	l.mu.Lock()
	if e := l.m[k]; e != nil {
		e.pending = false
	}
	l.mu.Unlock()
}

// Quarantined reports whether k is quarantined, with its info.
func (l *Loops) Quarantined(k RecordKey) (bool, QuarantineInfo) {
	if l.held.Load() == 0 {
		return false, QuarantineInfo{} // nothing quarantined, nothing to release
	}
	now := l.now()
	l.mu.Lock()
	e := l.m[k]
	if e == nil {
		l.mu.Unlock()
		return false, QuarantineInfo{}
	}
	released, wasReleased := l.expireLocked(e, now)
	q, info := e.quarantined, e.info
	l.mu.Unlock()
	if wasReleased {
		l.onRelease.fire(released)
	}
	return q, info
}

// Release ends k's quarantine now (admin) and forgets the record's history.
// It returns false when k was not quarantined. The OnRelease info's Until is
// the release time.
func (l *Loops) Release(k RecordKey) bool {
	now := l.now()
	l.mu.Lock()
	e := l.m[k]
	if e == nil || !e.quarantined {
		l.mu.Unlock()
		return false
	}
	info := e.info
	if now.Before(info.Until) {
		info.Until = now
	}
	delete(l.m, k)
	l.held.Add(-1)
	l.mu.Unlock()
	l.onRelease.fire(info)
	return true
}

// List returns the quarantined records sorted by key.
func (l *Loops) List() []QuarantineInfo {
	now := l.now()
	var out, released []QuarantineInfo
	l.mu.Lock()
	for _, e := range l.m {
		if info, ok := l.expireLocked(e, now); ok {
			released = append(released, info)
		}
		if e.quarantined {
			out = append(out, e.info)
		}
	}
	l.mu.Unlock()
	for _, info := range released {
		l.onRelease.fire(info)
	}
	slices.SortFunc(out, func(x, y QuarantineInfo) int { return compareRecordKeys(x.Key, y.Key) })
	return out
}

// Sweep releases expired quarantines and forgets idle records (nothing
// pending or counted within Window); it returns how many records it
// forgot. The proxy may call it on a ticker so releases are logged on time
// and memory stays low; correctness does not depend on it.
func (l *Loops) Sweep() int {
	now := l.now()
	var released []QuarantineInfo
	removed := 0
	l.mu.Lock()
	for k, e := range l.m {
		if info, ok := l.expireLocked(e, now); ok {
			released = append(released, info)
		}
		if e.idle(now, l.cfg.Window) {
			delete(l.m, k)
			removed++
		}
	}
	l.mu.Unlock()
	for _, info := range released {
		l.onRelease.fire(info)
	}
	return removed
}

// Len returns the number of tracked records.
func (l *Loops) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// evictLocked releases expired quarantines and drops the least recently
// touched non-quarantined records, 1/evictDivisor of the table (at least
// one). It returns the released infos to announce. l.mu must be held.
func (l *Loops) evictLocked(now time.Time) []QuarantineInfo {
	type cand struct {
		k     RecordKey
		touch time.Time
	}
	var released []QuarantineInfo
	cands := make([]cand, 0, len(l.m))
	for k, e := range l.m {
		if info, ok := l.expireLocked(e, now); ok {
			released = append(released, info)
		}
		if !e.quarantined {
			cands = append(cands, cand{k, e.lastTouch})
		}
	}
	slices.SortFunc(cands, func(x, y cand) int { return x.touch.Compare(y.touch) })
	for _, c := range cands[:min(len(cands), max(1, l.cfg.MaxRecords/evictDivisor))] {
		delete(l.m, c.k)
	}
	return released
}

// compareRecordKeys orders record keys part by part.
func compareRecordKeys(x, y RecordKey) int {
	return cmp.Or(
		cmp.Compare(x.Provider, y.Provider),
		cmp.Compare(x.Account, y.Account),
		cmp.Compare(x.Object, y.Object),
		cmp.Compare(x.Record, y.Record),
	)
}
