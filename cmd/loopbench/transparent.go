//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/proxy/ca"
	"github.com/loopguard/loopguard/proxy/transparent/netns"
)

// The transparent-mode cases run in a network namespace the harness
// creates: the fake API listens there on 127.0.0.2:443 (captured by the
// rules) and :8443 (not captured: the in-namespace direct baseline), a
// second loopguard runs there as UID 1337 with its transparent listener,
// and "loopguard iptables install" writes the rules. The load generator
// opens its sockets inside the namespace, as an app with no proxy
// settings would.
const (
	tpUID      = 1337
	tpUpstream = "127.0.0.2"
	tpListen   = "127.0.0.1:15001"
)

// transparentEnv is the namespace of the transparent cases.
type transparentEnv struct {
	ns    *netns.NS
	lg    *sidecar
	roots *x509.CertPool
	srvs  []*http.Server
}

// startTransparent prepares the namespace; it returns why the transparent
// cases are skipped when it cannot (not root, tools missing, no binary).
func startTransparent(ctx context.Context, bin, dir string, api http.Handler) (*transparentEnv, string) {
	if miss := netns.Missing("iptables", "setpriv"); miss != "" {
		return nil, "transparent cases need " + miss
	}
	if bin == "" {
		return nil, "transparent cases need a loopguard binary (not --sidecar-cmd): it runs as UID 1337 inside a namespace"
	}
	e := &transparentEnv{}
	if err := e.start(ctx, bin, dir, api); err != nil {
		e.close()
		return nil, "transparent cases: " + firstLine(err.Error())
	}
	return e, ""
}

func (e *transparentEnv) start(ctx context.Context, bin, dir string, api http.Handler) error {
	var err error
	if e.ns, err = netns.Create(ctx, "lgbench"+strconv.Itoa(os.Getpid()%1000000)); err != nil {
		return err
	}
	auth, err := ca.Generate("loopbench transparent upstream CA")
	if err != nil {
		return err
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return auth.Leaf(h.ServerName) }}
	for _, port := range []string{"443", tpDirectPort} {
		ln, err := e.ns.Listen("tcp", net.JoinHostPort(tpUpstream, port))
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: api, ReadHeaderTimeout: serverReadHeaderTimeout, IdleTimeout: serverIdleTimeout,
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
		e.srvs = append(e.srvs, srv)
		go func() { _ = srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	}
	tdir := filepath.Join(dir, "transparent")
	for _, d := range []string{tdir, filepath.Join(tdir, "ca"), filepath.Join(tdir, "spool")} {
		if err := os.MkdirAll(d, runDirMode); err != nil {
			return err
		}
		if err := os.Chown(d, tpUID, tpUID); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tdir, "upstream.pem"), auth.CertPEM(), 0o644); err != nil {
		return err
	}
	// A copy UID 1337 can execute wherever the original lives.
	b, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	bin = filepath.Join(tdir, "loopguard")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		return err
	}
	a := sidecarAddrs{outbound: "127.0.0.1:18080", inbound: "127.0.0.1:18081", admin: "127.0.0.1:19090", gateway: "127.0.0.1:18082"}
	// The upstream is on a loopback alias: splices to it need outbound.allow.
	cfg := renderConfig(tdir, a, &servers{appAddr: "127.0.0.1:3000", apiAddr: tpAPIHost, tunnelAddr: tpUpstream, trackerAddr: tpTrackerHost})
	cfg = strings.Replace(cfg, "listen:\n", "listen:\n  transparent: "+tpListen+"\n", 1)
	cfgPath := filepath.Join(tdir, "loopguard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	install := e.ns.Command(ctx, bin, "iptables", "install", "--exclude-uid", strconv.Itoa(tpUID), "--ipv6=false")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("loopguard iptables install: %w: %s", err, out)
	}
	logPath := filepath.Join(tdir, "loopguard.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	uid := strconv.Itoa(tpUID)
	cmd := e.ns.Command(context.Background(), "setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", bin, "run", "--config", cfgPath)
	cmd.Env = sidecarEnviron()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start loopguard in the namespace: %w", err)
	}
	e.lg = &sidecar{cmd: cmd, addrs: a, logPath: logPath, done: make(chan error, 1),
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: e.ns.DialContext}}}
	go func() { e.lg.done <- cmd.Wait() }()
	if err := e.lg.waitReady(ctx); err != nil {
		return err
	}
	if e.lg.caPEM, err = os.ReadFile(filepath.Join(tdir, "ca", "ca.pem")); err != nil {
		return fmt.Errorf("read the namespace loopguard's CA: %w", err)
	}
	e.roots = newPool(auth.CertPEM())
	e.roots.AppendCertsFromPEM(e.lg.caPEM)
	return nil
}

// client is a keep-alive client with no proxy settings whose sockets open
// inside the namespace; its "DNS" sends both host names to the upstream.
func (e *transparentEnv) client(conns int) *http.Client {
	c := newClient(conns, nil, e.roots)
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return e.ns.DialContext(ctx, network, net.JoinHostPort(tpUpstream, port))
	}
	return c
}

// close stops loopguard and the servers and deletes the namespace (its
// rules go with it).
func (e *transparentEnv) close() {
	if e.lg != nil {
		e.lg.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range e.srvs {
		_ = s.Shutdown(ctx)
	}
	if e.ns != nil {
		if err := e.ns.Delete(); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "loopbench:", err)
		}
	}
}
