package breaker

import (
	"fmt"
	"time"
)

// Defaults and limits of LoopConfig.
const (
	// DefaultLoopThreshold quarantines a record at 5 round trips.
	DefaultLoopThreshold = 5
	// MaxLoopThreshold bounds the per-record list of round-trip times.
	MaxLoopThreshold = 1000
	// DefaultLoopWindow is the sliding window round trips are counted in.
	DefaultLoopWindow = 60 * time.Second
	// DefaultQuarantine is how long a record stays quarantined unless an
	// admin releases it sooner.
	DefaultQuarantine = 15 * time.Minute
	// DefaultMaxRecords bounds the tracked records.
	DefaultMaxRecords = 100000
)

// LoopConfig tunes Loops. The zero value of every field means its default.
type LoopConfig struct {
	// Threshold is the number of write → event round trips within Window
	// that quarantines a record. Between 1 and 1000; default 5.
	Threshold int
	// Window is the sliding window the round trips are counted in; a
	// write older than Window when its event arrives does not count
	// either. Must be > 0; default 60s.
	Window time.Duration
	// Quarantine is how long a record stays quarantined before it is
	// released automatically. Must be > 0; default 15m.
	Quarantine time.Duration
	// MaxRecords bounds the tracked records; when full, the least recently
	// touched non-quarantined ones are dropped. Must be > 0; default 100000.
	MaxRecords int
}

// withDefaults validates c and fills zero fields with their defaults.
func (c LoopConfig) withDefaults() (LoopConfig, error) {
	if c.Threshold == 0 {
		c.Threshold = DefaultLoopThreshold
	}
	if c.Threshold < 1 || c.Threshold > MaxLoopThreshold {
		return c, fmt.Errorf("%w: LoopConfig.Threshold must be in [1, %d], got %d", ErrInvalidConfig, MaxLoopThreshold, c.Threshold)
	}
	if c.Window == 0 {
		c.Window = DefaultLoopWindow
	}
	if c.Window < 0 {
		return c, fmt.Errorf("%w: LoopConfig.Window must be > 0, got %s", ErrInvalidConfig, c.Window)
	}
	if c.Quarantine == 0 {
		c.Quarantine = DefaultQuarantine
	}
	if c.Quarantine < 0 {
		return c, fmt.Errorf("%w: LoopConfig.Quarantine must be > 0, got %s", ErrInvalidConfig, c.Quarantine)
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.MaxRecords < 0 {
		return c, fmt.Errorf("%w: LoopConfig.MaxRecords must be > 0, got %d", ErrInvalidConfig, c.MaxRecords)
	}
	return c, nil
}

// QuarantineInfo describes a quarantined (or just released) record.
type QuarantineInfo struct {
	// Key is the record.
	Key RecordKey
	// Since is when the record was quarantined.
	Since time.Time
	// Until is when the quarantine ends automatically; in an OnRelease
	// callback, when it actually ended.
	Until time.Time
	// Count is the round trips within the window that triggered it.
	Count int
	// Reason explains the quarantine for logs and the admin API.
	Reason string
}
