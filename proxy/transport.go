package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/loopguard/loopguard/configs"
)

// Transport timeouts not exposed in configuration.
const (
	keepAlive             = 30 * time.Second
	expectContinueTimeout = time.Second
	maxIdleConns          = 1024
)

// newUpstreamTransport builds the transport goproxy and the gateway use to
// reach APIs: explicit timeouts, verified TLS, every connection made by
// dial (the egress policy's checked dialer), and never ProxyFromEnvironment
// — a sidecar that inherits the app's HTTPS_PROXY would otherwise proxy to
// itself.
func newUpstreamTransport(o configs.Outbound, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*http.Transport, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if o.UpstreamCAFile != "" {
		pem, err := os.ReadFile(o.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("outbound.upstream_ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("outbound.upstream_ca_file: %s holds no PEM certificate", o.UpstreamCAFile)
		}
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   o.TLSHandshakeTimeout.D(),
		ResponseHeaderTimeout: o.ResponseHeaderTimeout.D(),
		IdleConnTimeout:       o.IdleConnTimeout.D(),
		ExpectContinueTimeout: expectContinueTimeout,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		// The app negotiates compression with the API end to end.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}, nil
}

// newAppTransport builds the transport the inbound proxy uses to reach the
// app.
func newAppTransport(in configs.Inbound) *http.Transport {
	d := &net.Dialer{Timeout: configs.DefaultDialTimeout, KeepAlive: keepAlive}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ResponseHeaderTimeout: in.AppTimeout.D(),
		IdleConnTimeout:       configs.DefaultIdleConnTimeout,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true,
		ExpectContinueTimeout: expectContinueTimeout,
	}
}
