package adversarial

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// reasonHeader is the header the outbound proxy names a refusal's reason in.
const reasonHeader = "X-Loopguard-Egress-Refused"

// refusal is what the outbound proxy answered a request through it.
type refusal struct {
	status       int
	reason, body string
}

// wantRefused checks a 403 with the reason in the header and the body.
func wantRefused(t *testing.T, what string, a refusal, reason string) {
	t.Helper()
	if a.status != http.StatusForbidden || a.reason != reason || !strings.Contains(a.body, "refused: "+reason) {
		t.Errorf("%s through the outbound proxy: %d %q %q; want 403 %s", what, a.status, a.reason, a.body, reason)
	}
}

// connectThrough sends CONNECT target to the outbound proxy on a raw
// connection and returns its answer.
func connectThrough(t *testing.T, lg *Loopguard, target string) refusal {
	t.Helper()
	c, err := net.DialTimeout("tcp", lg.Outbound, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return refusal{resp.StatusCode, resp.Header.Get(reasonHeader), string(b)}
}

// getThrough sends a plain-HTTP GET through the outbound proxy with a Go
// client whose Transport.Proxy is set explicitly.
func getThrough(t *testing.T, lg *Loopguard, u string) refusal {
	t.Helper()
	pu, _ := url.Parse("http://" + lg.Outbound)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s through the proxy: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return refusal{resp.StatusCode, resp.Header.Get(reasonHeader), string(b)}
}

// TestEgressRefusals is finding 4 of issue 14 against the process: CONNECT
// and plain HTTP through the outbound proxy to loopguard's admin and
// inbound listeners are 403 own_listener, a Go client tunnelling HTTPS to
// the admin port sees Forbidden, curl -x is refused alike, and
// 169.254.169.254 is 403 link_local, answered at once (refused before any
// dial). Nothing reaches the app; each refusal is counted.
func TestEgressRefusals(t *testing.T) {
	app := startApp(t, "")
	lg := startLoopguard(t, Options{Config: fmt.Sprintf("app_url: http://%s\nproviders:\n  - use: generic\n", app.Addr)})
	n := 0
	for name, addr := range map[string]string{"admin": lg.Admin, "inbound": lg.Inbound} {
		wantRefused(t, "CONNECT "+name, connectThrough(t, lg, addr), "own_listener")
		wantRefused(t, "GET "+name, getThrough(t, lg, "http://"+addr+"/metrics"), "own_listener")
		n += 2
	}
	pu, _ := url.Parse("http://" + lg.Outbound)
	tunnel := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	if _, err := tunnel.Get("https://" + lg.Admin + "/metrics"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("HTTPS to the admin port through the proxy: %v; want Forbidden", err)
	}
	n++
	if curl, err := exec.LookPath("curl"); err == nil {
		for _, args := range [][]string{
			{"-x", "http://" + lg.Outbound, "http://" + lg.Admin + "/metrics"},
			{"-x", "http://" + lg.Outbound, "-p", "http://" + lg.Inbound + "/webhooks/generic"},
		} {
			out, _ := exec.Command(curl, append([]string{"-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...).CombinedOutput()
			if !strings.Contains(string(out), "403") {
				t.Errorf("curl %v: %s; want 403", args, out)
			}
			n++
		}
	} else {
		t.Log("curl not installed: the curl -x cases are skipped")
	}
	start := time.Now()
	wantRefused(t, "CONNECT 169.254.169.254", connectThrough(t, lg, "169.254.169.254:80"), "link_local")
	wantRefused(t, "GET 169.254.169.254", getThrough(t, lg, "http://169.254.169.254/latest/meta-data/"), "link_local")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("metadata refusals took %s: a dial was attempted", d)
	}
	if got := lg.Metric(t, "loopguard_egress_denied_total", `reason="own_listener"`); got != float64(n) {
		t.Errorf("loopguard_egress_denied_total{reason=own_listener} = %v, want %d", got, n)
	}
	if got := lg.Metric(t, "loopguard_egress_denied_total", `reason="link_local"`); got != 2 {
		t.Errorf("loopguard_egress_denied_total{reason=link_local} = %v, want 2", got)
	}
	if got := len(app.Received()); got != 0 {
		t.Errorf("the app received %d requests through refused tunnels", got)
	}
}
