package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopguard/loopguard/proxy/ca"
)

// mitmTestTimeout bounds every request of the MITM baseline tests: a hang
// fails the test instead of blocking it.
const mitmTestTimeout = 10 * time.Second

// mitmTestEnv is a CA as loopguard writes it, an HTTPS upstream on
// 127.0.0.1 that echoes what it got, and the upstream's CA file.
type mitmTestEnv struct {
	caDir, upstreamCA string
	caPEM             []byte
	upstream          *httptest.Server
}

func newMITMTestEnv(t *testing.T) *mitmTestEnv {
	t.Helper()
	auth, err := ca.Generate("loopbench test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := auth.WriteFiles(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Echo", r.Method+" "+r.Host+" "+r.URL.RequestURI()+" tls="+fmt.Sprint(r.TLS != nil))
		_, _ = w.Write(append([]byte("echo:"), body...))
	}))
	up.StartTLS()
	t.Cleanup(up.Close)
	upCA := filepath.Join(dir, "upstream.pem")
	if err := os.WriteFile(upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &mitmTestEnv{caDir: filepath.Join(dir, "ca"), upstreamCA: upCA, caPEM: auth.CertPEM(), upstream: up}
}

// startMITMTestBase runs the baseline in mode in-process on a loopback port.
func (e *mitmTestEnv) start(t *testing.T, mode string) string {
	t.Helper()
	b, err := newMITMBase(mode, e.caDir, e.upstreamCA)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("baseline run: %v", err)
		}
	})
	return ln.Addr().String()
}

// client goes through the baseline at addr, trusting only the CA.
func (e *mitmTestEnv) client(addr string) *http.Client {
	c := newClient(4, &url.URL{Scheme: "http", Host: addr}, newPool(e.caPEM))
	c.Timeout = mitmTestTimeout
	return c
}

// TestMITMBaseProxies sends writes through each mode of the baseline to a
// real TLS upstream: the upstream gets them over TLS with host, path and
// body intact, and the answer comes back intact, on kept-alive connections,
// sequentially and concurrently, small and larger than any buffer.
func TestMITMBaseProxies(t *testing.T) {
	e := newMITMTestEnv(t)
	upHost := strings.TrimPrefix(e.upstream.URL, "https://")
	for _, mode := range mitmBaseModes {
		t.Run(mode, func(t *testing.T) {
			c := e.client(e.start(t, mode))
			defer c.CloseIdleConnections()
			check := func(method, path string, body []byte) error {
				var rd io.Reader
				if body != nil {
					rd = bytes.NewReader(body)
				}
				req, err := http.NewRequest(method, e.upstream.URL+path, rd)
				if err != nil {
					return err
				}
				resp, err := c.Do(req)
				if err != nil {
					return fmt.Errorf("%s %s: %w", method, path, err)
				}
				defer resp.Body.Close()
				got, err := io.ReadAll(resp.Body)
				if err != nil {
					return fmt.Errorf("%s %s: read answer: %w", method, path, err)
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, got)
				}
				if want := method + " " + upHost + " " + path + " tls=true"; resp.Header.Get("X-Echo") != want {
					return fmt.Errorf("%s %s: upstream saw %q, want %q", method, path, resp.Header.Get("X-Echo"), want)
				}
				if want := append([]byte("echo:"), body...); !bytes.Equal(got, want) {
					return fmt.Errorf("%s %s: answer of %d bytes differs from the %d sent", method, path, len(got), len(want))
				}
				return nil
			}
			for i := range 10 {
				if err := check(http.MethodPatch, fmt.Sprintf("/v1/contacts/m%d?x=%d", i, i), bytes.Repeat([]byte{byte('a' + i)}, payloadBytes+i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := check(http.MethodGet, "/v1/contacts/m1", nil); err != nil {
				t.Fatal(err)
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320 KB
			if err := check(http.MethodPut, "/v1/issues/big", big); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for g := range 4 {
				wg.Go(func() {
					for i := range 10 {
						errs <- check(http.MethodPatch, fmt.Sprintf("/v1/contacts/g%d-%d", g, i), fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestMITMBaseClosedPort: a write to a port nothing listens on is answered
// 502 inside the tunnel or the connection is closed, well before the
// client's timeout.
func TestMITMBaseClosedPort(t *testing.T) {
	e := newMITMTestEnv(t)
	closed, err := freeAddrs(1) // reserved and released: nothing listens
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range mitmBaseModes {
		t.Run(mode, func(t *testing.T) {
			c := e.client(e.start(t, mode))
			defer c.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodPatch, "https://"+closed[0]+"/v1/contacts/m1", strings.NewReader(`{"name":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("request hung until the client's timeout: %v", err)
				}
				return // closed: acceptable
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502", resp.StatusCode)
			}
		})
	}
}

// earlyConn sends its first write (the ClientHello) in one segment with
// a CONNECT head, and reads past the proxy's answer before TLS reads.
type earlyConn struct {
	net.Conn
	head   string
	br     *bufio.Reader
	status int
	sent   bool
	read   bool
}

func (c *earlyConn) Write(b []byte) (int, error) {
	if c.sent {
		return c.Conn.Write(b)
	}
	c.sent = true
	if _, err := c.Conn.Write(append([]byte(c.head), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *earlyConn) Read(b []byte) (int, error) {
	if !c.read {
		c.read = true
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return 0, err
		}
		c.status = resp.StatusCode
	}
	return c.br.Read(b)
}

// TestMITMBaseEarlyClientHello: a client that sends its ClientHello with
// the CONNECT (before the 200) is intercepted all the same.
func TestMITMBaseEarlyClientHello(t *testing.T) {
	e := newMITMTestEnv(t)
	upHost := strings.TrimPrefix(e.upstream.URL, "https://")
	addr := e.start(t, mitmModeLean)
	raw, err := net.DialTimeout("tcp", addr, mitmTestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(mitmTestTimeout))
	ec := &earlyConn{Conn: raw, head: "CONNECT " + upHost + " HTTP/1.1\r\nHost: " + upHost + "\r\n\r\n", br: bufio.NewReader(raw)}
	tc := tls.Client(ec, &tls.Config{RootCAs: newPool(e.caPEM), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake through the baseline: %v", err)
	}
	if ec.status != http.StatusOK {
		t.Fatalf("CONNECT answered %d", ec.status)
	}
	if _, err := io.WriteString(tc, "GET /early HTTP/1.1\r\nHost: "+upHost+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-Echo"); got != "GET "+upHost+" /early tls=true" {
		t.Errorf("upstream saw %q", got)
	}
}
