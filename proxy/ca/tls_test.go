package ca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/elazarl/goproxy"
)

// handshakeTimeout bounds every network step in these tests.
const handshakeTimeout = 5 * time.Second

// serveTLS accepts connections on 127.0.0.1 with cfg, completes handshakes
// and writes "ok"; it returns the listener address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("tls.Listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					return
				}
				_, _ = conn.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestTLSHandshake(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	cfg, err := a.ServerTLSConfig("localhost")
	if err != nil {
		t.Fatalf("ServerTLSConfig: %v", err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) || len(cfg.Certificates) != 1 {
		t.Fatalf("config = MinVersion %x NextProtos %v %d certs; want TLS1.2, [http/1.1], 1", cfg.MinVersion, cfg.NextProtos, len(cfg.Certificates))
	}
	addr := serveTLS(t, cfg)

	tests := []struct {
		name       string
		roots      *x509.CertPool
		serverName string
		maxVersion uint16
		wantOK     bool
	}{
		{"our CA", poolOf(a), "localhost", 0, true},
		{"our CA over TLS 1.2", poolOf(a), "localhost", tls.VersionTLS12, true},
		{"empty pool", x509.NewCertPool(), "localhost", 0, false},
		{"unrelated CA", poolOf(mustGenerate(t)), "localhost", 0, false},
		{"wrong server name", poolOf(a), "api.example.com", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialer := &net.Dialer{Timeout: handshakeTimeout}
			conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{
				RootCAs:    tt.roots,
				ServerName: tt.serverName,
				MaxVersion: tt.maxVersion,
				NextProtos: []string{"http/1.1"},
			})
			if !tt.wantOK {
				if err == nil {
					_ = conn.Close()
					t.Fatal("handshake succeeded, want certificate verification failure")
				}
				var unknown x509.UnknownAuthorityError
				var hostErr x509.HostnameError
				if !errors.As(err, &unknown) && !errors.As(err, &hostErr) {
					t.Fatalf("handshake error = %v, want a verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
			if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
				t.Errorf("ALPN = %q, want http/1.1", p)
			}
			body, err := io.ReadAll(conn)
			if err != nil || string(body) != "ok" {
				t.Fatalf("read = %q, %v; want ok", body, err)
			}
		})
	}
}

func TestConnectActionFields(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	act := a.ConnectAction()
	if act.Action != goproxy.ConnectMitm {
		t.Fatalf("Action = %v, want ConnectMitm", act.Action)
	}
	if act.TLSConfig == nil {
		t.Fatal("TLSConfig is nil: goproxy would fall back to its public built-in CA")
	}
	cfg, err := act.TLSConfig("api.example.com:443", &goproxy.ProxyCtx{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := cfg.Certificates[0].Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: poolOf(a)}); err != nil {
		t.Fatalf("leaf from ConnectAction does not verify against our CA: %v", err)
	}
	if _, err := act.TLSConfig("bad host", &goproxy.ProxyCtx{}); err == nil {
		t.Fatal("TLSConfig accepted an invalid host")
	}
}

// TestGoproxyMITMEndToEnd runs a real goproxy with our ConnectAction in front
// of an HTTPS upstream and checks a client trusting only our CA gets through,
// and that the proxy really terminated TLS (it saw the decrypted request).
func TestGoproxyMITMEndToEnd(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)

	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream:"+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)

	proxy := goproxy.NewProxyHttpServer()
	proxy.Logger = log.New(io.Discard, "", 0) // the failing case logs a handshake warning
	upstreamPool := x509.NewCertPool()
	upstreamPool.AddCert(upstream.Certificate())
	proxy.Tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: upstreamPool}}
	action := a.ConnectAction()
	proxy.OnRequest().HandleConnectFunc(func(host string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		return action, host
	})
	seen := make(chan string, 4)
	proxy.OnRequest().DoFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		seen <- r.URL.Path
		return r, nil
	})
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(proxySrv.Close)
	proxyURL, err := url.Parse(proxySrv.URL)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		roots  *x509.CertPool
		wantOK bool
	}{
		{"client trusts our CA", poolOf(a), true},
		{"client trusts nothing", x509.NewCertPool(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &http.Client{
				Timeout: handshakeTimeout,
				Transport: &http.Transport{
					Proxy:           http.ProxyURL(proxyURL),
					TLSClientConfig: &tls.Config{RootCAs: tt.roots},
				},
			}
			defer client.CloseIdleConnections()
			resp, err := client.Get(upstream.URL + "/v1/items")
			if !tt.wantOK {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request through MITM proxy succeeded without trusting our CA")
				}
				return
			}
			if err != nil {
				t.Fatalf("GET through proxy: %v", err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != "upstream:/v1/items" {
				t.Fatalf("body = %q, %v", body, err)
			}
			if got := resp.TLS.PeerCertificates[0]; got.CheckSignatureFrom(a.Certificate()) != nil {
				t.Fatal("client was not served a leaf signed by our CA")
			}
			select {
			case p := <-seen:
				if p != "/v1/items" {
					t.Fatalf("proxy saw path %q, want /v1/items", p)
				}
			case <-time.After(handshakeTimeout):
				t.Fatal("proxy never saw the decrypted request")
			}
		})
	}
}
