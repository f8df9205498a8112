package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File names and limits used by LoadOrCreate and WriteFiles.
const (
	// CertFileName is the CA certificate file inside a CA directory.
	CertFileName = "ca.pem"
	// KeyFileName is the CA private key file inside a CA directory.
	KeyFileName = "ca-key.pem"
	// maxPEMFileSize caps how much of a cert or key file is read, so a wrong
	// path (a log, a device) fails fast instead of exhausting memory.
	maxPEMFileSize = 1 << 20
)

// LoadFiles loads a CA from a PEM certificate file and a PEM private key file
// (PKCS#8, SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"). It checks that
// the certificate is a CA allowed to sign certificates, is not expired, and
// that the key matches it. Errors name the offending file.
func LoadFiles(certFile, keyFile string, opts ...Option) (*Authority, error) {
	o := buildOptions(opts)
	cert, err := loadCertFile(certFile)
	if err != nil {
		return nil, err
	}
	if err := checkCA(cert, o); err != nil {
		return nil, fmt.Errorf("ca: load certificate %s: %w", certFile, err)
	}
	key, err := loadKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("ca: load key %s: key does not match certificate %s", keyFile, certFile)
	}
	return newAuthority(cert, key, o), nil
}

// LoadOrCreate loads the CA in dir (ca.pem and ca-key.pem), or generates one
// named commonName and writes it there when neither file exists; created
// reports which happened. If exactly one of the files exists it refuses to
// guess and returns an error naming the missing one, because regenerating
// would silently invalidate the CA the apps already trust.
//
// It is not safe for several processes to create the same dir at once.
func LoadOrCreate(dir, commonName string, opts ...Option) (a *Authority, created bool, err error) {
	if dir == "" {
		return nil, false, errors.New("ca: load or create: directory is empty")
	}
	certPath := filepath.Join(dir, CertFileName)
	keyPath := filepath.Join(dir, KeyFileName)
	certExists, err := fileExists(certPath)
	if err != nil {
		return nil, false, fmt.Errorf("ca: load or create: %w", err)
	}
	keyExists, err := fileExists(keyPath)
	if err != nil {
		return nil, false, fmt.Errorf("ca: load or create: %w", err)
	}
	switch {
	case certExists && keyExists:
		a, err := LoadFiles(certPath, keyPath, opts...)
		return a, false, err
	case certExists:
		return nil, false, fmt.Errorf("ca: load or create: %s exists but %s is missing; restore it, or remove %s to generate a new CA", certPath, keyPath, certPath)
	case keyExists:
		return nil, false, fmt.Errorf("ca: load or create: %s exists but %s is missing; restore it, or remove %s to generate a new CA", keyPath, certPath, keyPath)
	}
	a, err = Generate(commonName, opts...)
	if err != nil {
		return nil, false, fmt.Errorf("ca: load or create: %w", err)
	}
	if err := a.WriteFiles(dir); err != nil {
		return nil, false, fmt.Errorf("ca: load or create: %w", err)
	}
	return a, true, nil
}

// fileExists reports whether path exists; errors other than "not exist"
// (e.g. permission denied) are returned rather than treated as absence.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("stat %s: %w", path, err)
}

// readPEMFile reads a whole file, refusing files over maxPEMFileSize.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMFileSize {
		return nil, fmt.Errorf("file larger than %d bytes", maxPEMFileSize)
	}
	return data, nil
}

// loadCertFile returns the first CERTIFICATE block of path, parsed.
func loadCertFile(path string) (*x509.Certificate, error) {
	data, err := readPEMFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: load certificate %s: %w", path, err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("ca: load certificate %s: no %s PEM block found", path, pemTypeCertificate)
		}
		if block.Type != pemTypeCertificate {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: load certificate %s: %w", path, err)
		}
		return cert, nil
	}
}

// checkCA verifies cert can act as our signing CA right now.
func checkCA(cert *x509.Certificate, o options) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("certificate is not a CA (basic constraints CA:TRUE missing)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("CA certificate lacks the certSign key usage")
	}
	if now := o.now(); now.After(cert.NotAfter) {
		return fmt.Errorf("CA certificate expired at %s", cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return nil
}

// loadKeyFile returns the first private key block of path, parsed. The error
// never includes key material.
func loadKeyFile(path string) (crypto.Signer, error) {
	data, err := readPEMFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: load key %s: %w", path, err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("ca: load key %s: no private key PEM block found (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", path)
		}
		key, err := parseKeyBlock(block)
		if errors.Is(err, errSkipBlock) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: load key %s: %w", path, err)
		}
		return key, nil
	}
}

// errSkipBlock marks PEM blocks that are not keys (e.g. "EC PARAMETERS").
var errSkipBlock = errors.New("not a private key block")

// parseKeyBlock decodes one PEM block into a signing key.
func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted private keys are not supported; decrypt it first")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case pemTypePKCS8:
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, errSkipBlock
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s block: %w", block.Type, err)
	}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return nil, errors.New("ed25519 keys are not supported (clients rarely accept them); use ECDSA or RSA")
	default:
		return nil, fmt.Errorf("unsupported private key type %T; use ECDSA or RSA", parsed)
	}
}

// publicKeysEqual compares two public keys of any supported type.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
