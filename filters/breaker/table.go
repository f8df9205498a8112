package breaker

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// lockEntry returns k's entry with its lock held, or nil. With create, a
// missing key is added; when the table is full, the oldest closed keys are
// evicted first, and if none can be, the key is only added when force is
// set. An entry evicted between lookup and lock is looked up again.
func (b *Breakers) lockEntry(k Key, create, force bool) *entry {
	for {
		b.mu.RLock()
		e := b.m[k]
		b.mu.RUnlock()
		if e == nil {
			if !create {
				return nil
			}
			if e = b.insert(k, force); e == nil {
				return nil
			}
		}
		e.mu.Lock()
		if !e.dead {
			return e
		}
		e.mu.Unlock()
	}
}

// insert adds k (or returns the entry another goroutine added meanwhile).
func (b *Breakers) insert(k Key, force bool) *entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.m[k]; e != nil {
		return e
	}
	if len(b.m) >= b.cfg.MaxKeys {
		b.evictLocked()
		if len(b.m) >= b.cfg.MaxKeys && !force {
			return nil
		}
	}
	e := newEntry(k, &b.cfg)
	b.m[k] = e
	return e
}

// evictLocked drops the least recently observed closed, non-probing keys:
// 1/evictDivisor of the table at once (at least one), so that the scan is
// amortised over many insertions. b.mu must be held for writing.
func (b *Breakers) evictLocked() {
	type cand struct {
		e    *entry
		seen time.Time
	}
	cands := make([]cand, 0, len(b.m))
	for _, e := range b.m {
		e.mu.Lock()
		if e.state == Closed && !e.probing {
			cands = append(cands, cand{e, e.lastSeen})
		}
		e.mu.Unlock()
	}
	slices.SortFunc(cands, func(x, y cand) int { return x.seen.Compare(y.seen) })
	n := min(len(cands), max(1, b.cfg.MaxKeys/evictDivisor))
	for _, c := range cands[:n] {
		c.e.mu.Lock()
		// Re-check: the entry may have been tripped since the scan.
		if c.e.state == Closed {
			c.e.dead = true
			delete(b.m, c.e.key)
		}
		c.e.mu.Unlock()
	}
}

// callbacks is a copy-on-write list of functions: registering takes a lock,
// firing only loads a pointer.
type callbacks[T any] struct {
	mu  sync.Mutex
	fns atomic.Pointer[[]func(T)]
}

// add registers fn; nil is ignored.
func (c *callbacks[T]) add(fn func(T)) {
	if fn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var next []func(T)
	if old := c.fns.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, fn)
	c.fns.Store(&next)
}

// fire calls every registered function with v, in registration order.
func (c *callbacks[T]) fire(v T) {
	if p := c.fns.Load(); p != nil {
		for _, fn := range *p {
			fn(v)
		}
	}
}

// sortKeys orders two keys by provider then account.
func sortKeys(x, y Key) int {
	return cmp.Or(cmp.Compare(x.Provider, y.Provider), cmp.Compare(x.Account, y.Account))
}
