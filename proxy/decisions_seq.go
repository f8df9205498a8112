package proxy

import "github.com/loopguard/loopguard/filters"

// Numbered returns up to n decisions (n <= 0: all kept), newest first, with
// the sequence number of the newest: decision i of the result is number
// newest-i. Numbers start at 1 and are never reused, so a number names one
// decision for as long as the ring keeps it (GET /decisions/{seq}).
func (r *DecisionRing) Numbered(n int) (ds []filters.Decision, newest uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.held()
	if n <= 0 || n > size {
		n = size
	}
	ds = make([]filters.Decision, 0, n)
	for i := 1; i <= n; i++ {
		ds = append(ds, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return ds, r.total
}

// At returns decision number seq, if the ring still holds it.
func (r *DecisionRing) At(seq uint64) (filters.Decision, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq == 0 || seq > r.total || r.total-seq >= uint64(r.held()) {
		return filters.Decision{}, false
	}
	back := int(r.total - seq) // 0: the newest
	return r.buf[(r.next-1-back+2*len(r.buf))%len(r.buf)], true
}

// held is how many decisions the ring holds (r.mu held).
func (r *DecisionRing) held() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}
