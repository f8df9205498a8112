package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Defaults for generated CA certificates.
const (
	// caValidityYears is how long a generated CA is valid: long enough that
	// operators do not have to rotate the trust anchor in every app image.
	caValidityYears = 10
	// backdate is subtracted from NotBefore of every certificate so that a
	// peer whose clock is slightly behind ours still accepts it.
	backdate = time.Hour
	// organization is the subject O of every certificate we issue, so a
	// loopguard-minted certificate is recognisable in a client's error.
	organization = "loopguard"
	// serialBits is the size of random certificate serial numbers.
	serialBits = 128
	// pemTypeCertificate and pemTypePKCS8 are the PEM block types we write.
	pemTypeCertificate = "CERTIFICATE"
	pemTypePKCS8       = "PRIVATE KEY"
)

// Authority is a loaded CA: its certificate, its signing key and a bounded
// cache of leaf certificates it has minted. It is safe for concurrent use.
type Authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	cache   *CertCache
	now     func() time.Time
}

// Option tunes an Authority built by Generate, LoadFiles or LoadOrCreate.
type Option func(*options)

// options holds the settings Option functions change.
type options struct {
	// cacheSize bounds the leaf cache; default DefaultCacheSize.
	cacheSize int
	// now is the clock; default time.Now. Tests replace it.
	now func() time.Time
}

// WithCacheSize bounds the leaf cache to n hosts (default DefaultCacheSize).
// A value <= 0 keeps the default. Lower it on memory-constrained sidecars that
// talk to few hosts.
func WithCacheSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.cacheSize = n
		}
	}
}

// withClock replaces the clock; used by tests to exercise expiry.
func withClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{cacheSize: DefaultCacheSize, now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// Generate creates a fresh ECDSA P-256 CA named commonName. The certificate is
// valid for 10 years (backdated one hour), may sign leaves only (MaxPathLen 0)
// and carries a random 128-bit serial and subject O=loopguard.
func Generate(commonName string, opts ...Option) (*Authority, error) {
	if commonName == "" {
		return nil, errors.New("ca: generate: common name is empty")
	}
	o := buildOptions(opts)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate: key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("ca: generate: %w", err)
	}
	now := o.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{organization}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: generate: sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: generate: parse certificate: %w", err)
	}
	return newAuthority(cert, key, o), nil
}

// newAuthority assembles an Authority from a checked certificate and key.
func newAuthority(cert *x509.Certificate, key crypto.Signer, o options) *Authority {
	return &Authority{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw}),
		key:     key,
		cache:   newCertCache(o.cacheSize, o.now),
		now:     o.now,
	}
}

// newSerial returns a random positive serial of serialBits bits, as RFC 5280
// and CA/B forum rules expect unpredictable serials.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialBits)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// CertPEM returns the CA certificate PEM-encoded, for installing in the app's
// trust store. The caller owns the returned slice.
func (a *Authority) CertPEM() []byte {
	out := make([]byte, len(a.certPEM))
	copy(out, a.certPEM)
	return out
}

// Certificate returns the parsed CA certificate, e.g. to build an
// x509.CertPool. It is shared: callers must not modify it.
func (a *Authority) Certificate() *x509.Certificate {
	return a.cert
}

// Cache returns the Authority's leaf cache. It implements goproxy.CertStorage
// so the proxy can also set it as goproxy's CertStore. Leaf only serves cached
// entries that were issued by this Authority, so a foreign entry stored
// through Fetch is replaced rather than served.
func (a *Authority) Cache() *CertCache {
	return a.cache
}
