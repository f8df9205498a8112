package configs

import (
	"fmt"
	"strconv"
	"strings"
)

// EnvVar is one LOOPGUARD_* override: its name, what it sets, and how.
type EnvVar struct {
	Name    string
	Field   string
	Default string
	set     func(c *Config, v string) error
}

// EnvPrefix starts every environment override.
const EnvPrefix = "LOOPGUARD_"

// EnvVars lists every global environment override, in one place (README's
// reference table is printed from it by `loopguard env`). Per-provider
// overrides follow the pattern in ProviderEnvVars.
func EnvVars() []EnvVar {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	dur := func(p func(*Config) *Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := ParseDuration(v)
			*p(c) = Duration(d)
			return err
		}
	}
	size := func(p func(*Config) *ByteSize) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := ParseByteSize(v)
			*p(c) = ByteSize(n)
			return err
		}
	}
	num := func(p func(*Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		}
	}
	return []EnvVar{
		{"LOOPGUARD_AGENT", "agent", "loopguard", str(func(c *Config) *string { return &c.Agent })},
		{"LOOPGUARD_APP_URL", "app_url", defaultAppURL, str(func(c *Config) *string { return &c.AppURL })},
		{"LOOPGUARD_OBSERVE", "observe", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			c.Observe = b
			return err
		}},
		{"LOOPGUARD_SHUTDOWN_GRACE", "shutdown_grace", "15s", dur(func(c *Config) *Duration { return &c.ShutdownGrace })},
		{"LOOPGUARD_LISTEN_OUTBOUND", "listen.outbound", defaultOutboundAddr, str(func(c *Config) *string { return &c.Listen.Outbound })},
		{"LOOPGUARD_LISTEN_INBOUND", "listen.inbound", defaultInboundAddr, str(func(c *Config) *string { return &c.Listen.Inbound })},
		{"LOOPGUARD_LISTEN_ADMIN", "listen.admin", defaultAdminAddr, str(func(c *Config) *string { return &c.Listen.Admin })},
		{"LOOPGUARD_LISTEN_GATEWAY", "listen.gateway", "", str(func(c *Config) *string { return &c.Listen.Gateway })},
		{"LOOPGUARD_LISTEN_TRANSPARENT", "listen.transparent", "", str(func(c *Config) *string { return &c.Listen.Transparent })},
		{"LOOPGUARD_LOG_FORMAT", "log.format", "json", str(func(c *Config) *string { return &c.Log.Format })},
		{"LOOPGUARD_LOG_LEVEL", "log.level", "info", str(func(c *Config) *string { return &c.Log.Level })},
		{"LOOPGUARD_CA_DIR", "ca.dir", defaultCADir, str(func(c *Config) *string { return &c.CA.Dir })},
		{"LOOPGUARD_CA_CERT_FILE", "ca.cert_file", "", str(func(c *Config) *string { return &c.CA.CertFile })},
		{"LOOPGUARD_CA_KEY_FILE", "ca.key_file", "", str(func(c *Config) *string { return &c.CA.KeyFile })},
		{"LOOPGUARD_DEPLOYMENT_KEY_FILE", "ca.deployment_key_file", "", str(func(c *Config) *string { return &c.CA.DeploymentKeyFile })},
		{"LOOPGUARD_OUTBOUND_MAX_BODY_BYTES", "outbound.max_body_bytes", "10MiB", size(func(c *Config) *ByteSize { return &c.Outbound.MaxBodyBytes })},
		{"LOOPGUARD_OUTBOUND_UPSTREAM_CA_FILE", "outbound.upstream_ca_file", "", str(func(c *Config) *string { return &c.Outbound.UpstreamCAFile })},
		{"LOOPGUARD_OUTBOUND_MAX_IDLE_CONNS_PER_HOST", "outbound.max_idle_conns_per_host", "64", num(func(c *Config) *int { return &c.Outbound.MaxIdleConnsPerHost })},
		{"LOOPGUARD_OUTBOUND_ALLOW", "outbound.allow (comma-separated)", "", func(c *Config, v string) error { c.Outbound.Allow = splitList(v); return nil }},
		{"LOOPGUARD_OUTBOUND_TUNNEL", "outbound.tunnel", DefaultOutboundTunnel, str(func(c *Config) *string { return &c.Outbound.Tunnel })},
		{"LOOPGUARD_INBOUND_MAX_BODY_BYTES", "inbound.max_body_bytes", "5MiB", size(func(c *Config) *ByteSize { return &c.Inbound.MaxBodyBytes })},
		{"LOOPGUARD_INBOUND_APP_TIMEOUT", "inbound.app_timeout", "30s", dur(func(c *Config) *Duration { return &c.Inbound.AppTimeout })},
		{"LOOPGUARD_INBOUND_SERVER", "inbound.server", DefaultInboundServer, str(func(c *Config) *string { return &c.Inbound.Server })},
		{"LOOPGUARD_INBOUND_DEDUP_WINDOW", "inbound.dedup_window", "24h", dur(func(c *Config) *Duration { return &c.Inbound.DedupWindow })},
		{"LOOPGUARD_LIMITS_JSON_MAX_DEPTH", "limits.json_max_depth", "256", num(func(c *Config) *int { return &c.Limits.JSONMaxDepth })},
		{"LOOPGUARD_LIMITS_HEADER_READ_TIMEOUT", "limits.header_read_timeout", "10s", dur(func(c *Config) *Duration { return &c.Limits.HeaderReadTimeout })},
		{"LOOPGUARD_LIMITS_BODY_READ_TIMEOUT", "limits.body_read_timeout", "30s", dur(func(c *Config) *Duration { return &c.Limits.BodyReadTimeout })},
		{"LOOPGUARD_LIMITS_IDLE_TIMEOUT", "limits.idle_timeout", "120s", dur(func(c *Config) *Duration { return &c.Limits.IdleTimeout })},
		{"LOOPGUARD_LIMITS_MAX_CONNECTIONS", "limits.max_connections", "1024", num(func(c *Config) *int { return &c.Limits.MaxConnections })},
		{"LOOPGUARD_LIMITS_MAX_INFLIGHT_BODY_BYTES", "limits.max_inflight_body_bytes", "64MiB", size(func(c *Config) *ByteSize { return &c.Limits.MaxInflightBodyBytes })},
		{"LOOPGUARD_LIMITS_RETRY_AFTER", "limits.retry_after", "5s", dur(func(c *Config) *Duration { return &c.Limits.RetryAfter })},
		{"LOOPGUARD_LEDGER_WRITE_TTL", "ledger.write_ttl", "10m", dur(func(c *Config) *Duration { return &c.Ledger.WriteTTL })},
		{"LOOPGUARD_LEDGER_ECHO_WINDOW", "ledger.echo_window", "2m", dur(func(c *Config) *Duration { return &c.Ledger.EchoWindow })},
		{"LOOPGUARD_LEDGER_SEEN_TTL", "ledger.seen_ttl", "24h", dur(func(c *Config) *Duration { return &c.Ledger.SeenTTL })},
		{"LOOPGUARD_LEDGER_MAX_SIZE_MB", "ledger.max_size_mb", "256", num(func(c *Config) *int { return &c.Ledger.MaxSizeMB })},
		{"LOOPGUARD_LOOPS_THRESHOLD", "loops.threshold", "5", num(func(c *Config) *int { return &c.Loops.Threshold })},
		{"LOOPGUARD_LOOPS_WINDOW", "loops.window", "60s", dur(func(c *Config) *Duration { return &c.Loops.Window })},
		{"LOOPGUARD_LOOPS_QUARANTINE", "loops.quarantine", "15m", dur(func(c *Config) *Duration { return &c.Loops.Quarantine })},
		{"LOOPGUARD_SPOOL_DIR", "spool.dir", defaultSpoolDir, str(func(c *Config) *string { return &c.Spool.Dir })},
		{"LOOPGUARD_SPOOL_MAX_BYTES", "spool.max_bytes", "256MiB", size(func(c *Config) *ByteSize { return &c.Spool.MaxBytes })},
		{"LOOPGUARD_SPOOL_MAX_ITEMS", "spool.max_items", "100000", num(func(c *Config) *int { return &c.Spool.MaxItems })},
		{"LOOPGUARD_STORE", "store", "memory", str(func(c *Config) *string { return &c.Store })},
		{"LOOPGUARD_REDIS_URL", "redis.url", "", func(c *Config, v string) error { c.Redis.URL = Secret(v); return nil }},
		{"LOOPGUARD_REDIS_PREFIX", "redis.prefix", "loopguard:", str(func(c *Config) *string { return &c.Redis.Prefix })},
		{"LOOPGUARD_REDIS_TIMEOUT", "redis.timeout", "50ms", dur(func(c *Config) *Duration { return &c.Redis.Timeout })},
		{"LOOPGUARD_ADMIN_TOKEN", "admin.token", "", func(c *Config, v string) error { c.Admin.Token = Secret(v); return nil }},
		{"LOOPGUARD_ADMIN_TOKEN_FILE", "admin.token_file", "", str(func(c *Config) *string { return &c.Admin.TokenFile })},
	}
}

