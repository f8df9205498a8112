// Package configs holds loopguard's configuration: the typed structs, strict
// YAML loading with LOOPGUARD_* environment overrides, validation, and the
// embedded default configuration and built-in provider profiles.
package configs

// Config is the whole deployment configuration. Zero values are replaced by
// the defaults named in each field's comment (see ApplyDefaults).
type Config struct {
	// Agent is the change-agent name stamped on our writes and recognised in
	// echoes. Default "loopguard".
	Agent string `yaml:"agent"`
	// AppURL is where the inbound proxy forwards webhooks (the app). Default
	// "http://127.0.0.1:3000".
	AppURL string `yaml:"app_url"`
	// Observe evaluates and reports every decision but drops nothing.
	// Default false.
	Observe bool `yaml:"observe"`
	// ShutdownGrace is how long in-flight requests may finish after SIGTERM.
	// Default "15s".
	ShutdownGrace Duration `yaml:"shutdown_grace"`

	Listen   Listen   `yaml:"listen"`
	Log      Log      `yaml:"log"`
	CA       CA       `yaml:"ca"`
	Outbound Outbound `yaml:"outbound"`
	Inbound  Inbound  `yaml:"inbound"`
	Ledger   Ledger   `yaml:"ledger"`
	Admin    Admin    `yaml:"admin"`
	Breaker  Breaker  `yaml:"breaker"`
	Loops    Loops    `yaml:"loops"`
	Spool    Spool    `yaml:"spool"`
	Limits   Limits   `yaml:"limits"`

	// Store is where state lives: "memory" (embedded bigcache and a bbolt
	// spool, one replica) or "redis" (shared by every replica). Default
	// "memory".
	Store string `yaml:"store"`
	Redis Redis  `yaml:"redis"`

	// ProviderFiles are extra profile files (YAML) loaded next to the built-in
	// profiles; a file's profile may replace a built-in one of the same name.
	// A relative path is resolved against the configuration file's folder.
	ProviderFiles []string `yaml:"provider_files"`
	// Providers are the APIs this deployment syncs with. Each entry uses a
	// profile (built-in or from ProviderFiles) and may override any of its
	// fields, per deployment and per account.
	Providers []ProviderEntry `yaml:"providers"`
}

// Listen holds listener addresses. An empty address disables that listener
// (except admin, which always listens).
type Listen struct {
	// Outbound is the forward proxy the app uses as HTTP(S)_PROXY. Default
	// "127.0.0.1:8080".
	Outbound string `yaml:"outbound"`
	// Inbound is the webhook reverse proxy in front of the app. Default ":8081".
	Inbound string `yaml:"inbound"`
	// Admin serves /healthz, /readyz, /metrics and /decisions. Default
	// "127.0.0.1:9090" (localhost only).
	Admin string `yaml:"admin"`
	// Gateway is an optional listener for gateway (base-URL) mode; when empty,
	// gateway prefixes are served on the outbound listener. Default "".
	Gateway string `yaml:"gateway"`
	// Transparent is the listener for connections that `loopguard iptables
	// install` redirects (transparent mode, e.g. "127.0.0.1:15001"):
	// provider hosts take the outbound proxy's MITM path, every other
	// connection is spliced to its original destination untouched. When
	// the host is 127.0.0.1, loopguard also listens on [::1] at the same
	// port if the host has IPv6, because ip6tables REDIRECT sends captured
	// IPv6 connections to ::1. Default "" (off).
	Transparent string `yaml:"transparent"`
}

// Log configures zerolog output.
type Log struct {
	// Format is "json" or "console". Default "json".
	Format string `yaml:"format"`
	// Level is trace, debug, info, warn or error. Default "info".
	Level string `yaml:"level"`
}

// CA says where the MITM certificate authority comes from: mounted files
// (CertFile+KeyFile) or a directory where one is generated on first start and
// reused after. goproxy's public built-in CA is never used.
type CA struct {
	// Dir holds ca.pem and ca-key.pem (0600). Default "./loopguard-ca".
	Dir string `yaml:"dir"`
	// CertFile and KeyFile name a mounted CA; both or neither. Default "".
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DeploymentKeyFile names a mounted deployment key: 32 random bytes
	// (raw, 64 hex digits or base64) that key account ids and sentinels.
	// Replicas sharing a Redis must share it. Default "": generated on first
	// start as deployment.key (0600) in Dir and reused after.
	DeploymentKeyFile string `yaml:"deployment_key_file"`
}

