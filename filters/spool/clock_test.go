package spool_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/spooltest"
)

// TestSpoolTimesComeFromItsClock: the bbolt spool reads its times from
// Options.Now.
func TestSpoolTimesComeFromItsClock(t *testing.T) {
	t.Parallel()
	spooltest.RunClock(t, func(t *testing.T, now func() time.Time) spool.Queue {
		s, err := spool.Open(spool.Options{Path: filepath.Join(t.TempDir(), "spool.db"), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
