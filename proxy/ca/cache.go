package ca

import (
	"container/list"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
)

// CertCache must stay usable as goproxy's CertStore.
var _ goproxy.CertStorage = (*CertCache)(nil)

// Cache defaults.
const (
	// DefaultCacheSize is the default number of hosts whose leaf certificates
	// are kept. A P-256 leaf plus chain is about 2 KiB, so the default costs
	// under 10 MiB while covering far more hosts than one app talks to.
	DefaultCacheSize = 4096
	// renewBefore is how long before NotAfter a cached leaf is replaced, so a
	// client never receives a certificate about to expire mid-connection.
	renewBefore = 24 * time.Hour
	// maxFetchAttempts bounds how often fetch retries after waiting on
	// another caller's generation that turned out unusable for it.
	maxFetchAttempts = 3
)

// errGeneratorPanicked is what callers waiting on a generation see when the
// generating goroutine's gen function panicked.
var errGeneratorPanicked = errors.New("certificate generator panicked")

// CertCache is a bounded, concurrency-safe cache of TLS certificates keyed by
// host name. Concurrent requests for one host share a single generation
// (singleflight), entries within one day of expiry are regenerated, and when
// the bound is reached the oldest generated entry is evicted (FIFO: hits do
// not reorder, so the hot path only takes a read lock).
//
// It implements goproxy.CertStorage.
type CertCache struct {
	max int
	now func() time.Time

	mu       sync.RWMutex
	entries  map[string]*list.Element // value: *cacheEntry
	order    *list.List               // front = oldest
	inflight map[string]*flight
}

// cacheEntry is one cached certificate with its parsed leaf.
type cacheEntry struct {
	key  string
	cert *tls.Certificate
	leaf *x509.Certificate
}

// flight is one in-progress generation other callers can wait on.
type flight struct {
	done    chan struct{}
	entry   *cacheEntry
	err     error
	waiters int // callers waiting on done (under CertCache.mu): tests wait for them instead of sleeping
}

// NewCertCache returns an empty cache holding at most maxEntries hosts; a
// value <= 0 means DefaultCacheSize.
func NewCertCache(maxEntries int) *CertCache {
	return newCertCache(maxEntries, time.Now)
}

func newCertCache(maxEntries int, now func() time.Time) *CertCache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &CertCache{
		max:      maxEntries,
		now:      now,
		entries:  make(map[string]*list.Element),
		order:    list.New(),
		inflight: make(map[string]*flight),
	}
}

// Fetch returns the cached certificate for hostname, calling gen to create it
// when absent or within one day of expiry. It implements goproxy.CertStorage.
func (c *CertCache) Fetch(hostname string, gen func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	if gen == nil {
		return nil, fmt.Errorf("ca: fetch certificate for %q: nil generator", hostname)
	}
	return c.fetch(hostname, gen, nil)
}

// Len reports how many hosts are cached.
func (c *CertCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.order.Len()
}

// lookup returns the cached certificate for key if it is fresh and passes
// accept (nil accepts anything). It only takes the read lock.
func (c *CertCache) lookup(key string, accept func(*cacheEntry) bool) (*tls.Certificate, bool) {
	c.mu.RLock()
	el := c.entries[key]
	c.mu.RUnlock()
	if el == nil {
		return nil, false
	}
	if e := el.Value.(*cacheEntry); c.usable(e, accept) {
		return e.cert, true
	}
	return nil, false
}

// usable reports whether e may be served: fresh and accepted.
func (c *CertCache) usable(e *cacheEntry, accept func(*cacheEntry) bool) bool {
	return c.fresh(e) && (accept == nil || accept(e))
}

// fetch is Fetch with an extra acceptance check (nil accepts anything):
// entries failing accept, or close to expiry, are regenerated instead of
// served.
func (c *CertCache) fetch(key string, gen func() (*tls.Certificate, error), accept func(*cacheEntry) bool) (*tls.Certificate, error) {
	for range maxFetchAttempts {
		if cert, ok := c.lookup(key, accept); ok {
			return cert, nil
		}

		c.mu.Lock()
		if el := c.entries[key]; el != nil {
			if e := el.Value.(*cacheEntry); c.usable(e, accept) {
				c.mu.Unlock()
				return e.cert, nil
			}
		}
		if f := c.inflight[key]; f != nil {
			f.waiters++
			c.mu.Unlock()
			<-f.done
			if f.err != nil {
				return nil, f.err
			}
			if accept == nil || accept(f.entry) {
				return f.entry.cert, nil
			}
			continue // another caller's generator made something we cannot use
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[key] = f
		c.mu.Unlock()

		c.run(key, f, gen)
		if f.err != nil {
			return nil, f.err
		}
		return f.entry.cert, nil
	}
	return nil, fmt.Errorf("ca: fetch certificate for %q: gave up after %d attempts with foreign generators", key, maxFetchAttempts)
}

// run generates the certificate for f and publishes the result, even if gen
// panics, so waiters never block forever.
func (c *CertCache) run(key string, f *flight, gen func() (*tls.Certificate, error)) {
	f.err = fmt.Errorf("ca: generate certificate for %q: %w", key, errGeneratorPanicked)
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		if f.err == nil {
			c.storeLocked(f.entry)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	f.entry, f.err = buildEntry(key, gen)
}

// buildEntry calls gen and checks its result is usable.
func buildEntry(key string, gen func() (*tls.Certificate, error)) (*cacheEntry, error) {
	cert, err := gen()
	if err != nil {
		return nil, fmt.Errorf("ca: generate certificate for %q: %w", key, err)
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("ca: generate certificate for %q: generator returned no certificate", key)
	}
	leaf := cert.Leaf
	if leaf == nil {
		leaf, err = x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("ca: generate certificate for %q: parse leaf: %w", key, err)
		}
	}
	return &cacheEntry{key: key, cert: cert, leaf: leaf}, nil
}

// fresh reports whether e is more than renewBefore away from expiry.
func (c *CertCache) fresh(e *cacheEntry) bool {
	return c.now().Add(renewBefore).Before(e.leaf.NotAfter)
}

// storeLocked inserts e as the newest entry and evicts beyond the bound.
// c.mu must be held for writing.
func (c *CertCache) storeLocked(e *cacheEntry) {
	if old := c.entries[e.key]; old != nil {
		c.order.Remove(old)
	}
	c.entries[e.key] = c.order.PushBack(e)
	for c.order.Len() > c.max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}