// Outbound tunes the forward proxy and its upstream transport.
type Outbound struct {
	// MaxBodyBytes: matched writes with larger bodies pass untouched (and are
	// counted). Default "10MiB".
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// DialTimeout for upstream TCP connects. Default "10s".
	DialTimeout Duration `yaml:"dial_timeout"`
	// TLSHandshakeTimeout for upstream TLS. Default "10s".
	TLSHandshakeTimeout Duration `yaml:"tls_handshake_timeout"`
	// ResponseHeaderTimeout waits for upstream response headers. Default "60s".
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"`
	// IdleConnTimeout closes idle upstream connections. Default "90s".
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// MaxIdleConnsPerHost keeps upstream keep-alive connections. Default 64.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// UpstreamCAFile adds a PEM bundle to the system roots for upstream TLS
	// verification (for private APIs and tests). Default "".
	UpstreamCAFile string `yaml:"upstream_ca_file"`
	// Allow opens exceptions to the egress policy, which by default refuses
	// loopback, link-local (cloud metadata), private, unspecified, multicast
	// and reserved addresses: host names ("db.internal"), subdomain
	// wildcards ("*.corp.example"), IP addresses and CIDRs ("10.0.0.0/8"),
	// each optionally with ":port". loopguard's own listeners are never
	// reachable. Hosts named by provider profiles need no entry. Default [].
	Allow []string `yaml:"allow"`
	// Tunnel chooses what hosts no provider profile names get, through
	// CONNECT tunnels and plain-HTTP forwarding: "public" (any host whose
	// every address is public or allowed), "configured" (only what Allow
	// names) or "none" (nothing but provider hosts). Default "public".
	Tunnel string `yaml:"tunnel"`
}

// Inbound tunes the webhook reverse proxy.
type Inbound struct {
	// MaxBodyBytes: larger deliveries are forwarded untouched and counted.
	// Default "5MiB".
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// AppTimeout bounds one forward to the app; on timeout the provider gets
	// 504. Default "30s".
	AppTimeout Duration `yaml:"app_timeout"`
	// DedupWindow is how long a forwarded event id is remembered. Default "24h".
	DedupWindow Duration `yaml:"dedup_window"`
	// Decisions is how many recent decisions /decisions keeps. Default 1000.
	Decisions int `yaml:"decisions"`
	// Server is the HTTP server of the inbound listener: "fasthttp" (judged
	// deliveries with a known length within max_body_bytes are read and
	// forwarded on fasthttp's types; every other request is served by the
	// same net/http handler, its body streamed) or "net/http". Both keep
	// the same limits, answers and shutdown. Default "fasthttp".
	Server string `yaml:"server"`
}

// Ledger sizes the embedded state store (bigcache).
type Ledger struct {
	// WriteTTL is how long a recorded write is remembered. Default "10m".
	WriteTTL Duration `yaml:"write_ttl"`
	// EchoWindow is how long after one of our writes its echo is expected:
	// within it an event whose values are the state the write left is its
	// echo; after it, values alone no longer make an event ours (a write
	// the provider sent no event for — it changed nothing there — must not
	// turn a person's later return to those values into an "echo").
	// Markers, actors and sentinels still count until WriteTTL. Default
	// "2m"; at most WriteTTL.
	EchoWindow Duration `yaml:"echo_window"`
	// SeenTTL is how long the last genuine state of a record is remembered.
	// Default "24h".
	SeenTTL Duration `yaml:"seen_ttl"`
	// MaxSizeMB caps the ledger's memory; the oldest entries are evicted
	// first. Default 256.
	MaxSizeMB int `yaml:"max_size_mb"`
	// Shards is bigcache's shard count (a power of two). Default 1024.
	Shards int `yaml:"shards"`
}

// Admin configures the admin listener's API.
type Admin struct {
	// Token, when set, is required as "Authorization: Bearer <token>" (or
	// the loopguard_admin cookie) on every admin endpoint except /healthz
	// and /readyz. Required when listen.admin is not loopback-only. Default
	// "" (no token; the listener is localhost-only by default).
	Token Secret `yaml:"token"`
	// TokenFile reads Token from a file (a mounted Secret); surrounding
	// whitespace is trimmed. Set Token or TokenFile, not both. Default "".
	TokenFile string `yaml:"token_file"`
}

// Breaker configures the per-(provider, account) quota circuit breaker fed by
// upstream rate-limit headers. Zero values take the defaults below.
type Breaker struct {
	// Threshold opens the breaker when this fraction of the quota is used.
	// Default 0.9.
	Threshold float64 `yaml:"threshold"`
	// BurnFactor opens it when calls/min jump above factor × the rolling
	// baseline. Default 10; negative disables.
	BurnFactor float64 `yaml:"burn_factor"`
	// CoolDown is how long it stays open when the reset time is unknown.
	// Default "60s".
	CoolDown Duration `yaml:"cool_down"`
	// MaxOpen caps any open period. Default "1h".
	MaxOpen Duration `yaml:"max_open"`
	// BlockReads also answers reads locally while open. Default false
	// (reads pass).
	BlockReads bool `yaml:"block_reads"`
}
