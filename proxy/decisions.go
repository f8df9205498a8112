package proxy

import (
	"sync"

	"github.com/loopguard/loopguard/filters"
)

// DecisionRing keeps the last N decisions for GET /decisions.
type DecisionRing struct {
	mu    sync.Mutex
	buf   []filters.Decision
	next  int
	full  bool
	total uint64
}

// NewDecisionRing keeps up to n decisions.
func NewDecisionRing(n int) *DecisionRing {
	if n <= 0 {
		n = 1
	}
	return &DecisionRing{buf: make([]filters.Decision, n)}
}

// Add records a decision, overwriting the oldest when full.
func (r *DecisionRing) Add(d filters.Decision) {
	r.mu.Lock()
	r.buf[r.next] = d
	r.total++
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

// Last returns up to n decisions, newest first (n <= 0: all kept).
func (r *DecisionRing) Last(n int) []filters.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.buf)
	}
	if n <= 0 || n > size {
		n = size
	}
	out := make([]filters.Decision, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// Total is the number of decisions ever added.
func (r *DecisionRing) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}
