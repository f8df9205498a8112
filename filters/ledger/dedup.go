package ledger

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// dedupSet remembers accepted event ids until they expire, for the dedup
// layer. It is a striped map from a 128-bit hash of the id (two
// independent maphash seeds) to the expiry, so a lookup costs no
// allocation and a false "already delivered" needs a 128-bit collision.
// It is bounded: a full stripe first forgets expired ids, then arbitrary
// ones (a forgotten id only lets a redelivery through to the next layers).
type dedupSet struct {
	seeds   [2]maphash.Seed
	perPart int
	parts   [dedupStripes]dedupPart
	evicted atomic.Uint64
	size    atomic.Int64
}

type dedupPart struct {
	mu sync.Mutex
	m  map[dedupID]int64 // id hash → expiry, Unix ns
}

type dedupID struct{ a, b uint64 }

const (
	dedupStripes = 64
	// dedupEntryBytes is the approximate memory of one remembered id (map
	// entry and overhead), used to turn MaxSizeMB into an id budget.
	dedupEntryBytes = 64
)

func newDedupSet(maxMB int) *dedupSet {
	d := &dedupSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	d.perPart = max(maxMB<<20/dedupEntryBytes/dedupStripes, 16)
	for i := range d.parts {
		d.parts[i].m = make(map[dedupID]int64)
	}
	return d
}

func (d *dedupSet) id(s string) dedupID {
	return dedupID{maphash.String(d.seeds[0], s), maphash.String(d.seeds[1], s)}
}

// seen reports whether s was marked and has not expired at now.
func (d *dedupSet) seen(s string, now time.Time) bool {
	k := d.id(s)
	p := &d.parts[k.a%dedupStripes]
	p.mu.Lock()
	exp, ok := p.m[k]
	p.mu.Unlock()
	return ok && now.UnixNano() < exp
}

// mark remembers s until until.
func (d *dedupSet) mark(s string, now, until time.Time) {
	k := d.id(s)
	p := &d.parts[k.a%dedupStripes]
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[k]; !ok && len(p.m) >= d.perPart {
		d.makeRoom(p, now.UnixNano())
	}
	if _, ok := p.m[k]; !ok {
		d.size.Add(1)
	}
	p.m[k] = until.UnixNano()
}

// makeRoom frees at least one slot of a full stripe; caller holds p.mu.
func (d *dedupSet) makeRoom(p *dedupPart, now int64) {
	for k, exp := range p.m {
		if exp <= now {
			delete(p.m, k)
			d.size.Add(-1)
		}
	}
	if len(p.m) < d.perPart {
		return
	}
	drop := max(d.perPart/10, 1)
	for k := range p.m {
		delete(p.m, k)
		d.size.Add(-1)
		d.evicted.Add(1)
		if drop--; drop == 0 {
			return
		}
	}
}

// len is the number of remembered ids (expired ones included until swept).
func (d *dedupSet) len() int { return int(d.size.Load()) }
