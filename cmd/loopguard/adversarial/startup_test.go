package adversarial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exitTimeout bounds a loopguard command expected to exit by itself.
const exitTimeout = 20 * time.Second

// runExit runs `loopguard <cmd> --config` on config (with free loopback
// listeners and a CA and spool in a temporary directory) and env, expecting
// it to exit by itself; it returns the exit code and everything printed.
func runExit(t *testing.T, cmd, config string, env ...string) (int, string) {
	t.Helper()
	if binErr != nil {
		t.Skipf("no loopguard binary: %v", binErr)
	}
	dir := t.TempDir()
	head := fmt.Sprintf("listen: {outbound: %q, inbound: %q, admin: %q}\nca: {dir: %q}\nspool: {dir: %q}\n",
		freeAddr(t), freeAddr(t), freeAddr(t), filepath.Join(dir, "ca"), filepath.Join(dir, "spool"))
	path := filepath.Join(dir, "loopguard.yaml")
	if err := os.WriteFile(path, []byte(head+config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), exitTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, bin, cmd, "--config", path)
	c.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("loopguard %s still running after %s:\n%s", cmd, exitTimeout, out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatalf("loopguard %s: %v", cmd, err)
	}
	return 0, out.String()
}

// TestSignedProviderNeedsSecretProcess is finding 6 of issue 14 against
// the process: GitHub without its secret → run exits non-zero naming
// signature.secret; with signature.trust_unsigned it starts, warns and
// sets loopguard_unsigned_trusted, and an unsigned delivery reaches the app.
func TestSignedProviderNeedsSecretProcess(t *testing.T) {
	code, out := runExit(t, "run", "app_url: http://127.0.0.1:1\nproviders:\n  - use: github\n")
	if code == 0 || !strings.Contains(out, "signature.secret") {
		t.Fatalf("run without the GitHub secret: exit %d\n%s", code, out)
	}
	app := startApp(t, "")
	lg := startLoopguard(t, Options{Config: fmt.Sprintf("app_url: http://%s\nproviders:\n  - use: github\n    signature: {trust_unsigned: true}\n", app.Addr)})
	if lg.LogLines(`"level":"warn"`, "signature.trust_unsigned") != 1 {
		t.Errorf("no trust_unsigned warning at start:\n%s", tail(lg.Log(), 20))
	}
	if g := lg.Metric(t, "loopguard_unsigned_trusted", `provider="github"`); g != 1 {
		t.Errorf("loopguard_unsigned_trusted{provider=github} = %v, want 1", g)
	}
	body := ghIssue("unsigned", "octocat")
	status, _, _ := deliver(t, lg, "/webhooks/github", "application/json", []byte(body), "X-GitHub-Event", "issues", "X-GitHub-Delivery", "u-1")
	if got := app.Received(); status != http.StatusOK || len(got) != 1 || string(got[0].Body) != body {
		t.Fatalf("unsigned delivery with trust_unsigned: %d, the app received %d", status, len(got))
	}
}

// TestAdminBeyondLoopbackProcess: the admin listener on 0.0.0.0 without
// admin.token → run refuses to start, naming admin.token; with a token it
// starts, probes stay open, and a mutating call without the token is 401,
// with a wrong one 403, with the right one reaches the handler.
func TestAdminBeyondLoopbackProcess(t *testing.T) {
	const token = "0123456789abcdef-admin-token"
	code, out := runExit(t, "run", "providers:\n  - use: generic\n", "LOOPGUARD_LISTEN_ADMIN=0.0.0.0:"+strings.Split(freeAddr(t), ":")[1])
	if code == 0 || !strings.Contains(out, "admin.token") {
		t.Fatalf("run with admin on 0.0.0.0 and no token: exit %d\n%s", code, out)
	}
	lg := startLoopguard(t, Options{Config: "providers:\n  - use: generic\n", AdminAllInterfaces: true, Env: []string{"LOOPGUARD_ADMIN_TOKEN=" + token}})
	if strings.Contains(lg.Log(), token) {
		t.Fatal("the log shows the admin token")
	}
	reset := "http://" + lg.Admin + "/breakers/generic/acct/reset"
	for _, c := range []struct {
		name, method, url, auth string
		want                    int
	}{
		{"probe", http.MethodGet, "http://" + lg.Admin + "/healthz", "", 200},
		{"mutating without token", http.MethodPost, reset, "", 401},
		{"mutating with a wrong token", http.MethodPost, reset, "Bearer wrong", 403},
		{"mutating with the token", http.MethodPost, reset, "Bearer " + token, 404}, // no such breaker: past the gate
	} {
		req, _ := http.NewRequest(c.method, c.url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := providerClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

// TestMalformedRedisURLProcess is finding 8's Redis URLs against the
// process: validate and run both reject a malformed URL holding a
// password, with the same message, and neither prints the password.
func TestMalformedRedisURLProcess(t *testing.T) {
	const pw = "Hunter2-very-secret-pw"
	for _, u := range []string{"redis//:" + pw + "@127.0.0.1:6379", pw, "redis://:" + pw + "@127.0.0.1:99999"} {
		env := []string{"LOOPGUARD_STORE=redis", "LOOPGUARD_REDIS_URL=" + u}
		vcode, vout := runExit(t, "validate", "", env...)
		rcode, rout := runExit(t, "run", "", env...)
		for _, out := range []string{vout, rout} {
			if strings.Contains(out, pw) || strings.Contains(out, pw[7:]) {
				t.Fatalf("output shows the password:\n%s", out)
			}
		}
		// Each run has its own configuration file: compare after its name.
		_, vmsg, _ := strings.Cut(strings.TrimSpace(vout), "loopguard.yaml: ")
		_, rmsg, _ := strings.Cut(strings.TrimSpace(rout), "loopguard.yaml: ")
		if vcode == 0 || rcode == 0 || vmsg != rmsg || !strings.Contains(vmsg, "redis.url") {
			t.Errorf("validate %d %q\nrun %d %q\nwant both to fail alike, naming redis.url", vcode, vout, rcode, rout)
		}
	}
}
