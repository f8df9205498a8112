package ca

import (
	"crypto/x509"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustGenerate returns a fresh CA or fails the test.
func mustGenerate(t testing.TB, opts ...Option) *Authority {
	t.Helper()
	a, err := Generate("loopguard test CA", opts...)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return a
}

// poolOf returns a pool holding only a's CA certificate.
func poolOf(a *Authority) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Certificate())
	return p
}
