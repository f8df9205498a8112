package configs

import (
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/tagging/jsonlimit"
)

func TestLimitsDefaults(t *testing.T) {
	l, err := LoadBytes(DefaultFile, Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{
		JSONMaxDepth: 256, HeaderReadTimeout: Duration(10 * time.Second), BodyReadTimeout: Duration(30 * time.Second),
		IdleTimeout: Duration(120 * time.Second), MaxConnections: 1024, MaxInflightBodyBytes: 64 << 20, RetryAfter: Duration(5 * time.Second),
	}
	if l.Config.Limits != want {
		t.Fatalf("limits defaults %+v, want %+v", l.Config.Limits, want)
	}
	if DefaultJSONMaxDepth != jsonlimit.DefaultMaxDepth {
		t.Fatalf("DefaultJSONMaxDepth %d and jsonlimit.DefaultMaxDepth %d differ", DefaultJSONMaxDepth, jsonlimit.DefaultMaxDepth)
	}
}

func TestLimitsFromFileAndEnv(t *testing.T) {
	yaml := "providers: [{use: generic}]\nlimits: {json_max_depth: 64, body_read_timeout: 5s, header_read_timeout: 2s, max_connections: 10}\n"
	l, err := LoadBytes("x.yaml", []byte(yaml), env(map[string]string{
		"LOOPGUARD_LIMITS_MAX_INFLIGHT_BODY_BYTES": "32MiB", "LOOPGUARD_LIMITS_IDLE_TIMEOUT": "1m", "LOOPGUARD_LIMITS_RETRY_AFTER": "2s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := l.Config.Limits
	if got.JSONMaxDepth != 64 || got.BodyReadTimeout.D() != 5*time.Second || got.HeaderReadTimeout.D() != 2*time.Second ||
		got.MaxConnections != 10 || got.MaxInflightBodyBytes != 32<<20 || got.IdleTimeout.D() != time.Minute || got.RetryAfter.D() != 2*time.Second {
		t.Fatalf("limits %+v", got)
	}
}

func TestLimitsInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"depth too large", "limits: {json_max_depth: 20000}", "limits.json_max_depth"},
		{"negative depth", "limits: {json_max_depth: -1}", "limits.json_max_depth"},
		{"negative timeout", "limits: {body_read_timeout: -1s}", "limits.body_read_timeout"},
		{"header longer than body", "limits: {header_read_timeout: 1m, body_read_timeout: 30s}", "limits.header_read_timeout"},
		{"no connections", "limits: {max_connections: -5}", "limits.max_connections"},
		{"in-flight under a body", "limits: {max_inflight_body_bytes: 1MiB}", "limits.max_inflight_body_bytes"},
		{"misspelled key", "limits: {max_conections: 5}", "max_conections"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes("x.yaml", []byte("providers: [{use: generic}]\n"+tc.yaml+"\n"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %s", err, tc.want)
			}
		})
	}
}
