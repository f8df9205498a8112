package configs

import (
	"fmt"
	"time"
)

// Limits bound what any client, or all of them together, can make one
// loopguard process hold: memory for bodies, goroutines for connections,
// and the time a request may take to arrive. Every listener (outbound,
// gateway, inbound, admin) applies them. Zero values take the defaults
// below.
type Limits struct {
	// JSONMaxDepth is the deepest nesting of arrays and objects loopguard
	// parses. Deeper bodies are never handed to a recursive parser: a
	// webhook or poll response passes untouched (counted as too_deep), a
	// write goes out untagged (reason too_deep). Default 256.
	JSONMaxDepth int `yaml:"json_max_depth"`
	// HeaderReadTimeout bounds reading a request's headers (slowloris).
	// Default "10s".
	HeaderReadTimeout Duration `yaml:"header_read_timeout"`
	// BodyReadTimeout bounds reading one whole request, headers and body,
	// from the moment it starts; so does each request inside an intercepted
	// (MITM) CONNECT. A body still arriving then is cut: loopguard answers
	// 408 when it was buffering it and closes the connection. Default "30s".
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
	// IdleTimeout closes a keep-alive connection (or an intercepted CONNECT)
	// that starts no new request. Default "120s".
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections bounds the open connections of each listener; a new
	// connection over it is answered 503 (Retry-After) and closed. Default
	// 1024.
	MaxConnections int `yaml:"max_connections"`
	// MaxInflightBodyBytes bounds the body bytes buffered at once by the
	// whole process (webhooks, writes, poll responses). A body's size is
	// reserved before it is buffered (Content-Length, or as it is read when
	// chunked). Over the bound a webhook or write is answered 503 with
	// Retry-After, except a webhook of a hold-policy provider (it never
	// redelivers), which streams to the app untouched (held if the app
	// fails it, like an oversize one); a poll response passes untouched.
	// Must be at least the larger max_body_bytes.
	// Default "64MiB".
	MaxInflightBodyBytes ByteSize `yaml:"max_inflight_body_bytes"`
	// RetryAfter is the Retry-After of those 503 answers. Default "5s".
	RetryAfter Duration `yaml:"retry_after"`
}

// Limit defaults.
const (
	DefaultJSONMaxDepth         = 256
	DefaultHeaderReadTimeout    = 10 * time.Second
	DefaultBodyReadTimeout      = 30 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultMaxConnections       = 1024
	DefaultMaxInflightBodyBytes = 64 << 20
	DefaultRetryAfter           = 5 * time.Second
	// maxJSONDepthConfig keeps a configured limit where a recursive parser's
	// stack stays small (encoding/json stops at 10000 itself).
	maxJSONDepthConfig = 10000
)

func applyLimitsDefaults(c *Config) {
	l := &c.Limits
	if l.JSONMaxDepth == 0 {
		l.JSONMaxDepth = DefaultJSONMaxDepth
	}
	setDur(&l.HeaderReadTimeout, DefaultHeaderReadTimeout)
	setDur(&l.BodyReadTimeout, DefaultBodyReadTimeout)
	setDur(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConnections == 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxInflightBodyBytes == 0 {
		l.MaxInflightBodyBytes = DefaultMaxInflightBodyBytes
	}
	setDur(&l.RetryAfter, DefaultRetryAfter)
}

// validateLimits checks the limits section against the body bounds it must
// hold.
func validateLimits(c *Config) []error {
	l := c.Limits
	var errs []error
	if l.JSONMaxDepth < 1 || l.JSONMaxDepth > maxJSONDepthConfig {
		errs = append(errs, fmt.Errorf("limits.json_max_depth: %d must be between 1 and %d", l.JSONMaxDepth, maxJSONDepthConfig))
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"limits.header_read_timeout", l.HeaderReadTimeout}, {"limits.body_read_timeout", l.BodyReadTimeout},
		{"limits.idle_timeout", l.IdleTimeout}, {"limits.retry_after", l.RetryAfter},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", d.name))
		}
	}
	if l.HeaderReadTimeout > l.BodyReadTimeout {
		errs = append(errs, fmt.Errorf("limits.header_read_timeout: %s is longer than limits.body_read_timeout (%s), which bounds headers too",
			l.HeaderReadTimeout.D(), l.BodyReadTimeout.D()))
	}
	if l.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("limits.max_connections: %d must be at least 1", l.MaxConnections))
	}
	if biggest := max(c.Inbound.MaxBodyBytes, c.Outbound.MaxBodyBytes); l.MaxInflightBodyBytes < biggest {
		errs = append(errs, fmt.Errorf("limits.max_inflight_body_bytes: %d is smaller than the larger max_body_bytes (%d): such a body could never be buffered",
			l.MaxInflightBodyBytes, biggest))
	}
	return errs
}
