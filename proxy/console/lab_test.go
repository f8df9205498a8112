package console_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/proxy/lab"
)

// testToken is the admin token of the lab's sidecar.
const testToken = "console-test-token-0123456789abcdef"

// consoleLab is the loop lab with one app behind a sidecar whose admin
// listener serves the console: record "c1" loops through a circular field
// mapping (CRM workflow) once a person sets its email, while loop is on;
// any other record's app edit comes back as an echo the fingerprint layer
// drops.
type consoleLab struct {
	*lab.Lab
	admin string // http://host:port of the admin listener
	loop  *atomic.Bool
	http  *http.Client
}

// startConsoleLab starts the lab; token "" leaves the admin API open (on
// loopback).
func startConsoleLab(t *testing.T, token string) *consoleLab {
	t.Helper()
	extra := "loops: {trip_account: 1}\n"
	if token != "" {
		extra += fmt.Sprintf("admin: {token: %q}\n", token)
	}
	loop := &atomic.Bool{}
	loop.Store(true)
	fields := []string{"name", "email"}
	l, err := lab.Start(lab.Config{Format: "generic", Fields: fields, Loopguard: true, HoldPolicy: "hold", Dir: t.TempDir(),
		InMap: map[string]string{"email": "name"}, OutMap: map[string]string{"name": "name"},
		CRM: lab.CRMOptions{Schema: fields, Automation: func(rec map[string]string) []string {
			if !loop.Load() || !strings.HasPrefix(rec["name"], "loop") {
				return nil
			}
			rec["email"] = rec["name"] + "!"
			return []string{"email"}
		}},
		// One looping record trips its account's breaker, so the breakers
		// page has an open breaker to reset.
		Extra: extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	cl := &consoleLab{Lab: l, admin: "http://" + l.Sides[0].LG.Addr("admin"), loop: loop,
		http: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return cl
}

// api calls the admin API as curl would, with token ("" for none).
func (cl *consoleLab) api(t *testing.T, method, path, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, cl.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// quarantined lists the quarantined record keys.
func (cl *consoleLab) quarantined(t *testing.T) []string {
	var q struct {
		Quarantined []struct {
			Key   string          `json:"key"`
			Parts json.RawMessage `json:"Key"` // GET /quarantine sends both
		} `json:"quarantined"`
	}
	cl.api(t, "GET", "/quarantine", testToken, &q)
	var keys []string
	for _, e := range q.Quarantined {
		keys = append(keys, e.Key)
	}
	return keys
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetters lists the dead letters' ids, oldest first.
func (cl *consoleLab) deadLetters(t *testing.T, token string) []string {
	var dl struct {
		Items []struct {
			ID json.Number `json:"id"`
		}
	}
	if code := cl.api(t, "GET", "/spool/dead", token, &dl); code != http.StatusOK {
		t.Fatalf("GET /spool/dead: %d", code)
	}
	var ids []string
	for _, d := range dl.Items {
		ids = append(ids, d.ID.String())
	}
	return ids
}

// spoolItems is the number of held deliveries.
func (cl *consoleLab) spoolItems(t *testing.T, token string) int {
	var sp struct{ Items int }
	cl.api(t, "GET", "/spool", token, &sp)
	return sp.Items
}
