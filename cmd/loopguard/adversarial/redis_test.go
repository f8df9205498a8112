package adversarial

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/filters/redistest"
)

// TestRedisDownAndSlow: with the shared store on Redis, Redis stopped and
// then frozen (SIGSTOP: a hung or very slow server, past redis.timeout)
// while deliveries arrive. Every delivery still gets the app's answer
// promptly (layers that need the store abstain and count a doubt), the app
// receives every one, and /readyz says "degraded" rather than failing.
// It needs redis-server (it stops and freezes its own); without one it
// skips.
func TestRedisDownAndSlow(t *testing.T) {
	srv := redistest.Start(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := startApp(t, "")
	lg := startLoopguard(t, Options{Config: fmt.Sprintf(`app_url: http://%s
store: redis
redis: {url: %q, prefix: "adv%s:", timeout: 50ms}
providers:
  - use: generic
`, app.Addr, srv.URL(), hex.EncodeToString(b[:]))})
	n := 0
	batch := func(phase string) {
		t.Helper()
		for range 10 {
			id := fmt.Sprintf("%s-%02d", phase, n)
			n++
			start := time.Now()
			status, _, _ := deliver(t, lg, "/webhooks/generic", "application/json", genericEvent(id))
			if took := time.Since(start); status != 200 || took > 5*time.Second {
				t.Errorf("%s: answered %d after %s, want the app's 200 promptly", id, status, took)
			}
		}
		if got := len(app.Received()); got != n {
			t.Fatalf("%s: app received %d of %d deliveries", phase, got, n)
		}
	}
	batch("up")
	srv.Stop(t)
	batch("down")
	if got := lg.Metric(t, "loopguard_doubts_total", `reason="store_error"`); got == 0 {
		t.Error("no store_error doubts counted while Redis was down")
	}
	waitFor(t, 10*time.Second, "/readyz degraded while Redis is down", func() bool {
		return strings.HasPrefix(readyz(t, lg), "200 degraded")
	})
	srv.Restart(t)
	waitFor(t, 15*time.Second, "/readyz ready once Redis is back", func() bool { return readyz(t, lg) == "200 ready" })
	batch("back")
	srv.Pause(t)
	batch("frozen")
	srv.Resume(t)
	batch("resumed")
}

// readyz returns "<status> <first line>" of /readyz.
func readyz(t testing.TB, lg *Loopguard) string {
	t.Helper()
	resp, err := http.Get("http://" + lg.Admin + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}
