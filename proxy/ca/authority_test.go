package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"
)

func TestGenerateCertificateFields(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	a := mustGenerate(t, withClock(clock.Now))
	c := a.Certificate()

	checks := []struct {
		name string
		ok   bool
	}{
		{"is CA", c.IsCA && c.BasicConstraintsValid},
		{"max path len 0", c.MaxPathLen == 0 && c.MaxPathLenZero},
		{"key usage certSign|crlSign", c.KeyUsage == x509.KeyUsageCertSign|x509.KeyUsageCRLSign},
		{"common name", c.Subject.CommonName == "loopguard test CA"},
		{"organization", slices.Equal(c.Subject.Organization, []string{"loopguard"})},
		{"not before backdated 1h", c.NotBefore.Equal(clock.Now().Add(-time.Hour))},
		{"not after 10y", c.NotAfter.Equal(clock.Now().AddDate(10, 0, 0))},
		{"serial positive", c.SerialNumber.Sign() > 0},
		{"serial at most 128 bits", c.SerialNumber.BitLen() <= 128},
		{"self-signed", c.CheckSignatureFrom(c) == nil},
		{"has subject key id", len(c.SubjectKeyId) > 0},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if !ck.ok {
				t.Errorf("check %q failed for certificate %+v", ck.name, c.Subject)
			}
		})
	}

	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key = %T, want ECDSA P-256", c.PublicKey)
	}
}

func TestGenerateSerialsDiffer(t *testing.T) {
	t.Parallel()
	a, b := mustGenerate(t), mustGenerate(t)
	if a.Certificate().SerialNumber.Cmp(b.Certificate().SerialNumber) == 0 {
		t.Fatal("two generated CAs share a serial number")
	}
}

func TestGenerateRejectsEmptyName(t *testing.T) {
	t.Parallel()
	if _, err := Generate(""); err == nil {
		t.Fatal("Generate(\"\") succeeded, want error")
	}
}

func TestCertPEM(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	p := a.CertPEM()
	block, rest := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("CertPEM is not a single CERTIFICATE block: %q", p)
	}
	if !bytes.Equal(block.Bytes, a.Certificate().Raw) {
		t.Fatal("CertPEM does not encode Certificate()")
	}
	p[0] ^= 0xff
	if bytes.Equal(p, a.CertPEM()) {
		t.Fatal("CertPEM returned shared storage: mutation leaked into the Authority")
	}
}
