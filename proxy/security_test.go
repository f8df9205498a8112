package proxy

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/proxy/console"
	"github.com/rs/zerolog"
)

// logBuf collects a sidecar's log lines; safe for the servers' goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secureSidecar loads yaml with env, lets mutate change the loaded config,
// and builds and starts a sidecar on loopback ports (unless mutate chose
// other addresses); it returns New's or Start's error.
func secureSidecar(t *testing.T, yaml string, env map[string]string, mutate func(*configs.Loaded)) (*Sidecar, *logBuf, error) {
	t.Helper()
	l, err := configs.LoadBytes("test.yaml", []byte(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	l.Config.Listen.Outbound = "127.0.0.1:0"
	l.Config.Listen.Inbound = "127.0.0.1:0"
	l.Config.Listen.Admin = "127.0.0.1:0"
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	if mutate != nil {
		mutate(l)
	}
	logs := &logBuf{}
	s, err := New(l, zerolog.New(logs))
	if err != nil {
		return nil, logs, err
	}
	if err := s.Start(); err != nil {
		return nil, logs, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, logs, nil
}

// adminURL is the admin listener reached over loopback, whatever it bound.
func adminURL(t *testing.T, s *Sidecar) string {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr("admin"))
	if err != nil {
		t.Fatal(err)
	}
	return "http://127.0.0.1:" + port
}

func adminDo(t *testing.T, method, u string, hdr ...string) (int, string) {
	t.Helper()
	resp, body := mustDo(t, &http.Client{Timeout: 5 * time.Second}, method, u, "", "", hdr...)
	return resp.StatusCode, body
}

const token = "0123456789abcdef-admin-token"

func TestAdminBeyondLoopbackNeedsToken(t *testing.T) {
	t.Parallel()
	// configs.Load refuses it, and so does New for a configuration changed
	// in code afterwards.
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			_, err := configs.LoadBytes("x.yaml", configs.Default(), func(k string) (string, bool) {
				return addr, k == "LOOPGUARD_LISTEN_ADMIN"
			})
			if err == nil || !strings.Contains(err.Error(), "admin.token") {
				t.Fatalf("Load: %v, want an admin.token error", err)
			}
			_, _, err = secureSidecar(t, string(configs.Default()), nil, func(l *configs.Loaded) { l.Config.Listen.Admin = addr })
			if err == nil || !strings.Contains(err.Error(), "admin.token") || !strings.Contains(err.Error(), "LOOPGUARD_ADMIN_TOKEN") {
				t.Fatalf("New: %v, want an error naming admin.token and LOOPGUARD_ADMIN_TOKEN", err)
			}
		})
	}
}

