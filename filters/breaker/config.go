package breaker

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults and limits of Config. They are constants so that the proxy's
// config layer can document and reuse them.
const (
	// DefaultThreshold opens a breaker at 90% quota used.
	DefaultThreshold = 0.9
	// DefaultBurnFactor opens a breaker when the last minute's call rate
	// is more than ten times the baseline.
	DefaultBurnFactor = 10.0
	// DefaultBurnMinCalls ignores burn rate below 60 calls in the last
	// minute, so that a quiet account waking up is not mistaken for a loop.
	DefaultBurnMinCalls = 60
	// DefaultBaselineWindow is the rolling window of the baseline rate.
	DefaultBaselineWindow = 15 * time.Minute
	// MaxBaselineWindow bounds the per-key ring (one bucket per minute).
	MaxBaselineWindow = time.Hour
	// DefaultCoolDown is how long a breaker stays open when the upstream
	// did not say when the quota resets.
	DefaultCoolDown = 60 * time.Second
	// DefaultMaxOpen caps every open period, so a probe is tried at least
	// this often whatever the upstream said.
	DefaultMaxOpen = time.Hour
	// DefaultMaxKeys bounds the number of tracked keys.
	DefaultMaxKeys = 100000
	// DefaultProbeTimeout frees the half-open probe slot when the probe's
	// outcome was never observed (client gone, proxy bug).
	DefaultProbeTimeout = 30 * time.Second

	// probeRetryAfter is the Retry-After given to writes rejected because
	// the half-open probe is in flight: the outcome is expected soon.
	probeRetryAfter = time.Second
	// evictDivisor makes one eviction pass free 1/evictDivisor of the table,
	// so its O(n log n) cost is amortised over many insertions.
	evictDivisor = 64
)

// ErrInvalidConfig is wrapped by every New and NewLoops validation error;
// the message names the offending field.
var ErrInvalidConfig = errors.New("invalid config")

// Config tunes Breakers. The zero value of every field means its default.
type Config struct {
	// Threshold opens the breaker when the used quota fraction is >= it.
	// Must be in (0, 1]; default 0.9.
	Threshold float64
	// BurnFactor opens the breaker when the calls per minute over the last
	// minute exceed BurnFactor × the baseline calls per minute. Default 10;
	// a negative value disables burn-rate detection (0 means the default,
	// as for every other field).
	BurnFactor float64
	// BurnMinCalls ignores the burn rate while the last minute saw fewer
	// calls than this. Must be >= 0; default 60.
	BurnMinCalls int
	// BaselineWindow is the rolling window of the baseline rate, rounded
	// up to whole minutes (one ring bucket per minute). The last minute is
	// not part of the baseline. Between 1m and 1h; default 15m.
	BaselineWindow time.Duration
	// CoolDown is how long to stay open when the reset time is unknown, and
	// after a burn-rate trip or a failed probe. Must be <= MaxOpen; default
	// 60s (or MaxOpen when that is shorter).
	CoolDown time.Duration
	// MaxOpen caps any open period, extensions included. Default 1h.
	MaxOpen time.Duration
	// MaxKeys bounds the tracked keys; when full, the least recently
	// observed closed keys are dropped. Default 100000.
	MaxKeys int
	// ProbeTimeout is how long a half-open breaker waits for its probe's
	// Observe before letting another probe through. Default 30s.
	ProbeTimeout time.Duration
}

// withDefaults validates c and fills zero fields with their defaults. Errors
// name the offending field.
func (c Config) withDefaults() (Config, error) {
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if math.IsNaN(c.Threshold) || c.Threshold <= 0 || c.Threshold > 1 {
		return c, fmt.Errorf("%w: Config.Threshold must be in (0, 1], got %v", ErrInvalidConfig, c.Threshold)
	}
	if c.BurnFactor == 0 {
		c.BurnFactor = DefaultBurnFactor
	}
	if math.IsNaN(c.BurnFactor) || math.IsInf(c.BurnFactor, 0) {
		return c, fmt.Errorf("%w: Config.BurnFactor must be finite, got %v", ErrInvalidConfig, c.BurnFactor)
	}
	if c.BurnMinCalls == 0 {
		c.BurnMinCalls = DefaultBurnMinCalls
	}
	if c.BurnMinCalls < 0 {
		return c, fmt.Errorf("%w: Config.BurnMinCalls must be >= 0, got %d", ErrInvalidConfig, c.BurnMinCalls)
	}
	if c.BaselineWindow == 0 {
		c.BaselineWindow = DefaultBaselineWindow
	}
	if c.BaselineWindow < 0 || c.BaselineWindow > MaxBaselineWindow {
		return c, fmt.Errorf("%w: Config.BaselineWindow must be in (0, %s], got %s", ErrInvalidConfig, MaxBaselineWindow, c.BaselineWindow)
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = DefaultMaxOpen
	}
	if c.MaxOpen < 0 {
		return c, fmt.Errorf("%w: Config.MaxOpen must be > 0, got %s", ErrInvalidConfig, c.MaxOpen)
	}
	if c.CoolDown == 0 {
		c.CoolDown = min(DefaultCoolDown, c.MaxOpen)
	}
	if c.CoolDown < 0 || c.CoolDown > c.MaxOpen {
		return c, fmt.Errorf("%w: Config.CoolDown must be in (0, MaxOpen=%s], got %s", ErrInvalidConfig, c.MaxOpen, c.CoolDown)
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.MaxKeys < 0 {
		return c, fmt.Errorf("%w: Config.MaxKeys must be > 0, got %d", ErrInvalidConfig, c.MaxKeys)
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.ProbeTimeout < 0 {
		return c, fmt.Errorf("%w: Config.ProbeTimeout must be > 0, got %s", ErrInvalidConfig, c.ProbeTimeout)
	}
	return c, nil
}

// baselineMinutes is the baseline window in whole minutes (rounded up).
func (c Config) baselineMinutes() int {
	return int((c.BaselineWindow + time.Minute - 1) / time.Minute)
}