// ProviderEnvVars documents the per-provider overrides; NAME is the provider
// name upper-cased with non-alphanumerics as "_".
func ProviderEnvVars() []EnvVar {
	return []EnvVar{
		{Name: "LOOPGUARD_PROVIDER_<NAME>_SECRET", Field: "providers[].signature.secret"},
		{Name: "LOOPGUARD_PROVIDER_<NAME>_TRUST_UNSIGNED", Field: "providers[].signature.trust_unsigned"},
		{Name: "LOOPGUARD_PROVIDER_<NAME>_INTEGRATION_USERS", Field: "providers[].integration_users (comma-separated)"},
		{Name: "LOOPGUARD_PROVIDER_<NAME>_BASE_URL", Field: "providers[].base_url"},
		{Name: "LOOPGUARD_PROVIDER_<NAME>_HOSTS", Field: "providers[].hosts (comma-separated)"},
		{Name: "LOOPGUARD_PROVIDER_<NAME>_OBSERVE", Field: "providers[].observe"},
	}
}

func applyEnv(c *Config, env LookupEnv) error {
	for _, e := range EnvVars() {
		v, ok := env(e.Name)
		if !ok {
			continue
		}
		if err := e.set(c, v); err != nil {
			return fmt.Errorf("environment %s (%s): %w", e.Name, e.Field, err)
		}
	}
	return nil
}

// envName turns a provider name into its environment form.
func envName(provider string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(provider) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// applyProviderEnv applies LOOPGUARD_PROVIDER_<NAME>_* to one profile.
func applyProviderEnv(p *Profile, env LookupEnv) error {
	pre := EnvPrefix + "PROVIDER_" + envName(p.Name) + "_"
	if v, ok := env(pre + "SECRET"); ok {
		p.Signature.Secret = Secret(v)
	}
	if v, ok := env(pre + "TRUST_UNSIGNED"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("environment %sTRUST_UNSIGNED: want true or false, got %q", pre, v)
		}
		p.Signature.TrustUnsigned = b
	}
	if v, ok := env(pre + "INTEGRATION_USERS"); ok {
		p.IntegrationUsers = splitList(v)
	}
	if v, ok := env(pre + "BASE_URL"); ok {
		p.BaseURL = v
	}
	if v, ok := env(pre + "HOSTS"); ok {
		p.Hosts = splitList(v)
	}
	if v, ok := env(pre + "OBSERVE"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("environment %sOBSERVE: want true or false, got %q", pre, v)
		}
		p.Observe = b
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