func TestAdminTokenGate(t *testing.T) {
	t.Parallel()
	s, logs, err := secureSidecar(t, string(configs.Default()), map[string]string{"LOOPGUARD_ADMIN_TOKEN": token},
		func(l *configs.Loaded) { l.Config.Listen.Admin = "0.0.0.0:0" })
	if err != nil {
		t.Fatal(err)
	}
	base := adminURL(t, s)
	reset := base + "/breakers/generic/acct/reset"
	// The console's login: the token cookie and a session whose CSRF token
	// a cookie-authenticated change must carry.
	session := AdminCookie + "=" + token + "; " + console.SessionCookie + "=s1"
	csrf := console.CSRFToken(token, "s1")
	cases := []struct {
		name, method, url string
		hdr               []string
		want              int
		body              string
	}{
		{"probe healthz open", "GET", base + "/healthz", nil, 200, "ok"},
		{"probe readyz open", "GET", base + "/readyz", nil, 200, "ready"},
		{"mutating without token", "POST", reset, nil, 401, "unauthorized"},
		{"mutating with another scheme", "POST", reset, []string{"Authorization", "Basic " + token}, 401, "unauthorized"},
		{"mutating with wrong token", "POST", reset, []string{"Authorization", "Bearer wrong"}, 403, "wrong admin token"},
		{"mutating with a token prefix", "POST", reset, []string{"Authorization", "Bearer " + token[:10]}, 403, "wrong admin token"},
		{"mutating with right token", "POST", reset, []string{"Authorization", "Bearer " + token}, 404, "no breaker for generic/acct"},
		{"bearer is case-insensitive", "POST", reset, []string{"Authorization", "bearer " + token}, 404, "no breaker"},
		{"read without token", "GET", base + "/breakers", nil, 401, ""},
		{"metrics without token", "GET", base + "/metrics", nil, 401, ""},
		{"read with right token", "GET", base + "/breakers", []string{"Authorization", "Bearer " + token}, 200, `"breakers"`},
		{"cookie", "GET", base + "/decisions", []string{"Cookie", AdminCookie + "=" + token}, 200, `"decisions"`},
		{"wrong cookie", "GET", base + "/decisions", []string{"Cookie", AdminCookie + "=nope"}, 403, ""},
		{"cookie mutating, same origin", "POST", reset, []string{"Cookie", session, console.CSRFHeader, csrf, "Sec-Fetch-Site", "same-origin"}, 404, "no breaker"},
		{"cookie mutating, no browser headers", "POST", reset, []string{"Cookie", session, console.CSRFHeader, csrf}, 404, "no breaker"},
		{"cookie mutating without the CSRF header", "POST", reset, []string{"Cookie", session, "Sec-Fetch-Site", "same-origin"}, 403, "X-Loopguard-Csrf"},
		{"cookie mutating with another session's CSRF", "POST", reset, []string{"Cookie", session, console.CSRFHeader, console.CSRFToken(token, "other")}, 403, "X-Loopguard-Csrf"},
		{"cookie mutating, cross-site", "POST", reset, []string{"Cookie", AdminCookie + "=" + token, "Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"cookie mutating, foreign origin", "POST", reset, []string{"Cookie", AdminCookie + "=" + token, "Origin", "https://evil.example"}, 403, "cross-site"},
		{"header wins over a wrong cookie", "POST", reset, []string{"Authorization", "Bearer " + token, "Cookie", AdminCookie + "=nope"}, 404, "no breaker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := adminDo(t, c.method, c.url, c.hdr...)
			if code != c.want || !strings.Contains(body, c.body) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", c.method, c.url, code, body, c.want, c.body)
			}
		})
	}
	if resp, _ := mustDo(t, http.DefaultClient, "POST", reset, "", ""); !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: %v", resp.Header)
	}
	// The admin listener bound beyond loopback is logged once, by name;
	// the loopback ones are not.
	out := logs.String()
	if n := strings.Count(out, "listener reachable beyond loopback"); n != 1 || !strings.Contains(out, `"listener":"admin","addr":"0.0.0.0:0"`) {
		t.Fatalf("exposure logged %d times, want once for admin:\n%s", n, out)
	}
	if strings.Contains(out, token) {
		t.Fatal("the log shows the admin token")
	}
}

