package redisq

import (
	"testing"

	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/spooltest"
)

func TestBehaviourSuite(t *testing.T) {
	spooltest.Run(t, func(t *testing.T, b spool.Budget) spool.Queue {
		return newTestQueue(t, Options{MaxBytes: b.MaxBytes, MaxItems: b.MaxItems, UnverifiedMaxBytes: b.UnverifiedMaxBytes,
			UnverifiedMaxItems: b.UnverifiedMaxItems, MaxItemBytes: b.MaxItemBytes})
	})
}
