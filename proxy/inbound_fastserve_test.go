package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
)

// needFast skips a test of the fasthttp listener when the package runs
// under net/http (LOOPGUARD_INBOUND_SERVER=net/http).
func needFast(t *testing.T, s *Sidecar) {
	t.Helper()
	if s.cfg.Inbound.Server == configs.InboundServerNetHTTP {
		t.Skip("inbound.server is net/http: no fasthttp listener to test")
	}
}

// The native path: a genuine change reaches the app byte for byte with
// X-Forwarded-*, and is recorded (its redelivery is a dedup drop); an echo
// of the app's own write, and a delivery marked by the header the profile
// names (in either case on the wire), are dropped — all five judged
// natively.
func TestInboundNativeForwardsAndDrops(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	before := e.s.Inbound.native.Load()

	genuine := `{"id":"g1","object":"contacts","actor":"u_human","record":{"id":"N1","name":"Ada","email":"ada@x.io"}}`
	if st, _ := e.deliver(t, "/webhooks/generic", genuine); st != 200 {
		t.Fatalf("genuine delivery: provider got %d, want 200", st)
	}
	got := e.app.all()
	if len(got) != 1 || string(got[0].Body) != genuine {
		t.Fatalf("app got %d deliveries (%q), want the genuine one byte for byte", len(got), got)
	}
	if h := got[0].Header; h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") == "" {
		t.Errorf("forwarding headers: %v", h)
	}
	if st, _ := e.deliver(t, "/webhooks/generic", genuine); st != 200 {
		t.Fatalf("redelivery: %d", st)
	}
	if n := len(e.app.all()); n != 1 {
		t.Fatalf("redelivery reached the app (%d deliveries)", n)
	}
	if layer, reason, action := e.lastDecision(t); layer != "dedup" || action != "drop" {
		t.Errorf("redelivery decided %s/%s/%s, want a dedup drop", layer, reason, action)
	}
	e.appWrite(t, "N2", `{"name":"Bo","email":"bo@x.io"}`)
	st, body := e.deliver(t, "/webhooks/generic", e.crm.payload("e1", "", "N2"))
	if st != 200 || body == "" {
		t.Fatalf("echo delivery: provider got %d %q, want 200 and loopguard's answer", st, body)
	}
	if n := len(e.app.all()); n != 1 {
		t.Fatalf("echo reached the app (%d deliveries)", n)
	}
	if _, _, action := e.lastDecision(t); action != "drop" {
		t.Errorf("echo: action %s, want drop", action)
	}
	// The judgement reads the marker header (the only field of the
	// header it is given: judgedHeader).
	marked := `{"id":"m1","object":"contacts","actor":"u_human","record":{"id":"N3","name":"Cy"}}`
	if st, _ := e.deliver(t, "/webhooks/generic", marked, "X-Change-Agent", "loopguard"); st != 200 {
		t.Fatalf("marked delivery: provider got %d, want 200", st)
	}
	if layer, _, action := e.lastDecision(t); layer != "marker" || action != "drop" || len(e.app.all()) != 1 {
		t.Errorf("marked delivery decided %s/%s (app has %d), want a marker drop", layer, action, len(e.app.all()))
	}
	// The same marker sent in lower case on the wire: fasthttp's server
	// canonicalises the name, so judgedHeader still finds it.
	lower := `{"id":"m2","object":"contacts","actor":"u_human","record":{"id":"N4","name":"Di"}}`
	raw := fmt.Sprintf("POST /webhooks/generic HTTP/1.1\r\nHost: hooks.example\r\nContent-Type: application/json\r\nx-change-agent: loopguard\r\nContent-Length: %d\r\n\r\n%s", len(lower), lower)
	if resp, _ := rawExchange(t, e.s.Addr("inbound"), raw); resp.StatusCode != 200 {
		t.Fatalf("lower-case marked delivery: provider got %d, want 200", resp.StatusCode)
	}
	if layer, _, action := e.lastDecision(t); layer != "marker" || action != "drop" || len(e.app.all()) != 1 {
		t.Errorf("lower-case marked delivery decided %s/%s (app has %d), want a marker drop", layer, action, len(e.app.all()))
	}
	if n := e.s.Inbound.native.Load() - before; n != 5 {
		t.Errorf("native path judged %d deliveries, want 5", n)
	}
}

// A path fasthttp would normalise is served as net/http serves it: "/x/../webhooks/generic"
// matches no webhook route there, so it reaches the app untouched, under
// the path as sent, and is not judged.
func TestInboundNativePathAsNetHTTP(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	before := e.s.Inbound.native.Load()
	body := `{"id":"p1","object":"contacts","actor":"u_human","record":{"id":"P1","name":"Pat"}}`
	for _, path := range []string{"/x/../webhooks/generic", "/webhooks//generic", "/webhooks/%67eneric"} {
		if st, _ := e.deliver(t, path, body); st != 200 {
			t.Fatalf("%s: provider got %d, want the app's 200", path, st)
		}
	}
	got := e.app.all()
	if len(got) != 3 || got[0].Path != "/x/../webhooks/generic" || got[1].Path != "/webhooks//generic" {
		t.Fatalf("app got %+v, want the three deliveries under the paths as sent", got)
	}
	if n := e.s.Inbound.native.Load() - before; n != 0 {
		t.Fatalf("native path took %d of them, want 0", n)
	}
}

