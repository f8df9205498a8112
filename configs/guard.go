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
	// ReplayBackoff is the first pause of a queue whose head the app did
	// not accept, doubling per failure up to ReplayMaxBackoff. Defaults
	// "2s" and "1m".
	ReplayBackoff    Duration `yaml:"replay_backoff"`
	ReplayMaxBackoff Duration `yaml:"replay_max_backoff"`
	// MaxItemBytes bounds one held delivery. Deliveries of hold-policy
	// providers over inbound.max_body_bytes are still held (read from the
	// provider up to this bound) when the app cannot take them. Default
	// "25MiB" (GitHub's largest delivery).
	MaxItemBytes ByteSize `yaml:"max_item_bytes"`
	// UnverifiedMaxBytes and UnverifiedMaxItems bound the held deliveries
	// whose signature did not verify, apart from MaxBytes/MaxItems: they
	// are replayed untouched and never take genuine deliveries' space; when
	// full they are answered 503. Defaults "8MiB" and 1000.
	UnverifiedMaxBytes ByteSize `yaml:"unverified_max_bytes"`
	UnverifiedMaxItems int      `yaml:"unverified_max_items"`
	// DeadLetter says when a held delivery the app keeps refusing leaves
	// its queue for the dead letters (GET /spool/dead).
	DeadLetter DeadLetter `yaml:"dead_letter"`
}

// DeadLetter bounds how long the app may refuse a held delivery. A 4xx
// (other than 408, 425, 429) dead-letters it at once.
type DeadLetter struct {
	// MaxAttempts dead-letters a delivery after this many replays the app
	// failed (5xx other than 502, 503, 504). Default 10; -1 never.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge dead-letters a delivery held longer than this that the app
	// still answers without accepting (an app that does not answer at all
	// never dead-letters anything). Default "24h"; "-1s" never.
	MaxAge Duration `yaml:"max_age"`
}

// Guard defaults.
const (
	DefaultLoopThreshold           = 5
	DefaultLoopWindow              = 60 * time.Second
	DefaultQuarantine              = 15 * time.Minute
	DefaultTripAccount             = 3
	defaultSpoolDir                = "./loopguard-data"
	DefaultSpoolMaxBytes           = 256 << 20
	DefaultSpoolMaxItems           = 100000
	DefaultReplayInterval          = time.Second
	DefaultReplayBackoff           = 2 * time.Second
	DefaultReplayMaxBackoff        = time.Minute
	DefaultSpoolMaxItemBytes       = 25 << 20
	DefaultSpoolUnverifiedMaxBytes = 8 << 20
	DefaultSpoolUnverifiedMaxItems = 1000
	DefaultDeadMaxAttempts         = 10
	DefaultDeadMaxAge              = 24 * time.Hour
	maxLoopThresholdConfig         = 1000
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
	setDur(&s.ReplayBackoff, DefaultReplayBackoff)
	setDur(&s.ReplayMaxBackoff, DefaultReplayMaxBackoff)
	if s.MaxItemBytes == 0 {
		s.MaxItemBytes = DefaultSpoolMaxItemBytes
	}
	if s.UnverifiedMaxBytes == 0 {
		s.UnverifiedMaxBytes = DefaultSpoolUnverifiedMaxBytes
	}
	if s.UnverifiedMaxItems == 0 {
		s.UnverifiedMaxItems = DefaultSpoolUnverifiedMaxItems
	}
	if s.DeadLetter.MaxAttempts == 0 {
		s.DeadLetter.MaxAttempts = DefaultDeadMaxAttempts
	}
	setDur(&s.DeadLetter.MaxAge, DefaultDeadMaxAge)
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
	if c.Spool.ReplayBackoff <= 0 || c.Spool.ReplayMaxBackoff <= 0 {
		errs = append(errs, fmt.Errorf("spool.replay_backoff and replay_max_backoff: must be positive"))
	}
	if c.Spool.MaxItemBytes < 0 || c.Spool.UnverifiedMaxBytes < 0 || c.Spool.UnverifiedMaxItems < 0 {
		errs = append(errs, fmt.Errorf("spool: max_item_bytes (%d), unverified_max_bytes (%d) and unverified_max_items (%d) must not be negative",
			c.Spool.MaxItemBytes, c.Spool.UnverifiedMaxBytes, c.Spool.UnverifiedMaxItems))
	}
	if c.Spool.MaxItemBytes > 0 && c.Spool.MaxItemBytes < c.Inbound.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("spool.max_item_bytes: %d is below inbound.max_body_bytes (%d): deliveries the app failed could not be held",
			c.Spool.MaxItemBytes, c.Inbound.MaxBodyBytes))
	}
	if c.Spool.DeadLetter.MaxAttempts < -1 {
		errs = append(errs, fmt.Errorf("spool.dead_letter.max_attempts: %d (want -1 for never, or positive)", c.Spool.DeadLetter.MaxAttempts))
	}
	errs = append(errs, validateAdmin(c)...)
	return append(errs, validateStore(c)...)
}
