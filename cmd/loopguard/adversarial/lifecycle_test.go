package adversarial

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// genericEvent is a one-event delivery of the generic profile.
func genericEvent(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_human","record":{"id":"r-%s","name":"N"}}`, id, id))
}

// TestSIGTERMInFlight: SIGTERM while 200 deliveries wait on the app. The
// listener stops accepting, every delivery in flight still gets the app's
// answer, the app has all 200, and loopguard exits 0.
func TestSIGTERMInFlight(t *testing.T) {
	const n = 200
	app := startApp(t, "")
	lg := startLoopguard(t, Options{Config: fmt.Sprintf("app_url: http://%s\nshutdown_grace: 20s\nproviders:\n  - use: generic\n", app.Addr)})
	app.Hold()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = deliver(t, lg, "/webhooks/generic", "application/json", genericEvent(fmt.Sprintf("term-%03d", i)))
		}()
	}
	waitFor(t, 15*time.Second, fmt.Sprintf("%d deliveries waiting on the app", n), func() bool { return app.InFlight.Load() == n })
	lg.Signal(t, syscall.SIGTERM)
	waitFor(t, 10*time.Second, "the inbound listener closed", func() bool {
		c, err := net.DialTimeout("tcp", lg.Inbound, 200*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	app.Release()
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("term-%03d answered %d, want the app's 200", i, s)
		}
	}
	if got := len(app.Received()); got != n {
		t.Errorf("app received %d deliveries, want %d", got, n)
	}
	if err := lg.Wait(t, 25*time.Second); err != nil {
		t.Errorf("loopguard exit after SIGTERM: %v\n%s", err, tail(lg.Log(), 20))
	}
}

// TestKillWithHeldDeliveries: a provider that never redelivers posts 200
// deliveries while the app is down; each is answered 200 "held" and
// spooled. loopguard is killed with SIGKILL, the app comes up, a new
// loopguard on the same spool replays all 200, in order.
func TestKillWithHeldDeliveries(t *testing.T) {
	const n = 200
	appAddr := freeAddr(t) // nothing listens: the app is down
	lg := startLoopguard(t, Options{Config: fmt.Sprintf(`app_url: http://%s
spool: {dir: "{{dir}}/spool", replay_interval: 100ms}
providers:
  - use: generic
    hold_policy: hold
`, appAddr)})
	var want []string
	for i := range n {
		id := fmt.Sprintf("held-%03d", i)
		want = append(want, id)
		status, _, body := deliver(t, lg, "/webhooks/generic", "application/json", genericEvent(id))
		if status != 200 || !strings.Contains(body, "held") {
			t.Fatalf("%s with the app down: %d %s", id, status, body)
		}
	}
	lg.Signal(t, syscall.SIGKILL)
	_ = lg.Wait(t, 10*time.Second)
	app := startApp(t, appAddr)
	lg.Restart(t)
	waitFor(t, 60*time.Second, fmt.Sprintf("all %d held deliveries replayed", n), func() bool { return len(app.Received()) >= n })
	if got := strings.Join(app.IDs(), ","); got != strings.Join(want, ",") {
		t.Fatalf("replayed after kill -9 and restart, in this order:\n%s\nwant\n%s", got, strings.Join(want, ","))
	}
}