// A chunked delivery and one over inbound.max_body_bytes (64KiB) are not
// taken by the native path: they stream to the app untouched.
func TestInboundFastStreamsUntouched(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	before := e.s.Inbound.native.Load()
	big := `{"id":"big","object":"contacts","record":{"id":"B1","name":"` + strings.Repeat("x", 100<<10) + `"}}`
	small := `{"id":"ch1","object":"contacts","actor":"u_human","record":{"id":"C1","name":"Cy"}}`
	for _, tc := range []struct {
		name, body string
		chunked    bool
	}{{"oversize", big, false}, {"chunked", small, true}} {
		c, err := net.Dial("tcp", e.s.Addr("inbound"))
		must(t, err)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		head := "POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		if tc.chunked {
			half := len(tc.body) / 2
			fmt.Fprintf(c, "%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", head, half, tc.body[:half], len(tc.body)-half, tc.body[half:])
		} else {
			fmt.Fprintf(c, "%sContent-Length: %d\r\n\r\n%s", head, len(tc.body), tc.body)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		must(t, err)
		_, _ = io.ReadAll(resp.Body)
		_ = c.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: provider got %d", tc.name, resp.StatusCode)
		}
		got := e.app.all()
		if string(got[len(got)-1].Body) != tc.body {
			t.Fatalf("%s: the app got %d bytes, not the delivery untouched", tc.name, len(got[len(got)-1].Body))
		}
	}
	if n := e.s.Inbound.native.Load() - before; n != 0 {
		t.Errorf("native path judged %d deliveries, want none (chunked and oversize ones are served by the net/http handler)", n)
	}
}

// A native delivery whose body stalls gets 408 at limits.body_read_timeout,
// counted as read_timeout, and its connection is closed.
func TestInboundNativeStalledBody408(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t, limitsOpts{body: shortBody.String()})
	needFast(t, e.s)
	before := e.rejected("inbound", "read_timeout")
	start := time.Now()
	c, err := net.Dial("tcp", e.s.Addr("inbound"))
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	fmt.Fprintf(c, "POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":")
	status, _ := readAnswer(t, c, &http.Request{Method: "POST"})
	if status != 408 {
		t.Fatalf("answered %d, want 408", status)
	}
	if took := time.Since(start); took < shortBody*9/10 {
		t.Fatalf("answered after %s, before the %s deadline", took, shortBody)
	}
	if got := e.rejected("inbound", "read_timeout") - before; got != 1 {
		t.Fatalf("rejected{inbound,read_timeout} grew by %v", got)
	}
	closedWithin(t, c, 5*time.Second)
	waitFor(t, "inbound connections released", func() bool { return e.open("inbound") == 0 })
}

