package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/rs/zerolog"
)

// inboundSidecarVia starts a sidecar (testdata/inbound.yaml) in front of
// app whose deliveries go through the direct path or, with direct false,
// through ReverseProxy alone.
func inboundSidecarVia(t *testing.T, app string, direct bool) *Sidecar {
	t.Helper()
	raw, err := os.ReadFile("testdata/inbound.yaml")
	must(t, err)
	cfg := strings.NewReplacer("{{app}}", app, "{{upstream_ca}}", "", "{{upstream_host}}", "crm.invalid", "{{observe}}", "false").Replace(string(raw))
	l, err := configs.LoadBytes("inbound.yaml", []byte(cfg), inboundServerEnv)
	must(t, err)
	l.Config.Listen.Outbound, l.Config.Listen.Inbound, l.Config.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	s, err := New(l, zerolog.New(io.Discard))
	must(t, err)
	if s.Inbound.direct == nil {
		t.Fatal("no direct path to an http app_url")
	}
	if !direct {
		s.Inbound.direct = nil
	}
	must(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// The direct path sends the app the same request and the provider the
// same answer as ReverseProxy: hop-by-hop and forwarding headers, header
// names, repeated values, query, body, the app's hop-by-hop answer
// headers, chunked and error answers.
func TestInboundDirectMatchesReverseProxy(t *testing.T) {
	t.Parallel()
	answers := []string{
		"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n" +
			"x-app-lower: kept\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy",
		"HTTP/1.1 204 No Content\r\nX-Empty: \r\n\r\n",
	}
	newApp := func() *rawApp {
		var n atomic.Int64
		return newRawApp(t, func(int) string { return answers[int(n.Add(1)-1)%len(answers)] })
	}
	apps := [2]*rawApp{newApp(), newApp()}
	sidecars := [2]*Sidecar{inboundSidecarVia(t, apps[0].url(), true), inboundSidecarVia(t, apps[1].url(), false)}
	heads := []string{
		"Connection: X-Hop, keep-alive\r\nX-Hop: secret\r\nKeep-Alive: 5\r\nProxy-Authorization: x\r\nTe: trailers, deflate\r\n" +
			"Forwarded: for=1.2.3.4\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n",
		"User-Agent: \r\nx-lower-name: v\r\nX-Multi: one\r\nX-Multi: two\r\n",
		"User-Agent: HubSpot\r\nTe: gzip\r\nUpgrade-Insecure-Requests: 1\r\n",
		"Proxy-Connection: keep-alive\r\nTrailer: X-Nope\r\n",
	}
	uris := []string{"/webhooks/hub?a=1&b=%2F", "/webhooks/hub", "/webhooks/hub?x;y=1", "/webhooks/hub?"}
	for i := range 8 {
		raw := hubRaw(i, uris[i%len(uris)], heads[i%len(heads)])
		var got [2]string
		for k, s := range sidecars {
			resp, b := rawExchange(t, s.Addr("inbound"), raw)
			resp.Header.Del("Date")
			got[k] = exchangeSummary(apps[k].last(t), resp, b)
		}
		if got[0] != got[1] {
			t.Errorf("request %d differs\ndirect:\n%s\nReverseProxy:\n%s", i, got[0], got[1])
		}
	}
}

// An app answer that stops short of its Content-Length aborts the
// provider's connection, on the direct path as through ReverseProxy: the
// provider sees the answer cut, never a complete-looking one.
func TestInboundDirectAbortsShortAnswer(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			t.Parallel()
			app := newRawApp(t, func(int) string { return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b" })
			s := inboundSidecarVia(t, app.url(), direct)
			body := `[{"eventId":7,"subscriptionId":1,"objectId":7,"subscriptionType":"contact.propertyChange","propertyName":"name","propertyValue":"A","sourceId":"userId:9"}]`
			c, err := net.Dial("tcp", s.Addr("inbound"))
			must(t, err)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = fmt.Fprintf(c, "POST /webhooks/hub HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			must(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // aborted before the head left loopguard's buffer
			}
			if got, err := io.ReadAll(resp.Body); err == nil {
				t.Fatalf("provider read a complete answer %d %q; want the connection aborted", resp.StatusCode, got)
			}
		})
	}
}

// hubRaw is the raw request of the wire comparisons: delivery i of a
// one-event hub batch (a genuine change) to uri, with extra header lines.
func hubRaw(i int, uri, head string) string {
	body := fmt.Sprintf(`[{"eventId":%d,"subscriptionId":1,"objectId":%d,"subscriptionType":"contact.propertyChange","propertyName":"name","propertyValue":"v%d","sourceId":"userId:9"}]`, 100+i, 7+i, i)
	return "POST " + uri + " HTTP/1.1\r\nHost: hooks.example\r\nContent-Type: application/json\r\n" + head +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}
