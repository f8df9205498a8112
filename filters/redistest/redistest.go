// Package redistest gives tests a real Redis: the one named by
// LOOPGUARD_TEST_REDIS_URL (CI starts one for the whole run), or else a
// redis-server started on a free loopback port for one test binary. There
// is deliberately no in-memory imitation: the Redis-backed stores rely on
// Lua, streams, pub/sub and TTL behaviour that only the real server has.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//
// and in tests call URL (skips when no Redis is available) and Prefix (a
// key prefix unique to the test, so tests and packages sharing one server
// never see each other's keys).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable holding the Redis URL for tests.
// Main sets it for the test binary when it starts its own server, so the
// process environment (not a package variable) carries the URL to tests.
const EnvURL = "LOOPGUARD_TEST_REDIS_URL"

// serverBinary is the redis-server executable looked up on PATH.
const serverBinary = "redis-server"

// Main runs m with a Redis available: LOOPGUARD_TEST_REDIS_URL when set,
// otherwise a redis-server it starts (and stops after the run). When
// neither is possible the tests still run and those needing Redis skip.
// It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	// go-redis logs every failed dial through a process-wide logger; the
	// failure tests cause hundreds on purpose.
	redis.SetLogger(quietLogger{})
	if os.Getenv(EnvURL) != "" {
		return m.Run()
	}
	bin, ok := Binary()
	if !ok {
		return m.Run() // URL skips with an explanation
	}
	srv, err := startServer(bin, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: start redis-server for the test run: %v\n", err)
		return 1
	}
	defer func() { _ = srv.stop() }()
	if err := os.Setenv(EnvURL, srv.URL()); err != nil {
		fmt.Fprintf(os.Stderr, "redistest: set %s: %v\n", EnvURL, err)
		return 1
	}
	defer func() { _ = os.Unsetenv(EnvURL) }()
	return m.Run()
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

// Printf discards the line.
func (quietLogger) Printf(context.Context, string, ...any) {}

// URL returns the Redis URL for this test binary, or skips tb when no
// Redis is available (no LOOPGUARD_TEST_REDIS_URL and no redis-server).
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	if _, ok := Binary(); ok {
		tb.Skipf("redistest: %s is unset although redis-server is installed: call redistest.Main from TestMain", EnvURL)
	}
	tb.Skipf("redistest: no Redis for this test: set %s or install redis-server (CI installs it)", EnvURL)
	return ""
}

// Binary returns the path of redis-server, if installed.
func Binary() (string, bool) {
	if p, err := exec.LookPath(serverBinary); err == nil {
		return p, true
	}
	// PATH may lack the sbin directories some images install it in.
	for _, p := range [...]string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// Prefix returns a key prefix unique to this call ("lgtest:<random>:"), so
// tests sharing one server never collide. The keys under it on the shared
// server are deleted when tb ends (spool keys have no TTL).
func Prefix(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("redistest: random prefix: %v", err)
	}
	prefix := "lgtest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		if err := deleteKeys(os.Getenv(EnvURL), prefix); err != nil {
			tb.Logf("redistest: delete test keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// cleanupTimeout bounds the deletion of one test's keys.
const cleanupTimeout = 5 * time.Second

// deleteKeys removes every key under prefix from the server at rawURL (a
// plain redis:// URL; nothing to do when empty).
func deleteKeys(rawURL, prefix string) error {
	if rawURL == "" {
		return nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	it := c.Scan(ctx, 0, prefix+"*", 0).Iterator()
	for it.Next(ctx) {
		if err := c.Del(ctx, it.Val()).Err(); err != nil {
			return err
		}
	}
	return it.Err()
}
