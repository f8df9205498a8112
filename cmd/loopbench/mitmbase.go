package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Environment of the minimal MITM baseline (issue 19): the binary serves as
// a TLS-intercepting proxy with no tagging and no recording
// ("LISTEN,MODE"), to tell what any proxy that terminates the client's TLS
// and re-encrypts to the upstream costs on this machine from what
// loopguard's MITM adds. It signs its leaves with the CA in
// mitmBaseCAEnv (loopguard's ca.pem and ca-key.pem, so the harness's
// clients trust both alike) and trusts the upstream certificates in
// mitmBaseUpstreamEnv.
const (
	mitmBaseEnv         = "LOOPBENCH_MITM_BASELINE"
	mitmBaseCAEnv       = "LOOPBENCH_MITM_BASELINE_CA_DIR"
	mitmBaseUpstreamEnv = "LOOPBENCH_MITM_BASELINE_UPSTREAM_CA"
	// mitmBaseProfileEnv, when set, is a file for a CPU profile of the
	// baseline's whole life (--cpuprofile).
	mitmBaseProfileEnv = "LOOPBENCH_MITM_BASELINE_CPUPROFILE"
)

// HTTP stacks of the baseline (the mitm_min_* cases).
const (
	// mitmModeNetHTTP: one http.Server serves every intercepted *tls.Conn
	// (handed over through a channel listener) with an
	// httputil.ReverseProxy on a shared http.Transport.
	mitmModeNetHTTP = "nethttp"
	// mitmModeLean: a loop per connection, http.ReadRequest →
	// Transport.RoundTrip → Response.Write, as goproxy's MITM loop does.
	mitmModeLean = "lean"
	// mitmModeFast: fasthttp's server (ServeConn) and a HostClient per
	// upstream host.
	mitmModeFast = "fasthttp"
)

// mitmBaseModes are the baseline's modes in case order (the small writes);
// the realistic partial writes run the net/http ceiling and the leanest
// stack only (lean measured below nethttp twice: a full run stays short).
var (
	mitmBaseModes     = []string{mitmModeNetHTTP, mitmModeLean, mitmModeFast}
	mitmBaseRealModes = []string{mitmModeNetHTTP, mitmModeFast}
)

// Settings of the baseline.
const (
	// mitmIdleConns is the upstream keep-alive pool per host: far above the
	// harness's clients (defaultConns), as goRPIdleConns.
	mitmIdleConns = goRPIdleConns
	// mitmHandshakeTimeout bounds the client's and the upstream's TLS
	// handshakes.
	mitmHandshakeTimeout = 10 * time.Second
	// mitmLeafValidity is how long a minted leaf is valid (one run).
	mitmLeafValidity = 24 * time.Hour
)

// mitmBase is the running baseline: its CA, the leaves it minted and the
// HTTP stack of its mode.
type mitmBase struct {
	ca     tls.Certificate
	caCert *x509.Certificate
	mu     sync.Mutex
	// configs are the client-facing TLS configs by host (one leaf each,
	// minted on the host's first CONNECT, then reused).
	configs map[string]*tls.Config
	// serve serves one intercepted connection for the CONNECT target
	// (host:port) until it closes.
	serve func(c *tls.Conn, target string)
	close func()
}

// newMITMBase loads the CA in caDir and the upstream roots and sets up the
// mode's HTTP stack.
func newMITMBase(mode, caDir, upstreamCA string) (*mitmBase, error) {
	caPair, err := tls.LoadX509KeyPair(filepath.Join(caDir, "ca.pem"), filepath.Join(caDir, "ca-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: load CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: parse CA: %w", err)
	}
	upPEM, err := os.ReadFile(upstreamCA)
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: read upstream CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(upPEM) {
		return nil, fmt.Errorf("mitm baseline: no certificate in %s", upstreamCA)
	}
	b := &mitmBase{ca: caPair, caCert: caCert, configs: map[string]*tls.Config{}}
	upTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	switch mode {
	case mitmModeNetHTTP:
		b.serve, b.close = serveMITMNetHTTP(newMITMTransport(upTLS))
	case mitmModeLean:
		b.serve, b.close = serveMITMLean(newMITMTransport(upTLS)), func() {}
	case mitmModeFast:
		b.serve, b.close = serveMITMFast(upTLS), func() {}
	default:
		return nil, fmt.Errorf("%s: mode %q: want one of %s", mitmBaseEnv, mode, strings.Join(mitmBaseModes, ", "))
	}
	return b, nil
}

// newMITMTransport is the net/http upstream client of the nethttp and lean
// modes: HTTP/1.1 keep-alive with a pool above the client count.
func newMITMTransport(upTLS *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: tunnelDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     upTLS,
		TLSHandshakeTimeout: mitmHandshakeTimeout,
		MaxIdleConns:        mitmIdleConns,
		MaxIdleConnsPerHost: mitmIdleConns,
		IdleConnTimeout:     clientIdleTimeout,
		DisableCompression:  true,
	}
}

// serveMITMBase runs the baseline of spec ("LISTEN,MODE") until SIGTERM.
func serveMITMBase(spec string) error {
	listen, mode, _ := strings.Cut(spec, ",")
	b, err := newMITMBase(mode, os.Getenv(mitmBaseCAEnv), os.Getenv(mitmBaseUpstreamEnv))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("mitm baseline: listen: %w", err)
	}
	if path := os.Getenv(mitmBaseProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("mitm baseline: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("mitm baseline: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return b.run(ctx, ln)
}

// run accepts on ln until ctx ends.
func (b *mitmBase) run(ctx context.Context, ln net.Listener) error {
	defer b.close()
	return acceptUntil(ctx, ln, "mitm baseline", b.conn)
}

// conn answers a CONNECT with 200 and intercepts the tunnel (a GET /ready
// is answered 200, for the harness's readiness poll). Like goproxy, it
// dials the upstream per request, not on CONNECT: a request to a closed
// port is answered 502 inside the tunnel.
func (b *mitmBase) conn(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		_ = c.Close()
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = c.Close()
		return
	}
	host, _, err := net.SplitHostPort(req.Host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = c.Close()
		return
	}
	cfg, err := b.tlsConfig(host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = c.Close()
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = c.Close()
		return
	}
	raw := c
	if br.Buffered() > 0 { // a ClientHello sent with the CONNECT
		raw = &prefixConn{Conn: c, r: br}
	}
	b.serve(tls.Server(raw, cfg), req.Host)
}

// prefixConn reads the bytes a bufio.Reader already took from the
// connection first.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// tlsConfig is the client-facing config for host, its leaf minted once.
func (b *mitmBase) tlsConfig(host string) (*tls.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cfg, ok := b.configs[host]; ok {
		return cfg, nil
	}
	leaf, err := b.mintLeaf(host)
	if err != nil {
		return nil, err
	}
	// TLS 1.2+ and HTTP/1.1 only, as loopguard's ServerTLSConfig.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*leaf}, NextProtos: []string{"http/1.1"}}
	b.configs[host] = cfg
	return cfg, nil
}

// mintLeaf signs an ECDSA P-256 leaf for host (an IP SAN or a DNS SAN)
// with the CA, as loopguard's proxy/ca does; the chain includes the CA.
func (b *mitmBase) mintLeaf(host string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: leaf key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: leaf serial: %w", err)
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(mitmLeafValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(host); ip != nil {
		tpl.IPAddresses = []net.IP{ip}
	} else {
		tpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, b.caCert, &key.PublicKey, b.ca.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("mitm baseline: sign leaf for %s: %w", host, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, b.caCert.Raw}, PrivateKey: key}, nil
}
