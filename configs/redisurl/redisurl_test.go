package redisurl_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/configs/redisurl"
	"github.com/loopguard/loopguard/filters/redisconn"
)

// pw is the password in every malformed URL below; no error may contain it.
const pw = "Hunter2pw"

// malformed are URLs both `loopguard validate` and `loopguard run` must
// reject, with the same reason and without echoing the password.
var malformed = []struct {
	name, url, reason string
}{
	{"missing colon after scheme", "redis//:" + pw + "@host", "no scheme"},
	{"a bare password", pw, "no scheme"},
	{"scheme without slashes", "redis:" + pw + "@host:6379", "no scheme"},
	{"missing host", "redis://:" + pw + "@", "missing"},
	{"missing host before db", "redis://:" + pw + "@/0", "missing"},
	{"nothing after the scheme", "redis://", "missing"},
	{"port out of range", "redis://:" + pw + "@host:99999", "invalid port"},
	{"port not a number", "redis://:" + pw + "@host:six", "invalid port"},
	{"empty port", "redis://:" + pw + "@host:", "invalid port"},
	{"unknown scheme", "http://:" + pw + "@host", "unsupported scheme"},
	{"unknown scheme that is the password", pw + "://host", "unsupported scheme"},
	{"db not a number", "redis://:" + pw + "@host/zero", "invalid database"},
	{"negative db", "redis://:" + pw + "@host/-1", "invalid database"},
	{"unescaped slash in the password", "redis://:" + pw[:4] + "/" + pw[4:] + "@host", "has no name"},
	{"unescaped hash in the password", "redis://:" + pw[:4] + "#" + pw[4:] + "@host", "fragment"},
	{"unescaped question mark in the password", "redis://:x?" + pw + "=1@host", "has no name"},
	{"bad percent escape", "redis://u:" + pw + "%zz@host", "malformed URL"},
	{"too many path segments", "redis://:" + pw + "@host/1/2", "too many segments"},
	{"unknown option", "redis://:" + pw + "@host?" + pw + "=1", "unknown URL option"},
	{"bad pool size", "redis://:" + pw + "@host?pool_size=0", "pool_size"},
	{"empty host in a list", "redis://:" + pw + "@a,,b", "missing"},
	{"credentials on a later URL", "redis://a,redis://u:" + pw + "@b", "only the first"},
	{"cluster with a db", "redis://:" + pw + "@a,b/3", "only database 0"},
	{"sentinel without master", "redis-sentinel://:" + pw + "@s1:26379", "names no master"},
	{"fragment", "redis://:" + pw + "@host/0#frag", "fragment"},
}

func TestMalformedRejectedAlikeWithoutSecret(t *testing.T) {
	for _, c := range malformed {
		t.Run(c.name, func(t *testing.T) {
			_, perr := redisurl.Parse(c.url)
			_, cerr := redisconn.ParseURL(c.url) // what `run` uses
			_, verr := configs.LoadBytes("lg.yaml", []byte("store: redis\n"), func(k string) (string, bool) {
				return c.url, k == "LOOPGUARD_REDIS_URL"
			}) // what `validate` (and `run`, first) uses
			for _, err := range []error{perr, cerr, verr} {
				if err == nil {
					t.Fatalf("%q accepted", c.url)
				}
				if !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("error %q, want it to say %q", err, c.reason)
				}
				if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), pw[4:]) || strings.Contains(err.Error(), c.url) {
					t.Fatalf("error leaks the URL or password: %q", err)
				}
				if !strings.Contains(err.Error(), strings.TrimPrefix(perr.Error(), "parse redis URL: ")) {
					t.Fatalf("paths disagree: %q vs %q", err, perr)
				}
			}
			if got := redisurl.Redact(c.url); got != redisurl.Malformed {
				t.Fatalf("Redact = %q, want %q", got, redisurl.Malformed)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, url, addrs string
		want             redisurl.Options
	}{
		{"plain", "redis://localhost:6380", "localhost:6380", redisurl.Options{}},
		{"db", "redis://cache/2", "cache:6379", redisurl.Options{DB: 2}},
		{"password", "redis://:s3cret@cache", "cache:6379", redisurl.Options{Password: "s3cret"}},
		{"escaped password", "redis://:a%2Fb%40c@cache", "cache:6379", redisurl.Options{Password: "a/b@c"}},
		{"TLS user", "rediss://lg:pw@c.example:6380", "c.example:6380", redisurl.Options{Username: "lg", Password: "pw", TLS: true}},
		{"IPv6", "redis://[::1]:7000", "[::1]:7000", redisurl.Options{}},
		{"cluster", "redis://:pw@n1:7000,n2", "n1:7000 n2:6379", redisurl.Options{Password: "pw", Cluster: true}},
		{"sentinel", "redis-sentinel://s1,s2:26380/m/1?sentinel_password=sp", "s1:26379 s2:26380",
			redisurl.Options{MasterName: "m", DB: 1, SentinelPassword: "sp"}},
		{"options", "redis://h?client_name=x&pool_size=3", "h:6379", redisurl.Options{ClientName: "x", PoolSize: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := redisurl.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.Addrs, " "); got != c.addrs {
				t.Fatalf("addrs %q, want %q", got, c.addrs)
			}
			o.Addrs = nil
			if !reflect.DeepEqual(*o, c.want) {
				t.Fatalf("got %+v, want %+v", *o, c.want)
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
		{"redis//:s3cret@host", redisurl.Malformed},
		{"s3cret", redisurl.Malformed},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := redisurl.Redact(c.in); got != c.want || strings.Contains(got, "s3") {
				t.Fatalf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range malformed {
		f.Add(c.url)
	}
	f.Add("redis://:pw@a:1,b:2/0?pool_size=2")
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := redisurl.Parse(raw)
		if err == nil {
			if len(o.Addrs) == 0 {
				t.Fatalf("%q parsed with no address", raw)
			}
			return
		}
		// An error never echoes its input. (Input that is a piece of the
		// static help text, which every "no scheme" error quotes, is not an
		// echo; any other message names no "://", so holds no such input.)
		if len(raw) >= 8 && !strings.Contains(redisurl.Help, raw) && strings.Contains(err.Error(), raw) {
			t.Fatalf("error echoes the input: %q", err)
		}
	})
}
