package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawApp is an app on 127.0.0.1 that reads requests off the wire itself,
// so a test sees the exact header lines and body bytes the proxy sent,
// and answers with a fixed raw response (answer, with %d for the body's
// length).
type rawApp struct {
	ln     net.Listener
	answer func(n int) string
	mu     sync.Mutex
	reqs   []wireRequest
	// stall, when set, is how long the app waits before answering.
	stall time.Duration
}

type wireRequest struct {
	line  string
	heads []string // header lines as sent ("Name: value")
	body  []byte
}

func newRawApp(t *testing.T, answer func(n int) string) *rawApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	a := &rawApp{ln: ln, answer: answer}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go a.serve(c)
		}
	}()
	return a
}

func (a *rawApp) url() string { return "http://" + a.ln.Addr().String() }

func (a *rawApp) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		rq := wireRequest{line: strings.TrimRight(line, "\r\n")}
		n := 0
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return
			}
			h = strings.TrimRight(h, "\r\n")
			if h == "" {
				break
			}
			rq.heads = append(rq.heads, h)
			if k, v, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Content-Length") {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		rq.body = make([]byte, n)
		if _, err := io.ReadFull(br, rq.body); err != nil {
			return
		}
		a.mu.Lock()
		a.reqs = append(a.reqs, rq)
		stall := a.stall
		a.mu.Unlock()
		if stall > 0 {
			time.Sleep(stall) // the app is slow: what the test is about
		}
		if _, err := io.WriteString(c, a.answer(n)); err != nil {
			return
		}
	}
}

func (a *rawApp) last(t *testing.T) wireRequest {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reqs) == 0 {
		t.Fatal("the app saw no request")
	}
	return a.reqs[len(a.reqs)-1]
}

// rawInboundSidecar starts a sidecar (testdata/inbound.yaml) in front of
// app.
func rawInboundSidecar(t *testing.T, app string) *Sidecar {
	t.Helper()
	cfg, err := os.ReadFile("testdata/inbound.yaml")
	must(t, err)
	return startSidecar(t, string(cfg), map[string]string{
		"app": app, "upstream_ca": "", "upstream_host": "crm.invalid", "observe": "false",
	})
}

// rawExchange sends raw on a fresh connection to addr and returns the
// response read off the wire.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, raw)
	must(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	must(t, err)
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, b
}

// exchangeSummary renders, for comparing two sidecars on the wire, what
// the app received (rq) and what the provider got (resp, body), header
// lines sorted.
func exchangeSummary(rq wireRequest, resp *http.Response, body []byte) string {
	var hs []string
	for name, vs := range resp.Header {
		hs = append(hs, name+": "+strings.Join(vs, " | "))
	}
	slices.Sort(hs)
	app := slices.Clone(rq.heads)
	slices.Sort(app)
	return fmt.Sprintf("app: %s\n%s\n%s\nprovider: %d %v %q trailer %v", rq.line, strings.Join(app, "\n"), rq.body, resp.StatusCode, hs, body, resp.Trailer)
}

// A delivery reaches the app with the provider's header names, values and
// order of repeated values, and the exact body bytes; the app's answer
// reaches the provider with its status, headers and exact body.
func TestInboundWireKeepsHeadersAndBytes(t *testing.T) {
	t.Parallel()
	answer := "{\"ok\": true ,\n \"note\":\"\\u00e9\"}\t"
	app := newRawApp(t, func(int) string {
		return "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nx-app-lower: kept\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: " +
			strconv.Itoa(len(answer)) + "\r\n\r\n" + answer
	})
	s := rawInboundSidecar(t, app.url())
	// A genuine single-event delivery, its bytes as a provider formats them
	// (spaces, escapes, a trailing newline): forwarded whole, byte for byte.
	body := "[ {\"eventId\":41, \"subscriptionId\":1,\"objectId\":7,\"subscriptionType\":\"contact.propertyChange\",\"propertyName\":\"name\",\"propertyValue\":\"Z\\u00fcrich \\\"q\\\"\",\"sourceId\":\"userId:9\"} ]\n"
	raw := "POST /webhooks/hub?x=1&y=%20 HTTP/1.1\r\nHost: hooks.example\r\nContent-Type: application/json; charset=utf-8\r\n" +
		"X-Hubspot-Signature-Version: v3\r\nX-Multi: one\r\nX-Multi: two\r\nUser-Agent: HubSpot Connect 2.0\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	resp, got := rawExchange(t, s.Addr("inbound"), raw)
	if resp.StatusCode != http.StatusAccepted || string(got) != answer {
		t.Fatalf("provider got %d %q, want 202 %q", resp.StatusCode, got, answer)
	}
	if v := resp.Header.Get("X-App-Lower"); v != "kept" {
		t.Errorf("answer header x-app-lower = %q, want kept", v)
	}
	if v := resp.Header.Values("Set-Cookie"); !slices.Equal(v, []string{"a=1", "b=2"}) {
		t.Errorf("answer Set-Cookie = %q, want a=1, b=2 in order", v)
	}
	rq := app.last(t)
	if !bytes.Equal(rq.body, []byte(body)) {
		t.Fatalf("app body = %q, want %q", rq.body, body)
	}
	if rq.line != "POST /webhooks/hub?x=1&y=%20 HTTP/1.1" {
		t.Errorf("app request line = %q", rq.line)
	}
	for _, want := range []string{
		"Host: hooks.example", "Content-Type: application/json; charset=utf-8", "X-Hubspot-Signature-Version: v3",
		"User-Agent: HubSpot Connect 2.0", "Content-Length: " + strconv.Itoa(len(body)),
	} {
		if !slices.Contains(rq.heads, want) {
			t.Errorf("app did not get header line %q; got %q", want, rq.heads)
		}
	}
	var multi []string
	for _, h := range rq.heads {
		if k, v, _ := strings.Cut(h, ": "); k == "X-Multi" {
			multi = append(multi, v)
		}
	}
	if !slices.Equal(multi, []string{"one", "two"}) {
		t.Errorf("X-Multi values at the app = %q, want one, two in order", multi)
	}
	if !slices.ContainsFunc(rq.heads, func(h string) bool { return strings.HasPrefix(h, "X-Forwarded-For: 127.0.0.1") }) {
		t.Errorf("no X-Forwarded-For at the app: %q", rq.heads)
	}
}

// An app slower than inbound.app_timeout gets the provider a 504, and the
// sidecar goes on forwarding afterwards.
func TestInboundWireAppTimeout(t *testing.T) {
	t.Parallel()
	app := newRawApp(t, func(int) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	app.stall = 1500 * time.Millisecond // testdata/inbound.yaml: app_timeout 1s
	s := rawInboundSidecar(t, app.url())
	body := `[{"eventId":42,"subscriptionId":1,"objectId":7,"subscriptionType":"contact.propertyChange","propertyName":"name","propertyValue":"A","sourceId":"userId:9"}]`
	req := fmt.Sprintf("POST /webhooks/hub HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if resp, _ := rawExchange(t, s.Addr("inbound"), req); resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow app: provider got %d, want 504", resp.StatusCode)
	}
	app.mu.Lock()
	app.stall = 0
	app.mu.Unlock()
	body2 := strings.Replace(body, `"eventId":42`, `"eventId":43`, 1)
	req2 := fmt.Sprintf("POST /webhooks/hub HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body2), body2)
	if resp, b := rawExchange(t, s.Addr("inbound"), req2); resp.StatusCode != http.StatusOK || string(b) != "ok" {
		t.Fatalf("after the timeout: provider got %d %q, want 200 ok", resp.StatusCode, b)
	}
}
