package adversarial

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxRSS is issue 14's bound: loopguard's peak RSS (VmHWM) over the whole
// resource suite.
const maxRSS = 256 << 20

// resourceTimeouts are the suite's limits: the defaults' shapes, shorter,
// so a stalled client is cut within seconds (body_read_timeout 30s in
// production). Connections and in-flight bytes keep their defaults (1024
// per listener, 64 MiB).
const resourceTimeouts = `limits:
  header_read_timeout: 2s
  body_read_timeout: 3s
  idle_timeout: 5s
`

// resourceConfig has a "crm" provider that redelivers (hold_policy
// reject, webhooks at /webhooks/generic, writes and a read route on the
// fake API) and a "keeper" that never redelivers (hold, /webhooks/keeper);
// limits is resourceTimeouts or "" (the defaults).
func resourceConfig(app *App, api *API, limits string) string {
	return strings.NewReplacer("{{app}}", app.Addr, "{{api_ca}}", api.CAFile, "{{api_host}}", api.Host, "{{api_url}}", api.URL).Replace(`app_url: http://{{app}}
log: {level: info}
outbound:
  upstream_ca_file: "{{api_ca}}"
` + limits + `providers:
  - use: generic
    name: crm
    hosts: ["{{api_host}}"]
    base_url: "{{api_url}}"
    reads:
      - path: /v1/{object}
        list: results
        record_id: id
  - use: generic
    name: keeper
    hold_policy: hold
    hosts: [keeper.invalid]
    webhooks:
      - path: /webhooks/keeper
        event_id: [id]
        record_id: record.id
        object_type: object
        record: record
`)
}

// TestResources runs the resource cases in order against one loopguard
// process (with resourceTimeouts) and checks its peak RSS after each and at
// the end.
func TestResources(t *testing.T) {
	app := startApp(t, "")
	api := startAPI(t)
	lg := startLoopguard(t, Options{Config: resourceConfig(app, api, resourceTimeouts)})
	pid := lg.PID()
	cases := []struct {
		name string
		run  func(t *testing.T, lg *Loopguard, app *App, api *API)
	}{
		{"deep JSON", caseDeepJSON},
		{"oversized bodies", caseOversized},
		{"malformed bodies", caseMalformed},
		{"1000 never-ending chunked bodies", caseNeverEnding},
		{"slowloris headers", caseSlowloris},
		{"5000 idle connections", caseIdleFlood},
	}
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) { c.run(t, lg, app, api) })
		cur, peak := rss(t, pid)
		t.Logf("after %q: loopguard RSS %d MiB, peak %d MiB", c.name, cur>>20, peak>>20)
		if !ok {
			t.Logf("loopguard log tail:\n%s", tail(lg.Log(), 40))
		}
	}
	if _, peak := rss(t, pid); peak > maxRSS {
		t.Errorf("loopguard peak RSS %d MiB over the suite, want < %d MiB", peak>>20, maxRSS>>20)
	}
}

