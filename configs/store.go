package configs

import (
	"fmt"
	"time"

	"github.com/loopguard/loopguard/configs/redisurl"
)

// Store kinds.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// Redis configures the shared store (store: redis).
type Redis struct {
	// URL is redis://[user:password@]host:port[/db], rediss:// for TLS, a
	// comma-separated host list for a Cluster, or
	// redis-sentinel://[user:password@]s1,s2/master for Sentinel. It holds a
	// password: printed redacted.
	URL Secret `yaml:"url"`
	// Prefix starts every key, so deployments can share one Redis. Replicas
	// of one app must use the same prefix. Default "loopguard:".
	Prefix string `yaml:"prefix"`
	// Timeout bounds every ledger operation; past it the layer that needed
	// the store abstains (the event is forwarded). Default "50ms".
	Timeout Duration `yaml:"timeout"`
}

// Redis defaults.
const (
	defaultStore        = StoreMemory
	defaultRedisPrefix  = "loopguard:"
	DefaultRedisTimeout = 50 * time.Millisecond
)

func applyStoreDefaults(c *Config) {
	setStr(&c.Store, defaultStore)
	setStr(&c.Redis.Prefix, defaultRedisPrefix)
	setDur(&c.Redis.Timeout, DefaultRedisTimeout)
}

func validateStore(c *Config) []error {
	switch c.Store {
	case StoreMemory:
		return nil
	case StoreRedis:
		if c.Redis.URL.Value() == "" {
			return []error{fmt.Errorf("redis.url: required with store: redis (or set LOOPGUARD_REDIS_URL)")}
		}
		// The parser the client uses: a URL that validates is one that runs.
		// Its errors hold no part of the URL (it may hold a password).
		if _, err := redisurl.Parse(c.Redis.URL.Value()); err != nil {
			return []error{fmt.Errorf("redis.url: %w", err)}
		}
		if c.Redis.Timeout <= 0 {
			return []error{fmt.Errorf("redis.timeout: must be positive")}
		}
		return nil
	}
	return []error{fmt.Errorf("store: %q is not one of memory, redis", c.Store)}
}
