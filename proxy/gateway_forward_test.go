package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// TestGatewayForwardFields: what the gateway's own forwarder sends and
// answers — hop-by-hop fields removed both ways (those Connection names
// too), the client's forwarding fields removed, "Te: trailers" kept, the
// API's Host, an unparsable query cleaned, a 103 relayed before the answer,
// announced trailers relayed after the body.
func TestGatewayForwardFields(t *testing.T) {
	t.Parallel()
	up := &recorder{}
	up.setRespond(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "dropped")
		w.Header().Set("X-Up-Kept", "kept")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	})
	_, s := outboundSidecar(t, up)
	req, err := http.NewRequest(http.MethodGet, "http://"+s.Addr("outbound")+"/crm/v1/things?a=1&b=2;c=3", nil)
	must(t, err)
	for k, v := range map[string]string{
		"Connection": "X-Hop", "X-Hop": "dropped", "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic eA==",
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil", "X-Forwarded-Proto": "http", "Forwarded": "for=203.0.113.9",
		"Te": "trailers", "User-Agent": "app/1", "X-Kept": "kept",
	} {
		req.Header.Set(k, v)
	}
	var early []int
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { early = append(early, code); return nil },
	}))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "body" {
		t.Fatalf("answer = %d %q", resp.StatusCode, body)
	}
	if len(early) != 1 || early[0] != http.StatusEarlyHints {
		t.Errorf("1xx answers relayed = %v, want [103]", early)
	}
	if resp.Header.Get("X-Up-Hop") != "" || resp.Header.Get("X-Up-Kept") != "kept" {
		t.Errorf("answer fields: %v", resp.Header)
	}
	if resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("trailer X-Sum = %q (trailers %v)", resp.Trailer.Get("X-Sum"), resp.Trailer)
	}
	r := up.last(t)
	for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		if v := r.Header.Get(k); v != "" {
			t.Errorf("upstream saw %s: %q", k, v)
		}
	}
	if r.Header.Get("Te") != "trailers" || r.Header.Get("User-Agent") != "app/1" || r.Header.Get("X-Kept") != "kept" {
		t.Errorf("upstream fields: %v", r.Header)
	}
	if r.Path != "/v1/things?a=1" {
		t.Errorf("upstream path = %q, want /v1/things?a=1 (the unparsable b=2;c=3 dropped)", r.Path)
	}
}

// TestGatewayForwardStreams: an answer of unknown length reaches the client
// as it comes (each write flushed), not when the API has finished.
func TestGatewayForwardStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := &recorder{}
	up.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})
	_, s := outboundSidecar(t, up)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	resp, err := http.Get("http://" + s.Addr("outbound") + "/crm/v1/stream")
	must(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); line <- l }()
	select {
	case l := <-line:
		if l != "first\n" {
			t.Fatalf("first line = %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first part did not arrive before the API finished: the gateway buffered a streamed answer")
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

// TestGatewayForwardCutAnswer: an answer the API cuts short is cut for the
// client too (its connection aborted), never passed off as whole.
func TestGatewayForwardCutAnswer(t *testing.T) {
	t.Parallel()
	up := &recorder{}
	up.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b")
		http.NewResponseController(w).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
	})
	_, s := outboundSidecar(t, up)
	resp, err := http.Get("http://" + s.Addr("outbound") + "/crm/v1/cut")
	if err != nil {
		return // aborted before the head went out
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("client read %d bytes and no error: a cut answer looked whole", len(b))
	}
}

// TestGatewayUpgradeRelayed: a request that switches protocols still goes
// through (relayed by ReverseProxy): the 101 and the bytes after it.
func TestGatewayUpgradeRelayed(t *testing.T) {
	t.Parallel()
	up := &recorder{}
	up.setRespond(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		l, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo: " + l)
		_ = brw.Flush()
	})
	_, s := outboundSidecar(t, up)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr("outbound"))
	must(t, err)
	defer c.Close()
	dl, _ := ctx.Deadline()
	must(t, c.SetDeadline(dl))
	_, err = io.WriteString(c, "GET /crm/v1/socket HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	must(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	must(t, err)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	_, err = io.WriteString(c, "hi\n")
	must(t, err)
	l, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(l) != "echo: hi" {
		t.Fatalf("after the upgrade: %q, %v", l, err)
	}
}
