package spool_test

import (
	"path/filepath"
	"testing"

	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/spooltest"
)

func TestBehaviourSuite(t *testing.T) {
	spooltest.Run(t, func(t *testing.T, b spool.Budget) spool.Queue {
		s, err := spool.Open(spool.Options{Path: filepath.Join(t.TempDir(), "spool.db"), MaxBytes: b.MaxBytes, MaxItems: b.MaxItems,
			UnverifiedMaxBytes: b.UnverifiedMaxBytes, UnverifiedMaxItems: b.UnverifiedMaxItems, MaxItemBytes: b.MaxItemBytes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
