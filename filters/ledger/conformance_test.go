package ledger_test

import (
	"testing"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/ledgertest"
)

func newMemory(t *testing.T, o ledgertest.Options) ledger.Store {
	m, err := ledger.NewMemory(ledger.Options{Shards: 8, MaxSizeMB: 8, Now: o.Now, WriteTTL: o.WriteTTL, SeenTTL: o.SeenTTL})
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// The shared behaviour every ledger.Store must have.
func TestMemorySemantics(t *testing.T)  { ledgertest.Semantics(t, newMemory) }
func TestMemoryCustomTTLs(t *testing.T) { ledgertest.CustomTTLs(t, newMemory) }
func TestMemoryConcurrent(t *testing.T) { ledgertest.Concurrent(t, newMemory) }