// TestAdminLoopbackWithoutTokenUnchanged: loopback-only and no token is
// today's behaviour: everything open, nothing logged as exposed.
func TestAdminLoopbackWithoutTokenUnchanged(t *testing.T) {
	t.Parallel()
	s, logs, err := secureSidecar(t, string(configs.Default()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := adminURL(t, s)
	if code, body := adminDo(t, "POST", base+"/breakers/generic/acct/reset"); code != 404 || !strings.Contains(body, "no breaker") {
		t.Fatalf("reset: %d %q", code, body)
	}
	if code, _ := adminDo(t, "GET", base+"/metrics"); code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	if strings.Contains(logs.String(), "beyond loopback") {
		t.Fatalf("loopback listeners logged as exposed:\n%s", logs.String())
	}
}

// TestListenersBeyondLoopbackLogged: each exposed listener, once, by name.
func TestListenersBeyondLoopbackLogged(t *testing.T) {
	t.Parallel()
	_, logs, err := secureSidecar(t, string(configs.Default()), map[string]string{"LOOPGUARD_ADMIN_TOKEN": token}, func(l *configs.Loaded) {
		l.Config.Listen.Outbound, l.Config.Listen.Inbound, l.Config.Listen.Gateway = "0.0.0.0:0", ":0", "[::]:0"
	})
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"listener":"outbound","addr":"0.0.0.0:0"`, `"listener":"inbound","addr":":0"`, `"listener":"gateway","addr":"[::]:0"`} {
		if n := strings.Count(out, want+`,"bound"`); n != 1 {
			t.Errorf("%s logged %d times, want once", want, n)
		}
	}
	if strings.Count(out, "listener reachable beyond loopback") != 3 {
		t.Errorf("want exactly three exposure lines:\n%s", out)
	}
	if !strings.Contains(out, `"level":"warn","listener":"outbound"`) {
		t.Errorf("an open forward proxy is not a warning:\n%s", out)
	}
}

const signedYAML = "providers:\n  - use: github\n"

func TestSignedProviderNeedsSecret(t *testing.T) {
	t.Parallel()
	t.Run("refuses", func(t *testing.T) {
		_, err := configs.LoadBytes("x.yaml", []byte(signedYAML), nil)
		if err == nil || !strings.Contains(err.Error(), "signature.secret: required") {
			t.Fatalf("Load: %v", err)
		}
		// A configuration changed in code is refused by New too.
		_, _, err = secureSidecar(t, signedYAML+"    signature: {secret: s}\n", nil, func(l *configs.Loaded) {
			l.Providers[0].Signature.Secret = ""
		})
		if err == nil || !strings.Contains(err.Error(), "signature.secret: required") {
			t.Fatalf("New: %v", err)
		}
	})
	gauge := func(t *testing.T, s *Sidecar) string {
		t.Helper()
		_, body := adminDo(t, "GET", adminURL(t, s)+"/metrics")
		for line := range strings.SplitSeq(body, "\n") {
			if strings.HasPrefix(line, "loopguard_unsigned_trusted{") {
				return line
			}
		}
		return ""
	}
	t.Run("with secret", func(t *testing.T) {
		s, logs, err := secureSidecar(t, signedYAML, map[string]string{"LOOPGUARD_PROVIDER_GITHUB_SECRET": "s3cret-value"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g := gauge(t, s); g != `loopguard_unsigned_trusted{provider="github"} 0` {
			t.Fatalf("gauge %q", g)
		}
		if strings.Contains(logs.String(), "trust_unsigned") || strings.Contains(logs.String(), "s3cret-value") {
			t.Fatalf("log:\n%s", logs.String())
		}
	})
	t.Run("trust_unsigned", func(t *testing.T) {
		for range 2 { // every start warns
			s, logs, err := secureSidecar(t, signedYAML+"    signature: {trust_unsigned: true}\n", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if g := gauge(t, s); g != `loopguard_unsigned_trusted{provider="github"} 1` {
				t.Fatalf("gauge %q", g)
			}
			if n := strings.Count(logs.String(), `"level":"warn","provider":"github","scheme":"github","message":"signature.trust_unsigned`); n != 1 {
				t.Fatalf("%d trust_unsigned warnings, want 1:\n%s", n, logs.String())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Shutdown(ctx)
			cancel()
		}
	})
}

func TestSidecarDeploymentKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	start := func(env map[string]string) (*Sidecar, *logBuf, error) {
		return secureSidecar(t, string(configs.Default()), env, func(l *configs.Loaded) { l.Config.CA.Dir = dir })
	}
	s, logs, err := start(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, configs.DeploymentKeyFileName)
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("deployment key: %v, mode %v", err, info)
	}
	if !strings.Contains(logs.String(), "generated a new deployment key") {
		t.Fatalf("creation not logged:\n%s", logs.String())
	}
	first, _ := os.ReadFile(path)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = s.Shutdown(ctx)
	cancel()
	_, logs, err = start(nil) // restart: the same key, nothing generated
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) || strings.Contains(logs.String(), "generated a new deployment key") {
		t.Fatal("restart did not reuse the deployment key")
	}
	bad := filepath.Join(t.TempDir(), "short.key")
	must(t, os.WriteFile(bad, []byte("too-short\n"), 0o600))
	_, _, err = start(map[string]string{"LOOPGUARD_DEPLOYMENT_KEY_FILE": bad})
	if err == nil || !strings.Contains(err.Error(), "ca.deployment_key_file") || strings.Contains(err.Error(), "too-short") {
		t.Fatalf("bad mounted key: %v", err)
	}
}

// TestDeploymentKeyGeneratedOnRedisWarns: replicas sharing a Redis must
// share the key, so generating one there is a warning; a mounted one is not.
func TestDeploymentKeyGeneratedOnRedisWarns(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LOOPGUARD_STORE": "redis", "LOOPGUARD_REDIS_URL": redistest.URL(t), "LOOPGUARD_REDIS_PREFIX": redistest.Prefix(t)}
	_, logs, err := secureSidecar(t, string(configs.Default()), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	const warn = `"level":"warn"`
	if !strings.Contains(logs.String(), "generated a new deployment key while state is shared on redis") || !strings.Contains(logs.String(), warn) {
		t.Fatalf("no warning:\n%s", logs.String())
	}
	key := filepath.Join(t.TempDir(), "dk")
	must(t, os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600))
	env["LOOPGUARD_DEPLOYMENT_KEY_FILE"] = key
	_, logs, err = secureSidecar(t, string(configs.Default()), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "deployment key") {
		t.Fatalf("a mounted key logged:\n%s", logs.String())
	}
}
