package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/redisconn"
)

// Defaults, equal to ledger.Memory's so that switching stores changes no
// filtering decision.
const (
	// DefaultPrefix namespaces every key of a loopguard deployment.
	DefaultPrefix = redisconn.DefaultPrefix
	// DefaultTimeout bounds one store operation: a slow or unreachable
	// Redis costs an event at most this much before the layers abstain.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultWriteTTL is how long our writes stay pending.
	DefaultWriteTTL = 10 * time.Minute
	// DefaultSeenTTL is how long a record's last genuine state is kept.
	DefaultSeenTTL = 24 * time.Hour
	// DefaultDedupWindow is how long forwarded event ids are kept.
	DefaultDedupWindow = 24 * time.Hour
	// recordSpace and eventSpace follow the prefix in key names.
	recordSpace = "r:"
	eventSpace  = "e:"
)

// Options configures New. Zero values take the defaults.
type Options struct {
	// URL is the Redis to use (forms: see redisconn.ParseURL). Ignored when Client is
	// set; one of them is required.
	URL string
	// Client is an existing client to use, e.g. one shared with the
	// breaker share and the spool. The store does not close it.
	Client redis.UniversalClient
	// Prefix starts every key name. Default DefaultPrefix ("loopguard:").
	Prefix string
	// Timeout bounds each operation (connection wait included). Default
	// DefaultTimeout (50ms).
	Timeout time.Duration
	// WriteTTL is how long our writes stay pending. Default 10m.
	WriteTTL time.Duration
	// SeenTTL is how long a record's last genuine state is kept. Default 24h.
	SeenTTL time.Duration
	// DedupWindow is how long forwarded event ids are kept. Default 24h.
	DedupWindow time.Duration
	// Now is the clock deciding expiry, as in ledger.Memory (Redis TTLs
	// only reclaim space). Default time.Now.
	Now func() time.Time
}

// withDefaults validates o and fills zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.Client == nil && o.URL == "" {
		return o, errors.New("one of Options.URL and Options.Client is required")
	}
	if o.Timeout < 0 || o.WriteTTL < 0 || o.SeenTTL < 0 || o.DedupWindow < 0 {
		return o, fmt.Errorf("options: Timeout (%s), WriteTTL (%s), SeenTTL (%s) and DedupWindow (%s) must not be negative",
			o.Timeout, o.WriteTTL, o.SeenTTL, o.DedupWindow)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.WriteTTL == 0 {
		o.WriteTTL = DefaultWriteTTL
	}
	if o.SeenTTL == 0 {
		o.SeenTTL = DefaultSeenTTL
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Store is the ledger.Store on Redis, shared by every replica using the
// same Redis and Prefix. It is safe for concurrent use.
type Store struct {
	opts      Options
	client    redis.UniversalClient
	ownClient bool
	recPrefix string
	evPrefix  string
	casScript *redis.Script
	healthy   atomic.Bool
}

var _ ledger.Store = (*Store)(nil)

// New builds the store. It fails only on bad options: an unreachable Redis
// is reported by Healthy and by each operation's error, and the store
// recovers by itself when Redis returns.
func New(opts Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("redisstore: new: %w", err)
	}
	s := &Store{
		opts:      o,
		client:    o.Client,
		recPrefix: o.Prefix + recordSpace,
		evPrefix:  o.Prefix + eventSpace,
		casScript: redis.NewScript(casScript),
	}
	if s.client == nil {
		if s.client, err = redisconn.NewClient(o.URL); err != nil {
			return nil, fmt.Errorf("redisstore: new: %w", err)
		}
		s.ownClient = true
	}
	_ = s.Ping(context.Background()) // sets Healthy; failure is not fatal
	return s, nil
}

// Client returns the underlying client, so other Redis-backed parts can
// share its connection pool.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Healthy reports whether the last operation reached Redis. /readyz uses
// it to report "degraded" while the proxy keeps serving.
func (s *Store) Healthy() bool { return s.healthy.Load() }

// Ping checks that Redis answers within Timeout.
func (s *Store) Ping(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.observe(ctx, s.client.Ping(octx).Err()); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// observe records the outcome of one operation for Healthy and returns err
// (redis.Nil, a missing key, is not an error). A WRONGTYPE reply is a
// corrupt key, not an unhealthy Redis. A failure caused by the caller's own
// cancellation says nothing about Redis and is not recorded.
func (s *Store) observe(parent context.Context, err error) error {
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	switch {
	case err == nil || isWrongType(err):
		s.healthy.Store(true)
	case parent.Err() == nil:
		s.healthy.Store(false)
	}
	return err
}

// isWrongType reports Redis's answer for a key holding another data type,
// which only a foreign or corrupt key causes.
func isWrongType(err error) bool { return redis.HasErrorPrefix(err, "WRONGTYPE") }

// Stats implements ledger.Store. Entries, Events and Evictions are zero:
// counting keys would cost a scan of the shared Redis on every scrape, and
// Redis evicts by its own maxmemory policy; use Redis's INFO metrics.
func (s *Store) Stats() ledger.Stats { return ledger.Stats{} }

// Close releases the client when the store created it.
func (s *Store) Close() error {
	if !s.ownClient {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// recordKey names k's hash; the record identity is hashed (see redisconn.HashID).
func (s *Store) recordKey(k ledger.Key) string { return s.recPrefix + redisconn.HashID(k.String()) }

// eventKey names an event id's dedup entry.
func (s *Store) eventKey(id string) string { return s.evPrefix + redisconn.HashID(id) }

// ttlMillis is how long from now a part stamped at lives, in ms, at least 1.
func ttlMillis(at, now time.Time, ttl time.Duration) int64 {
	return max(at.Add(ttl).Sub(now).Milliseconds(), 1)
}
