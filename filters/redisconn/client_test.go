package redisconn

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name     string
		url      string
		addrs    string
		user     string
		pass     string
		db       int
		master   string
		cluster  bool
		tls      bool
		sentPass string
		wantErr  string
	}{
		{name: "plain", url: "redis://localhost:6380", addrs: "localhost:6380"},
		{name: "default port and db", url: "redis://cache/2", addrs: "cache:6379", db: 2},
		{name: "password only", url: "redis://:s3cret@cache", addrs: "cache:6379", pass: "s3cret"},
		{name: "ACL user", url: "redis://lg:s3cret@cache:6379/0", addrs: "cache:6379", user: "lg", pass: "s3cret"},
		{name: "TLS", url: "rediss://lg:pw@cache.example:6380", addrs: "cache.example:6380", user: "lg", pass: "pw", tls: true},
		{name: "IPv6", url: "redis://[::1]:7000", addrs: "[::1]:7000"},
		{name: "cluster seed list", url: "redis://:pw@n1:7000,n2:7001,n3", addrs: "n1:7000 n2:7001 n3:6379", pass: "pw", cluster: true},
		{name: "cluster as a list of URLs", url: "rediss://:pw@n1:7000,rediss://n2:7001", addrs: "n1:7000 n2:7001", pass: "pw", cluster: true, tls: true},
		{name: "cluster behind one endpoint", url: "redis://cfg.example:6379?cluster=true", addrs: "cfg.example:6379", cluster: true},
		{name: "sentinel", url: "redis-sentinel://:pw@s1,s2:26380/mymaster/1?sentinel_password=sp", addrs: "s1:26379 s2:26380", pass: "pw", db: 1, master: "mymaster", sentPass: "sp"},
		{name: "sentinel over TLS", url: "rediss-sentinel://s1/mymaster", addrs: "s1:26379", master: "mymaster", tls: true},
		{name: "sentinel plus form", url: "redis+sentinel://s1:26379/m", addrs: "s1:26379", master: "m"},
		{name: "sentinel by option", url: "redis://s1:26379?master_name=m", addrs: "s1:26379", master: "m"},
		{name: "empty", url: "  ", wantErr: "empty"},
		{name: "wrong scheme", url: "http://:pw@x", wantErr: "unsupported scheme"},
		{name: "unknown option", url: "redis://:pw@x?read_timeout=1s", wantErr: "unknown URL option"},
		{name: "bad db", url: "redis://x/abc", wantErr: "invalid database"},
		{name: "cluster with a db", url: "redis://a,b/3", wantErr: "only database 0"},
		{name: "sentinel without master", url: "redis-sentinel://s1:26379", wantErr: "names no master"},
		{name: "bad port", url: "redis://a:1,b:99999", wantErr: "invalid port"},
		{name: "empty host in list", url: "redis://a,,b", wantErr: "empty host"},
		{name: "credentials on a later URL", url: "redis://a,redis://u:pw@b", wantErr: "only the first"},
		{name: "bad pool size", url: "redis://a?pool_size=0", wantErr: "pool_size"},
		{name: "bad cluster flag", url: "redis://a?cluster=maybe", wantErr: "cluster"},
		{name: "malformed escape", url: "redis://u:se%zzcret@host", wantErr: "malformed URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := ParseURL(c.url)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ParseURL(%q) error %v, want containing %q", c.url, err, c.wantErr)
				}
				for _, secret := range []string{"pw", "se%zzcret", "cret"} {
					if strings.Contains(err.Error(), ":"+secret+"@") || strings.Contains(err.Error(), secret+"@") {
						t.Fatalf("error leaks the password: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", c.url, err)
			}
			if got := strings.Join(o.Addrs, " "); got != c.addrs {
				t.Fatalf("addrs %q, want %q", got, c.addrs)
			}
			if o.Username != c.user || o.Password != c.pass || o.DB != c.db || o.MasterName != c.master ||
				o.IsClusterMode != c.cluster || (o.TLSConfig != nil) != c.tls || o.SentinelPassword != c.sentPass {
				t.Fatalf("options user %q pass %q db %d master %q cluster %v tls %v sentinel pass %q",
					o.Username, o.Password, o.DB, o.MasterName, o.IsClusterMode, o.TLSConfig != nil, o.SentinelPassword)
			}
			if !o.ContextTimeoutEnabled || o.DialTimeout != DefaultDialTimeout || o.ReadTimeout != DefaultSocketTimeout ||
				o.DialerRetries != dialerRetries || o.ClientName != clientName {
				t.Fatalf("client defaults not applied: %+v", o)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"redis://localhost:6379", "redis://localhost:6379"},
		{"redis://:s3cret@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"rediss://lg:s3cret@a:1,b:2", "rediss://lg:xxxxx@a:1,b:2"},
		{"redis://u:s3cret@a:1,redis://b:2", "redis://u:xxxxx@a:1,redis://b:2"},
		{"redis-sentinel://s1/m?sentinel_password=s3cret", "redis-sentinel://s1/m?sentinel_password=xxxxx"},
		{"redis://u:s3%zzcret@host:1?sentinel_password=s3cret", "[malformed redis URL]"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got := Redact(c.in)
			if got != c.want || strings.Contains(got, "s3") {
				t.Fatalf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestHashID(t *testing.T) {
	a, b := HashID("hubspot|contacts|1"), HashID("hubspot|contacts|2")
	if a == b || len(a) != 22 || a != HashID("hubspot|contacts|1") || strings.ContainsAny(a, "+/=|") {
		t.Fatalf("HashID: %q %q", a, b)
	}
	// Key names of a running deployment depend on these bytes: a change
	// would orphan every key in a shared Redis.
	for in, want := range map[string]string{
		"hubspot|contacts|1": "LOW6oRQwv3RO1_9p-FVH4g", // first 16 bytes of SHA-256 2ce5baa1…
		"":                   "47DEQpj8HBSa-_TImW-5JA",
	} {
		if got := HashID(in); got != want {
			t.Errorf("HashID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewClientDoesNotConnect: a Redis that is down at startup is not an
// error of NewClient (the stores report it per operation and recover), and
// a URL that does not parse is, without the URL in the error.
func TestNewClientDoesNotConnect(t *testing.T) {
	c, err := NewClient("redis://:pw@127.0.0.1:1/0")
	if err != nil {
		t.Fatalf("NewClient for an unreachable Redis: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = NewClient("redis://:s3cret@host:99999")
	if err == nil || !strings.HasPrefix(err.Error(), "redisconn: ") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("NewClient(bad URL) error %v, want a redisconn error without the password", err)
	}
}