// TestConcurrentBigDeliveries runs caseConcurrentBig on a loopguard with
// the default limits: 500 MB arriving at once on a shared 2-core machine
// (slower still under -race) takes longer than resourceTimeouts' 3 s body
// deadline, and a cut upload (408) is not what this case is about.
func TestConcurrentBigDeliveries(t *testing.T) {
	app := startApp(t, "")
	api := startAPI(t)
	lg := startLoopguard(t, Options{Config: resourceConfig(app, api, "")})
	caseConcurrentBig(t, lg, app, api)
	cur, peak := rss(t, lg.PID())
	t.Logf("loopguard RSS %d MiB, peak %d MiB", cur>>20, peak>>20)
	if peak > maxRSS {
		t.Errorf("loopguard peak RSS %d MiB, want < %d MiB", peak>>20, maxRSS>>20)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// caseDeepJSON: 5 MiB of "[" as a webhook (once, then four at once), a
// write and a poll response: each reaches its recipient untouched, and is
// counted too_deep (it took the old validator to ~1 GB, 2.4 GB for four).
func caseDeepJSON(t *testing.T, lg *Loopguard, app *App, api *API) {
	deep := bytes.Repeat([]byte("["), 5<<20-1) // under inbound.max_body_bytes: buffered, then refused by depth
	sum := sha256.Sum256(deep)
	n0 := len(app.Received())
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	for i := range 5 {
		if i == 0 {
			statuses[0], _, _ = deliver(t, lg, "/webhooks/generic", "application/json", deep)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = deliver(t, lg, "/webhooks/generic", "application/json", deep)
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("deep webhook %d answered %d, want the app's 200", i, s)
		}
	}
	got := app.Received()[n0:]
	if len(got) != 5 {
		t.Fatalf("app received %d deep webhooks, want 5", len(got))
	}
	for _, r := range got {
		if r.Sum != sum {
			t.Fatalf("app received a changed deep webhook (%d bytes)", r.Len)
		}
	}
	c := appClient(t, lg)
	resp, err := c.Post(api.URL+"/v1/contacts", "application/json", bytes.NewReader(deep))
	if err != nil {
		t.Fatalf("deep write: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || api.Received()[len(api.Received())-1].Sum != sum {
		t.Fatalf("deep write answered %d; the API must get it untouched", resp.StatusCode)
	}
	api.Answer.Store(&deep)
	defer api.Answer.Store(nil)
	resp, err = c.Get(api.URL + "/v1/contacts")
	if err != nil {
		t.Fatalf("deep poll: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || sha256.Sum256(body) != sum {
		t.Fatalf("deep poll answered %d with %d bytes; the app must get it untouched", resp.StatusCode, len(body))
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"loopguard_inbound_deliveries_total", []string{`provider="crm"`, `outcome="too_deep"`}, 5},
		{"loopguard_outbound_untagged_total", []string{`provider="crm"`, `reason="too_deep"`}, 1},
		{"loopguard_pull_responses_total", []string{`provider="crm"`, `outcome="untouched_too_deep"`}, 1},
	} {
		if got := lg.Metric(t, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

// caseOversized: deliveries over inbound.max_body_bytes (5 MiB) are
// forwarded untouched, for both kinds of provider.
func caseOversized(t *testing.T, lg *Loopguard, app *App, _ *API) {
	for _, path := range []string{"/webhooks/generic", "/webhooks/keeper"} {
		b := bigEvent("over"+path, 6<<20)
		n0 := len(app.Received())
		status, _ := deliverBig(t, lg, path, b)
		got := app.Received()[n0:]
		if status != 200 || len(got) != 1 || got[0].Sum != b.sum() {
			t.Fatalf("%s: oversized answered %d, app got %d; want the app's 200 and the body untouched", path, status, len(got))
		}
	}
	if got := lg.Metric(t, "loopguard_inbound_deliveries_total", `outcome="oversize"`); got != 2 {
		t.Errorf("oversize deliveries counted %v, want 2", got)
	}
}

// caseMalformed: bodies that are not a delivery pass to the app untouched
// and the provider gets the app's answer.
func caseMalformed(t *testing.T, lg *Loopguard, app *App, _ *API) {
	bodies := []struct{ ct, body string }{
		{"application/json", `{"id":"m1","object":"contacts",`},
		{"application/json", `not json at all`},
		{"application/json", `[1,2,3]`},
		{"application/json", "\xff\xfe{\"id\":1}"},
		{"application/x-www-form-urlencoded", "id=m5&object=contacts"},
		{"application/json", ""},
	}
	for _, b := range bodies {
		n0 := len(app.Received())
		status, _, _ := deliver(t, lg, "/webhooks/generic", b.ct, []byte(b.body))
		got := app.Received()[n0:]
		if status != 200 || len(got) != 1 || string(got[0].Body) != b.body {
			t.Errorf("%q: answered %d, app got %d requests; want the app's 200 and the body untouched", b.body, status, len(got))
		}
	}
	if got := lg.Metric(t, "loopguard_inbound_deliveries_total", `provider="crm"`, `outcome="malformed"`); got < 5 {
		t.Errorf("malformed deliveries counted %v, want at least 5", got)
	}
}

// caseConcurrentBig: 100 deliveries of (just under) 5 MiB at once — 80 of
// a provider that redelivers, 20 of one that never does. Each is
// forwarded (the app has it, byte for byte) or answered 503 with
// Retry-After (redelivering providers only); the 503s, redelivered one at
// a time as a provider would, then arrive. Nothing is lost silently, and
// RSS stays bounded (1.2–1.3 GB before the in-flight bound).
func caseConcurrentBig(t *testing.T, lg *Loopguard, app *App, _ *API) {
	const n, keepers = 100, 20
	size := int64(5<<20 - 64)
	type result struct {
		path   string
		body   bigBody
		status int
		retry  string
	}
	res := make([]result, n)
	for i := range res {
		res[i].path = "/webhooks/generic"
		if i < keepers {
			res[i].path = "/webhooks/keeper"
		}
		res[i].body = bigEvent(fmt.Sprintf("big-%03d", i), size)
	}
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, h := deliverBig(t, lg, res[i].path, res[i].body)
			res[i].status = st
			if h != nil {
				res[i].retry = h.Get("Retry-After")
			}
		}()
	}
	wg.Wait()
	byID := map[string]Received{}
	for _, r := range app.Received() {
		byID[r.ID] = r
	}
	refused := 0
	for i := range res {
		r, id := &res[i], fmt.Sprintf("big-%03d", i)
		got, ok := byID[id]
		switch {
		case r.status == 200:
			if !ok || got.Sum != r.body.sum() {
				t.Errorf("%s answered 200 but the app has it: %v (lost or changed)", id, ok)
			}
		case r.status == 503 && r.retry != "" && r.path == "/webhooks/generic":
			if ok {
				t.Errorf("%s answered 503 but reached the app", id)
			}
			refused++
		default:
			t.Errorf("%s (%s) answered %d Retry-After %q", id, r.path, r.status, r.retry)
		}
	}
	t.Logf("%d of %d concurrent 5 MiB deliveries answered 503 + Retry-After (limits.max_inflight_body_bytes); the rest forwarded", refused, n)
	for i := range res {
		if res[i].status != 503 {
			continue
		}
		if st, _ := deliverBig(t, lg, res[i].path, res[i].body); st != 200 {
			t.Errorf("redelivery of big-%03d answered %d", i, st)
		}
	}
	byID = map[string]Received{}
	for _, r := range app.Received() {
		byID[r.ID] = r
	}
	for i := range res {
		if _, ok := byID[fmt.Sprintf("big-%03d", i)]; !ok {
			t.Errorf("big-%03d never reached the app", i)
		}
	}
	waitFor(t, 10*time.Second, "in-flight body bytes back to 0", func() bool {
		return lg.Metric(t, "loopguard_inflight_body_bytes") == 0
	})
}

// stalledConn sends a request head (and a chunked body's first chunk when
// chunk is not "") and nothing more.
func stalledConn(addr, head, chunk string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	msg := head + "\r\n\r\n"
	if chunk != "" {
		msg = head + "\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// statusOf reads the answer on c within d: its status, or 0 when c closed
// without one, or -1 when nothing happened.
func statusOf(c net.Conn, d time.Duration) int {
	_ = c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -1
		}
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// caseNeverEnding: 1000 chunked deliveries that send one chunk and never
// end. Each is answered 408 at body_read_timeout, the app receives none,
// and loopguard's connections and goroutines go back to where they were
// (1,013 goroutines stayed after 30 s before).
func caseNeverEnding(t *testing.T, lg *Loopguard, app *App, _ *API) {
	const n = 1000
	base := lg.Metric(t, "go_goroutines")
	n0 := len(app.Received())
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := stalledConn(lg.Inbound, "POST /webhooks/generic HTTP/1.1\r\nHost: provider\r\nContent-Type: application/json", fmt.Sprintf(`{"id":"chunk-%d",`, i))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// All held at once (before the 3 s deadline cuts the first): the
	// attack is real.
	held := 0.0
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		held = max(held, lg.Metric(t, "go_goroutines"))
		if lg.Metric(t, "loopguard_connections_open", `listener="inbound"`) >= n {
			held = max(held, lg.Metric(t, "go_goroutines"))
			break
		}
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i] = statusOf(c, 15*time.Second) }()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[408] != n {
		t.Errorf("answers %v, want all %d answered 408", count, n)
	}
	t.Logf("goroutines: %v before, %v with %d bodies open", base, held, n)
	if held < base+n*9/10 {
		t.Errorf("only %v goroutines with %d bodies open (base %v): the bodies were not held open", held, n, base)
	}
	for _, r := range app.Received()[n0:] {
		if strings.HasPrefix(r.ID, "chunk-") {
			t.Errorf("app received an incomplete delivery %s", r.ID)
		}
	}
	waitFor(t, 10*time.Second, "inbound connections and goroutines released", func() bool {
		return lg.Metric(t, "loopguard_connections_open", `listener="inbound"`) == 0 && lg.Metric(t, "go_goroutines") <= base+10
	})
	if got := lg.Metric(t, "loopguard_rejected_total", `listener="inbound"`, `reason="read_timeout"`); got < n {
		t.Errorf("rejected{inbound,read_timeout} = %v, want >= %d", got, n)
	}
}

// caseSlowloris: 200 clients trickle header bytes; each is closed at
// header_read_timeout while a genuine delivery still gets through.
func caseSlowloris(t *testing.T, lg *Loopguard, app *App, _ *API) {
	const n = 200
	idle0 := lg.Metric(t, "loopguard_connections_idle_closed_total", `listener="inbound"`)
	var closed atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		c, err := net.Dial("tcp", lg.Inbound)
		if err != nil {
			t.Fatalf("slowloris %d: %v", i, err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "POST /webhooks/generic HTTP/1.1\r\nHost: provider\r\n")
		wg.Add(2)
		done := make(chan struct{})
		go func() { // the attacker: a header byte every 250 ms
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("X")); err != nil {
						return
					}
				}
			}
		}()
		go func() { // notices loopguard closing the connection
			defer wg.Done()
			defer close(done)
			_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
			if _, err := io.Copy(io.Discard, c); err == nil || !isTimeout(err) {
				closed.Add(1)
			}
		}()
	}
	status, _, _ := deliver(t, lg, "/webhooks/generic", "application/json", []byte(`{"id":"during-slowloris","object":"contacts","actor":"u_human","record":{"id":"s1","name":"A"}}`))
	if status != 200 || !contains(app.IDs(), "during-slowloris") {
		t.Errorf("genuine delivery during slowloris: %d, reached the app: %v", status, contains(app.IDs(), "during-slowloris"))
	}
	wg.Wait()
	took := time.Since(start)
	if closed.Load() != n {
		t.Errorf("%d of %d slowloris connections closed by loopguard", closed.Load(), n)
	}
	t.Logf("%d slowloris connections closed after %s (header_read_timeout 2s)", closed.Load(), took.Round(100*time.Millisecond))
	if got := lg.Metric(t, "loopguard_connections_idle_closed_total", `listener="inbound"`) - idle0; got < n {
		t.Errorf("idle_closed{inbound} grew by %v, want >= %d", got, n)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// caseIdleFlood: 5000 connections that send nothing. At most
// max_connections (1024) are held; the rest are answered 503 and closed at
// once; the held ones close at header_read_timeout, after which a genuine
// delivery gets through.
func caseIdleFlood(t *testing.T, lg *Loopguard, app *App, _ *API) {
	const n = 5000
	rej0 := lg.Metric(t, "loopguard_rejected_total", `listener="inbound"`, `reason="max_connections"`)
	idle0 := lg.Metric(t, "loopguard_connections_idle_closed_total", `listener="inbound"`)
	conns := make([]net.Conn, 0, n)
	failed := 0
	for range n {
		c, err := net.DialTimeout("tcp", lg.Inbound, 2*time.Second)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := lg.Metric(t, "loopguard_connections_open", `listener="inbound"`)
	maxOpen := open
	status, h, _ := deliver(t, lg, "/webhooks/generic", "application/json", []byte(`{"id":"during-flood","object":"contacts","actor":"u_human","record":{"id":"f1","name":"A"}}`))
	switch {
	case status == 200 && contains(app.IDs(), "during-flood"):
	case status == 503 && h.Get("Retry-After") != "":
	case status == 0: // refused at accept before the answer was read
	default:
		t.Errorf("genuine delivery during the flood: %d", status)
	}
	// Every flood connection ends refused at once (503) or held until
	// header_read_timeout and closed; at most 1024 are ever open.
	waitFor(t, 20*time.Second, "every flood connection refused or closed by loopguard", func() bool {
		open := lg.Metric(t, "loopguard_connections_open", `listener="inbound"`)
		maxOpen = max(maxOpen, open)
		refused := lg.Metric(t, "loopguard_rejected_total", `listener="inbound"`, `reason="max_connections"`) - rej0
		closed := lg.Metric(t, "loopguard_connections_idle_closed_total", `listener="inbound"`) - idle0
		return open == 0 && refused+closed >= float64(len(conns))
	})
	refused := lg.Metric(t, "loopguard_rejected_total", `listener="inbound"`, `reason="max_connections"`) - rej0
	t.Logf("idle flood: %d dialled (%d dials failed), at most %v held open, %v refused with 503, the rest closed idle", len(conns), failed, maxOpen, refused)
	if maxOpen > 1024 {
		t.Errorf("%v inbound connections open at once, over max_connections 1024", maxOpen)
	}
	status, _, _ = deliver(t, lg, "/webhooks/generic", "application/json", []byte(`{"id":"after-flood","object":"contacts","actor":"u_human","record":{"id":"f2","name":"A"}}`))
	if status != 200 || !contains(app.IDs(), "after-flood") {
		t.Errorf("genuine delivery after the flood: %d", status)
	}
}
