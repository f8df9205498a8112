package redisconn

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/loopguard/loopguard/configs/redisurl"
	"github.com/redis/go-redis/v9"
)

// Client defaults. Per-operation deadlines come from the caller's context
// (every store wraps each operation in its own Timeout), so these only
// bound what has no deadline, such as a pub/sub connection.
const (
	// DefaultDialTimeout bounds one connection attempt.
	DefaultDialTimeout = time.Second
	// DefaultSocketTimeout bounds one socket read or write when the
	// context has no earlier deadline.
	DefaultSocketTimeout = 3 * time.Second
	// defaultMaxRetries lets a command be retried once on a fresh
	// connection, so a pooled connection broken by a Redis restart costs
	// no error; the context deadline still bounds the whole operation.
	defaultMaxRetries = 1
	// dialerRetries is 1 so that an unreachable Redis fails within the
	// operation's budget instead of after go-redis's default five dials;
	// recovery comes from the next operation or go-redis's background
	// probe, once a second.
	dialerRetries   = 1
	minRetryBackoff = time.Millisecond
	maxRetryBackoff = 10 * time.Millisecond
	// clientName is the CLIENT SETNAME of every connection unless the URL
	// sets client_name.
	clientName = "loopguard"
)

// ParseURL turns a loopguard Redis URL into go-redis options. The forms
// and their checks are configs/redisurl's; this adds the client defaults
// above. Errors never contain the URL or any piece of it.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	u, err := redisurl.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("redisconn: %w", err)
	}
	o := &redis.UniversalOptions{
		Addrs: u.Addrs, Username: u.Username, Password: u.Password, DB: u.DB,
		MasterName: u.MasterName, SentinelUsername: u.SentinelUsername, SentinelPassword: u.SentinelPassword,
		IsClusterMode: u.Cluster, ClientName: clientName, PoolSize: u.PoolSize,
	}
	if u.ClientName != "" {
		o.ClientName = u.ClientName
	}
	if u.TLS {
		// ServerName stays empty: crypto/tls takes it from each node's
		// address, which a Cluster or Sentinel setup needs.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = DefaultDialTimeout, DefaultSocketTimeout, DefaultSocketTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff = defaultMaxRetries, minRetryBackoff, maxRetryBackoff
	o.DialerRetries = dialerRetries
	return o, nil
}

// NewClient parses raw (see ParseURL) and returns a client for it: a
// single-node, Cluster or Sentinel-backed client. It does not connect yet,
// so a Redis that is down at startup is not an error here. The caller
// closes it.
func NewClient(raw string) (redis.UniversalClient, error) {
	o, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}

// Redact returns raw with its passwords replaced, for logs; a URL that
// does not parse prints as redisurl.Malformed (any piece of it could be a
// password).
func Redact(raw string) string { return redisurl.Redact(raw) }
