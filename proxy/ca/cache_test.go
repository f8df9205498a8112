package ca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLeafCacheReturnsSamePointer(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	first, err := a.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host string
		same       bool
	}{
		{"identical host", "api.example.com", true},
		{"with port", "api.example.com:443", true},
		{"different case", "API.example.com", true},
		{"different host", "other.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Leaf(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if (got == first) != tt.same {
				t.Fatalf("Leaf(%q) == first: %v, want %v", tt.host, got == first, tt.same)
			}
		})
	}
}

func TestLeafConcurrentSingleGeneration(t *testing.T) {
	t.Parallel()
	const goroutines = 50
	a := mustGenerate(t)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		certs = make([]*tls.Certificate, goroutines)
		errs  = make([]error, goroutines)
	)
	for i := range goroutines {
		wg.Go(func() {
			<-start
			certs[i], errs[i] = a.Leaf("api.example.com")
		})
	}
	close(start)
	wg.Wait()
	for i := range goroutines {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if certs[i] != certs[0] {
			t.Fatalf("goroutine %d got a different certificate: generated more than once", i)
		}
	}
}

func TestFetchSingleflight(t *testing.T) {
	t.Parallel()
	const goroutines = 50
	c := NewCertCache(0)
	src := mustGenerate(t)
	var calls atomic.Int32
	release := make(chan struct{})
	gen := func() (*tls.Certificate, error) {
		calls.Add(1)
		<-release // hold every other caller in the waiting path
		return src.signLeaf("api.example.com", nil)
	}
	var wg sync.WaitGroup
	results := make([]*tls.Certificate, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			cert, err := c.Fetch("api.example.com", gen)
			if err != nil {
				t.Errorf("Fetch: %v", err)
			}
			results[i] = cert
		})
	}
	// Let the goroutines pile up on the in-flight generation, then release it.
	waitWaiters(t, c, "api.example.com", goroutines-1)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("generator called %d times, want 1", n)
	}
	for i, r := range results {
		if r == nil || r != results[0] {
			t.Fatalf("result %d differs from result 0", i)
		}
	}
}

func TestCacheEvictsOldest(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t, WithCacheSize(2))
	leaf := func(host string) *tls.Certificate {
		t.Helper()
		c, err := a.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := leaf("a.example")
	second := leaf("b.example")
	if leaf("a.example") != first {
		t.Fatal("a.example regenerated while the cache had room")
	}
	third := leaf("c.example") // evicts a.example, the oldest generated
	if n := a.Cache().Len(); n != 2 {
		t.Fatalf("cache length = %d, want bound 2", n)
	}
	if leaf("b.example") != second || leaf("c.example") != third {
		t.Fatal("newer entries were evicted instead of the oldest")
	}
	if leaf("a.example") == first {
		t.Fatal("a.example still cached after eviction")
	}
	if n := a.Cache().Len(); n != 2 {
		t.Fatalf("cache length = %d after re-adding, want 2", n)
	}
}

func TestCacheSizeDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
		want int
	}{
		{"no option", nil, DefaultCacheSize},
		{"zero keeps default", WithCacheSize(0), DefaultCacheSize},
		{"negative keeps default", WithCacheSize(-3), DefaultCacheSize},
		{"explicit", WithCacheSize(7), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustGenerate(t, tt.opt).Cache().max; got != tt.want {
				t.Fatalf("cache bound = %d, want %d", got, tt.want)
			}
		})
	}
	if got := NewCertCache(-1).max; got != DefaultCacheSize {
		t.Fatalf("NewCertCache(-1) bound = %d, want %d", got, DefaultCacheSize)
	}
}

func TestLeafRenewedNearExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	a := mustGenerate(t, withClock(clock.Now))
	first, err := a.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		renewed bool
	}{
		{"5 days in: reused", 5 * 24 * time.Hour, false},
		{"6 days minus a second: reused", 24*time.Hour - 2*time.Second, false},
		{"6 days in: within a day of expiry, renewed", 2 * time.Second, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clock.Advance(s.advance)
			got, err := a.Leaf("api.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if (got != first) != s.renewed {
				t.Fatalf("renewed = %v, want %v", got != first, s.renewed)
			}
			if s.renewed && !got.Leaf.NotAfter.After(first.Leaf.NotAfter) {
				t.Fatalf("renewed leaf expires %v, not after old %v", got.Leaf.NotAfter, first.Leaf.NotAfter)
			}
		})
	}
}

func TestFetchErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	c := NewCertCache(0)
	src := mustGenerate(t)
	boom := errors.New("boom")
	if _, err := c.Fetch("h.example", func() (*tls.Certificate, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("Fetch error = %v, want wrapping %v", err, boom)
	}
	if c.Len() != 0 {
		t.Fatal("failed generation was cached")
	}
	cert, err := c.Fetch("h.example", func() (*tls.Certificate, error) { return src.signLeaf("h.example", nil) })
	if err != nil || cert == nil {
		t.Fatalf("Fetch after failure = %v, %v; want a certificate", cert, err)
	}
}

func TestFetchRejectsBadGenerators(t *testing.T) {
	t.Parallel()
	c := NewCertCache(0)
	tests := []struct {
		name      string
		gen       func() (*tls.Certificate, error)
		wantInErr string
	}{
		{"nil generator", nil, "nil generator"},
		{"nil certificate", func() (*tls.Certificate, error) { return nil, nil }, "no certificate"},
		{"empty chain", func() (*tls.Certificate, error) { return &tls.Certificate{}, nil }, "no certificate"},
		{"unparseable leaf", func() (*tls.Certificate, error) {
			return &tls.Certificate{Certificate: [][]byte{[]byte("junk")}}, nil
		}, "parse leaf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Fetch("h.example", tt.gen)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Fetch error = %v, want one mentioning %q", err, tt.wantInErr)
			}
		})
	}
}

func TestFetchParsesLeafWhenGeneratorOmitsIt(t *testing.T) {
	t.Parallel()
	c := NewCertCache(0)
	src := mustGenerate(t)
	var calls int
	gen := func() (*tls.Certificate, error) {
		calls++
		cert, err := src.signLeaf("h.example", nil)
		if err != nil {
			return nil, err
		}
		return &tls.Certificate{Certificate: cert.Certificate, PrivateKey: cert.PrivateKey}, nil
	}
	first, err := c.Fetch("h.example", gen)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Fetch("h.example", gen)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || calls != 1 {
		t.Fatalf("second Fetch regenerated (calls=%d); leaf-less certificates must still be cached", calls)
	}
}

func TestLeafReplacesForeignCacheEntry(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	foreign := mustGenerate(t)
	// Something else (e.g. goproxy's own signer) stored a certificate from
	// another CA under the same host through the shared CertStorage.
	planted, err := a.Cache().Fetch("api.example.com", func() (*tls.Certificate, error) {
		return foreign.signLeaf("api.example.com", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got == planted {
		t.Fatal("Leaf served a certificate issued by a foreign CA")
	}
	if _, err := got.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: poolOf(a)}); err != nil {
		t.Fatalf("replacement leaf does not verify against our CA: %v", err)
	}
	again, err := a.Leaf("api.example.com")
	if err != nil || again != got {
		t.Fatalf("replacement was not cached: %v", err)
	}
}

func TestFetchGeneratorPanicReleasesWaiters(t *testing.T) {
	t.Parallel()
	c := NewCertCache(0)
	entered := make(chan struct{})
	release := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = c.Fetch("h.example", func() (*tls.Certificate, error) {
			close(entered)
			<-release
			panic("generator bug")
		})
	}()
	<-entered
	waiterErr := make(chan error, 1)
	go func() {
		_, err := c.Fetch("h.example", func() (*tls.Certificate, error) { return nil, errors.New("unused") })
		waiterErr <- err
	}()
	waitWaiters(t, c, "h.example", 1) // the waiter joined the in-flight call
	close(release)
	if p := <-panicked; p == nil {
		t.Fatal("panic in generator was swallowed")
	}
	select {
	case err := <-waiterErr:
		if err == nil {
			t.Fatal("waiter got no error after the generator panicked")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter blocked forever after the generator panicked")
	}
}

// waitWaiters waits until n callers wait on key's in-flight generation.
func waitWaiters(t *testing.T, c *CertCache, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := 0
		if f := c.inflight[key]; f != nil {
			got = f.waiters
		}
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait on %s's generation after 5s, want %d", got, key, n)
		}
		time.Sleep(time.Millisecond)
	}
}
