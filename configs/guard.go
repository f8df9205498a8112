package configs

import (
	"fmt"
	"time"
)

// Loops tunes the per-record loop detector: a record whose writes keep
// coming back as forwarded inbound events is quarantined.
type Loops struct {
	// Threshold is the number of write → inbound-event round trips within
	// Window that quarantines a record. Default 5.
	Threshold int `yaml:"threshold"`
	// Window is the sliding window round trips are counted in. Default "60s".
	Window Duration `yaml:"window"`
	// Quarantine is how long a record stays quarantined unless released by
	// the admin API. Default "15m".
	Quarantine Duration `yaml:"quarantine"`
	// TripAccount opens the account's breaker (reason loop_detected) when
	// this many of its records are quarantined at once. Default 3; a
	// negative value never trips the breaker from the loop detector.
	TripAccount int `yaml:"trip_account"`
}

// Spool configures the durable hold of inbound deliveries (breaker open,
// record quarantined, or app down for providers that never redeliver).
type Spool struct {
	// Dir holds spool.db (0600, directory 0700). Default "./loopguard-data".
	Dir string `yaml:"dir"`
	// MaxBytes bounds the held bytes; when full, deliveries are answered 503
	// so the provider retries. Default "256MiB".
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxItems bounds the held deliveries. Default 100000.
	MaxItems int `yaml:"max_items"`
	// ReplayInterval is how often held deliveries are retried. Default "1s".
	ReplayInterval Duration `yaml:"replay_interval"`
}

// Guard defaults.
const (
	DefaultLoopThreshold   = 5
	DefaultLoopWindow      = 60 * time.Second
	DefaultQuarantine      = 15 * time.Minute
	DefaultTripAccount     = 3
	defaultSpoolDir        = "./loopguard-data"
	DefaultSpoolMaxBytes   = 256 << 20
	DefaultSpoolMaxItems   = 100000
	DefaultReplayInterval  = time.Second
	maxLoopThresholdConfig = 1000
)

func applyGuardDefaults(c *Config) {
	l := &c.Loops
	if l.Threshold == 0 {
		l.Threshold = DefaultLoopThreshold
	}
	setDur(&l.Window, DefaultLoopWindow)
	setDur(&l.Quarantine, DefaultQuarantine)
	if l.TripAccount == 0 {
		l.TripAccount = DefaultTripAccount
	}
	s := &c.Spool
	setStr(&s.Dir, defaultSpoolDir)
	if s.MaxBytes == 0 {
		s.MaxBytes = DefaultSpoolMaxBytes
	}
	if s.MaxItems == 0 {
		s.MaxItems = DefaultSpoolMaxItems
	}
	setDur(&s.ReplayInterval, DefaultReplayInterval)
	applyStoreDefaults(c)
}

// validateGuard checks the loops and spool sections.
func validateGuard(c *Config) []error {
	var errs []error
	if c.Loops.Threshold < 1 || c.Loops.Threshold > maxLoopThresholdConfig {
		errs = append(errs, fmt.Errorf("loops.threshold: %d must be between 1 and %d", c.Loops.Threshold, maxLoopThresholdConfig))
	}
	if c.Loops.Window <= 0 {
		errs = append(errs, fmt.Errorf("loops.window: must be positive"))
	}
	if c.Loops.Quarantine <= 0 {
		errs = append(errs, fmt.Errorf("loops.quarantine: must be positive"))
	}
	if c.Spool.MaxBytes < 0 || c.Spool.MaxItems < 0 {
		errs = append(errs, fmt.Errorf("spool: max_bytes (%d) and max_items (%d) must not be negative", c.Spool.MaxBytes, c.Spool.MaxItems))
	}
	if c.Spool.ReplayInterval <= 0 {
		errs = append(errs, fmt.Errorf("spool.replay_interval: must be positive"))
	}
	errs = append(errs, validateAdmin(c)...)
	return append(errs, validateStore(c)...)
}
