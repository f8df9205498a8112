package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/elazarl/goproxy"
)

// Leaf certificate settings.
const (
	// leafValidity is how long a minted leaf is valid. Short, because leaves
	// are cheap to re-mint and a leaked one should age out quickly.
	leafValidity = 7 * 24 * time.Hour
	// maxHostLen is the longest DNS name accepted (RFC 1035).
	maxHostLen = 253
	// maxLabelLen is the longest DNS label accepted (RFC 1035).
	maxLabelLen = 63
	// maxCommonNameLen is the ASN.1 upper bound for a subject CN; longer
	// hosts get a leaf without CN (SANs are what clients check anyway).
	maxCommonNameLen = 64
	// alpnHTTP11 is the only protocol offered to intercepted clients: the
	// proxy's interception path speaks HTTP/1.1.
	alpnHTTP11 = "http/1.1"
)

// Leaf returns a leaf certificate for host, signed by the CA. host may carry
// a port ("api.example.com:443", "[::1]:443"), which is ignored; an IP address
// yields an IP SAN, anything else a DNS SAN. The certificate is ECDSA P-256,
// for server auth, valid 7 days (backdated one hour, never past the CA's own
// expiry) and its chain includes the CA certificate.
//
// Results are cached per host: repeated and concurrent calls return the same
// *tls.Certificate until it is within one day of expiry. Callers must not
// modify it.
func (a *Authority) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := normalizeHost(host)
	if err != nil {
		return nil, fmt.Errorf("ca: leaf: %w", err)
	}
	accept := a.issuedByUs
	if cert, ok := a.cache.lookup(name, accept); ok {
		return cert, nil // hot path: no generator closure needed
	}
	return a.cache.fetch(name,
		func() (*tls.Certificate, error) { return a.signLeaf(name, ip) },
		accept)
}

// issuedByUs reports whether a cached entry chains to this CA; entries put in
// the shared cache through Fetch by other generators are not served by Leaf.
func (a *Authority) issuedByUs(e *cacheEntry) bool {
	chain := e.cert.Certificate
	return len(chain) >= 2 &&
		bytes.Equal(chain[len(chain)-1], a.cert.Raw) &&
		bytes.Equal(e.leaf.RawIssuer, a.cert.RawSubject)
}

// signLeaf mints a new leaf for the normalized name (and ip, when it is one).
func (a *Authority) signLeaf(name string, ip net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := a.now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{organization}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if len(name) <= maxCommonNameLen {
		tmpl.Subject.CommonName = name
	}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("sign leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse leaf: %w", err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, a.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// normalizeHost strips a port and brackets, canonicalizes IPs and lowercases
// DNS names, rejecting anything that is not a plausible host name.
func normalizeHost(host string) (string, net.IP, error) {
	orig := host
	if host == "" {
		return "", nil, errors.New("host is empty")
	}
	if strings.Contains(host, ":") { // skip SplitHostPort's error allocation for bare names
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if looksLikeIP(host) {
		if ip := net.ParseIP(host); ip != nil {
			return ip.String(), ip, nil
		}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if err := validDNSName(host); err != nil {
		return "", nil, fmt.Errorf("host %q: %w", orig, err)
	}
	return host, nil, nil
}

// looksLikeIP is a cheap pre-check that spares DNS names the allocation a
// failed net.ParseIP costs: IPv6 literals contain ':' and IPv4 ones only
// digits and dots.
func looksLikeIP(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	for _, r := range host {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return host != ""
}

// validDNSName checks length, label sizes and characters (letters, digits,
// '-' and '_', which some internal hosts use).
func validDNSName(name string) error {
	if name == "" {
		return errors.New("no host name")
	}
	if len(name) > maxHostLen {
		return fmt.Errorf("longer than %d characters", maxHostLen)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		if len(label) > maxLabelLen {
			return fmt.Errorf("label longer than %d characters", maxLabelLen)
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			if !ok {
				return fmt.Errorf("invalid character %q", r)
			}
		}
	}
	return nil
}

// ServerTLSConfig returns the TLS config the proxy presents to an intercepted
// client for host: TLS 1.2+, the host's leaf, and HTTP/1.1 only.
func (a *Authority) ServerTLSConfig(host string) (*tls.Config, error) {
	leaf, err := a.Leaf(host)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   []string{alpnHTTP11},
	}, nil
}

// ConnectAction returns the goproxy CONNECT action that intercepts TLS with
// this CA. Use it instead of goproxy's built-in MITM actions, whose CA key is
// public.
func (a *Authority) ConnectAction() *goproxy.ConnectAction {
	return &goproxy.ConnectAction{
		Action: goproxy.ConnectMitm,
		TLSConfig: func(host string, _ *goproxy.ProxyCtx) (*tls.Config, error) {
			return a.ServerTLSConfig(host)
		},
	}
}