// Shutdown waits for a delivery the app is still answering, which gets
// its answer; then it returns.
func TestInboundFastShutdownWaits(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	arrived, release := make(chan struct{}), make(chan struct{})
	e.app.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		close(arrived)
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+e.s.Addr("inbound")+"/webhooks/generic", "application/json",
			strings.NewReader(`{"id":"s1","object":"contacts","actor":"u_human","record":{"id":"S1","name":"Sy"}}`))
		if err != nil {
			status <- 0
			return
		}
		_ = resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-arrived
	var done atomic.Bool
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- e.s.Shutdown(ctx)
		done.Store(true)
	}()
	waitFor(t, "the inbound listener closed", func() bool {
		c, err := net.DialTimeout("tcp", e.s.Addr("inbound"), time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	})
	if done.Load() {
		t.Fatal("Shutdown returned while a delivery was in flight")
	}
	close(release)
	if st := <-status; st != http.StatusAccepted {
		t.Fatalf("the in-flight delivery got %d, want the app's 202", st)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// inboundSidecarOn is inboundSidecarVia with inbound.server set.
func inboundSidecarOn(t *testing.T, app, server string, direct bool) *Sidecar {
	t.Helper()
	t.Setenv("LOOPGUARD_INBOUND_SERVER", server)
	return inboundSidecarVia(t, app, direct)
}

// The fasthttp-served listener sends the app the same request and the
// provider the same answer as the net/http-served one (direct path and
// ReverseProxy): status, every header (the app's Date kept, no Server or
// Content-Type of the server's own), body; a 101 from the app is refused
// alike; a streamed answer arrives whole.
func TestInboundFastMatchesNetHTTP(t *testing.T) {
	answers := []string{
		"HTTP/1.1 202 Accepted\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: application/json\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n" +
			"x-app-lower: kept\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy",
		"HTTP/1.1 204 No Content\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nX-Empty: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("z", 70000),
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	}
	newApp := func() *rawApp {
		var n atomic.Int64
		return newRawApp(t, func(int) string { return answers[int(n.Add(1)-1)%len(answers)] })
	}
	apps := [3]*rawApp{newApp(), newApp(), newApp()}
	sidecars := [3]*Sidecar{
		inboundSidecarOn(t, apps[0].url(), configs.InboundServerFastHTTP, true),
		inboundSidecarOn(t, apps[1].url(), configs.InboundServerNetHTTP, true),
		inboundSidecarOn(t, apps[2].url(), configs.InboundServerNetHTTP, false),
	}
	heads := []string{
		"Connection: X-Hop, keep-alive\r\nX-Hop: secret\r\nKeep-Alive: 5\r\nProxy-Authorization: x\r\nTe: trailers, deflate\r\n" +
			"Forwarded: for=1.2.3.4\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n",
		"User-Agent: \r\nx-lower-name: v\r\nX-Multi: one\r\nX-Multi: two\r\n",
		"User-Agent: HubSpot\r\nTe: gzip\r\nUpgrade-Insecure-Requests: 1\r\n",
	}
	uris := []string{"/webhooks/hub?a=1&b=%2F", "/webhooks/hub", "/webhooks/hub?"}
	before := sidecars[0].Inbound.native.Load()
	for i := range 12 {
		raw := hubRaw(i, uris[i%len(uris)], heads[i%len(heads)])
		var got [3]string
		for k, s := range sidecars {
			resp, b := rawExchange(t, s.Addr("inbound"), raw)
			if answers[i%len(answers)][9:12] != "101" && resp.Header.Get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT" {
				t.Errorf("request %d, sidecar %d: Date %q, want the app's", i, k, resp.Header.Get("Date"))
			}
			if answers[i%len(answers)][9:12] == "101" {
				resp.Header.Del("Date") // loopguard's own answer: its own Date
			}
			got[k] = exchangeSummary(apps[k].last(t), resp, b)
		}
		if got[0] != got[1] || got[0] != got[2] {
			t.Errorf("request %d differs\nfasthttp:\n%.2000s\nnet/http direct:\n%.2000s\nnet/http ReverseProxy:\n%.2000s", i, got[0], got[1], got[2])
		}
	}
	if n := sidecars[0].Inbound.native.Load() - before; n != 12 {
		t.Errorf("native path judged %d of 12 deliveries", n)
	}
}

// What the net/http handler answers through the fasthttp listener streams:
// an event stream's first event reaches the provider while the app still
// holds the rest back, and a large answer arrives whole.
func TestInboundFastBridgeStreams(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	more := make(chan struct{})
	big := strings.Repeat("y", 1<<20)
	e.app.setRespond(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			_, _ = io.WriteString(w, big)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-more
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	resp, err := http.Get("http://" + e.s.Addr("inbound") + "/events")
	must(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(more)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: two\n\n" {
		t.Fatalf("rest of the stream: %q %v", rest, err)
	}
	resp, err = http.Get("http://" + e.s.Addr("inbound") + "/big")
	must(t, err)
	got, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || string(got) != big || resp.ContentLength != int64(len(big)) {
		t.Fatalf("large answer: %d bytes of %d (Content-Length %d), %v", len(got), len(big), resp.ContentLength, err)
	}
}

// A header over fastHeaderBytes is answered 431; one within it is served.
func TestInboundFastHeaderBound(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	for _, tc := range []struct {
		size, want int
	}{{fastHeaderBytes / 2, http.StatusOK}, {fastHeaderBytes + 1024, http.StatusRequestHeaderFieldsTooLarge}} {
		body := `{"id":"h` + fmt.Sprint(tc.size) + `","object":"contacts","actor":"u_human","record":{"id":"H1","name":"Hy"}}`
		st, _ := e.deliver(t, "/webhooks/generic", body, "X-Big", strings.Repeat("b", tc.size))
		if st != tc.want {
			t.Errorf("header of %d bytes: %d, want %d", tc.size, st, tc.want)
		}
	}
}

// Deliveries on one keep-alive connection are answered on it, native,
// dropped and bridged alike (the connection is not closed after each).
func TestInboundFastKeepAlive(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	needFast(t, e.s)
	c, err := net.Dial("tcp", e.s.Addr("inbound"))
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i, body := range []string{
		`{"id":"k1","object":"contacts","actor":"u_human","record":{"id":"K1","name":"Ky"}}`,
		`{"id":"k1","object":"contacts","actor":"u_human","record":{"id":"K1","name":"Ky"}}`, // a dedup drop
		`{"id":"k3","object":"contacts","actor":"u_integration","record":{"id":"K1","name":"Ky"}}`,
	} {
		fmt.Fprintf(c, "POST /webhooks/generic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("delivery %d on the kept-alive connection: %v", i, err)
		}
		_, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("delivery %d: %d, close %v", i, resp.StatusCode, resp.Close)
		}
	}
	fmt.Fprintf(c, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Close {
		t.Fatalf("bridged request on the kept-alive connection: %v %v", err, resp)
	}
}
