package breaker

import (
	"math"
	"time"
)

// rateBucket counts the calls of one wall-clock minute.
type rateBucket struct {
	minute int64 // minutes since the Unix epoch
	n      uint32
}

// rateRing counts calls per minute in a ring of baseline+2 buckets: the
// current minute, the previous one (both used for the "last minute"
// estimate) and the baseline minutes before them. It is cheap: one add is
// an index and an increment, and the baseline is cached per minute.
// It is not safe for concurrent use; the owning entry's lock guards it.
type rateRing struct {
	buckets []rateBucket
	first   int64 // minute of the first counted call
	started bool

	cacheMinute int64
	cacheBase   float64
	cacheOK     bool
	cacheValid  bool
}

// newRateRing returns a ring for a baseline of the given minutes.
func newRateRing(baselineMinutes int) rateRing {
	return rateRing{buckets: make([]rateBucket, baselineMinutes+2)}
}

// minuteOf returns t's minute since the epoch and how far into it t is, in
// [0, 1). Floor division keeps pre-1970 clocks (fakes) consistent.
func minuteOf(t time.Time) (int64, float64) {
	s := t.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	frac := (float64(s-m*60) + float64(t.Nanosecond())/1e9) / 60
	return m, frac
}

// slot returns m's index in the ring.
func (r *rateRing) slot(m int64) int {
	i := m % int64(len(r.buckets))
	if i < 0 {
		i += int64(len(r.buckets))
	}
	return int(i)
}

// count returns the calls counted in minute m (0 if the bucket was reused).
func (r *rateRing) count(m int64) uint32 {
	if b := r.buckets[r.slot(m)]; b.minute == m {
		return b.n
	}
	return 0
}

// add counts one call at now. A call older than the bucket's current minute
// (a clock that went backwards) is dropped rather than corrupting the ring.
func (r *rateRing) add(now time.Time) {
	m, _ := minuteOf(now)
	b := &r.buckets[r.slot(m)]
	switch {
	case b.minute == m:
	case b.minute > m && b.n > 0:
		return
	default:
		*b = rateBucket{minute: m}
	}
	if b.n < math.MaxUint32 {
		b.n++
	}
	if !r.started || m < r.first {
		r.first, r.started = m, true
		r.cacheValid = false
	}
	if r.cacheValid && m <= r.cacheMinute-2 {
		r.cacheValid = false
	}
}

// lastMinute estimates the calls of the sliding minute ending at minute m
// plus frac (see minuteOf): the
// current bucket plus the previous one weighted by the part of it that is
// still inside the sliding minute.
func (r *rateRing) lastMinute(m int64, frac float64) float64 {
	return float64(r.count(m)) + float64(r.count(m-1))*(1-frac)
}

// baseline returns the mean calls per minute over the baseline minutes of
// minute m, i.e. the complete minutes before m-1. ok is false until at least
// one complete baseline minute after the key's first call exists (the first
// minute is partial, so it is left out).
func (r *rateRing) baseline(m int64) (float64, bool) {
	if r.cacheValid && r.cacheMinute == m {
		return r.cacheBase, r.cacheOK
	}
	var base float64
	ok := false
	if r.started {
		to := m - 2
		from := max(m-1-int64(len(r.buckets)-2), r.first+1)
		if to >= from {
			var sum uint64
			for i := from; i <= to; i++ {
				sum += uint64(r.count(i))
			}
			base, ok = float64(sum)/float64(to-from+1), true
		}
	}
	r.cacheMinute, r.cacheBase, r.cacheOK, r.cacheValid = m, base, ok, true
	return base, ok
}

// reset forgets every count.
func (r *rateRing) reset() {
	clear(r.buckets)
	r.started, r.cacheValid = false, false
}
