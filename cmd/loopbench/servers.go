package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// Server settings of the in-process app and API.
const (
	serverReadHeaderTimeout = 10 * time.Second
	serverIdleTimeout       = 2 * time.Minute
	certValidity            = 24 * time.Hour
	shutdownTimeout         = 5 * time.Second
)

// appAnswer is the app's answer to every webhook.
const appAnswer = `{"ok":true}`

// servers are the in-process fake app (plain HTTP, behind the inbound proxy)
// and fake API (HTTPS with a self-signed certificate) on loopback. The API
// listens three times: apiAddr is the CRM's intercepted host, tunnelAddr is
// not configured (CONNECT passthrough), trackerAddr is the issue tracker's
// intercepted host (the realistic workload).
type servers struct {
	appAddr, apiAddr, tunnelAddr, trackerAddr string
	// certPEM is the API's self-signed certificate (the upstream CA).
	certPEM []byte
	// certPool trusts certPEM.
	certPool *x509.CertPool
	api      *fakeAPI
	srvs     []*http.Server
	logf     func(format string, args ...any)
}

// fakeAPI answers CRM writes with {"id":…,"ok":true} and tracker writes
// with the record (see recordAPI). While capture is on it
// remembers the sentinel loopguard stamped on each record, so the harness
// can build realistic echoes.
type fakeAPI struct {
	capture   atomic.Bool
	sentinels sync.Map // record id -> sentinel string
	sentinel  string   // body path of the sentinel
	// records answers the tracker's issue writes with the record.
	records recordAPI
}

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := path.Base(r.URL.Path)
	if strings.HasPrefix(r.URL.Path, realWritePath) {
		a.records.answer(w, id, body)
		return
	}
	if a.capture.Load() {
		if s := gjson.GetBytes(body, a.sentinel); s.Exists() {
			a.sentinels.Store(id, s.String())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	b := make([]byte, 0, 64)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","ok":true}`...)
	_, _ = w.Write(b)
}

// sentinelOf returns the sentinel captured for a record.
func (a *fakeAPI) sentinelOf(id string) (string, bool) {
	v, ok := a.sentinels.Load(id)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// fakeApp is the app behind the inbound proxy: it reads the delivery and
// accepts it.
type fakeApp struct{ answer []byte }

func (a fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.answer)
}

// startServers starts the app and the API on loopback ports; serve errors
// go to logf.
func startServers(sentinelField string, logf func(format string, args ...any)) (*servers, error) {
	cert, certPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	s := &servers{certPEM: certPEM, certPool: pool, api: &fakeAPI{sentinel: sentinelField}, logf: logf}
	serve := func(h http.Handler, tlsCfg *tls.Config) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("servers: listen: %w", err)
		}
		srv := &http.Server{
			Handler: h, ReadHeaderTimeout: serverReadHeaderTimeout, IdleTimeout: serverIdleTimeout,
			// HTTP/1.1 only, like the proxies under test.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		s.srvs = append(s.srvs, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logf("server %s: %v", ln.Addr(), err)
			}
		}()
		return ln.Addr().String(), nil
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if s.appAddr, err = serve(fakeApp{answer: []byte(appAnswer)}, nil); err != nil {
		return nil, err
	}
	if s.apiAddr, err = serve(s.api, tlsCfg); err != nil {
		s.close()
		return nil, err
	}
	if s.tunnelAddr, err = serve(s.api, tlsCfg); err != nil {
		s.close()
		return nil, err
	}
	if s.trackerAddr, err = serve(s.api, tlsCfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close stops every server.
func (s *servers) close() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range s.srvs {
		_ = srv.Shutdown(ctx)
	}
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed cert: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed cert: serial: %w", err)
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "loopbench upstream"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(certValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed cert: create: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed cert: marshal key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("self-signed cert: key pair: %w", err)
	}
	return cert, certPEM, nil
}
