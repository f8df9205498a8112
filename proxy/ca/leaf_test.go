package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLeafVerifiesAgainstOnlyOurCA(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	other := mustGenerate(t)
	tests := []struct {
		host    string
		dnsName string // what a client would check (DNS name or IP literal)
		wantIP  net.IP // nil for DNS SANs
		wantKey string // cache key / normalized host
	}{
		{"api.example.com", "api.example.com", nil, "api.example.com"},
		{"127.0.0.1", "127.0.0.1", net.ParseIP("127.0.0.1"), "127.0.0.1"},
		{"api.example.com:443", "api.example.com", nil, "api.example.com"},
		{"API.Example.COM.", "api.example.com", nil, "api.example.com"},
		{"127.0.0.1:8443", "127.0.0.1", net.ParseIP("127.0.0.1"), "127.0.0.1"},
		{"[::1]:443", "::1", net.ParseIP("::1"), "::1"},
		{"::1", "::1", net.ParseIP("::1"), "::1"},
		{"[2001:db8::1]", "2001:db8::1", net.ParseIP("2001:db8::1"), "2001:db8::1"},
		{"under_score.internal", "under_score.internal", nil, "under_score.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			cert, err := a.Leaf(tt.host)
			if err != nil {
				t.Fatalf("Leaf(%q): %v", tt.host, err)
			}
			leaf := cert.Leaf
			if leaf == nil {
				t.Fatal("tls.Certificate.Leaf is nil")
			}
			if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], a.Certificate().Raw) {
				t.Fatal("chain is not [leaf, CA]")
			}
			if !bytes.Equal(cert.Certificate[0], leaf.Raw) {
				t.Fatal("Leaf field does not match Certificate[0]")
			}
			opts := x509.VerifyOptions{DNSName: tt.dnsName, Roots: poolOf(a), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if _, err := leaf.Verify(opts); err != nil {
				t.Fatalf("Verify with our CA: %v", err)
			}
			opts.Roots = poolOf(other)
			if _, err := leaf.Verify(opts); err == nil {
				t.Fatal("Verify with an unrelated CA succeeded")
			}
			opts.Roots, opts.DNSName = poolOf(a), "wrong.example.org"
			if _, err := leaf.Verify(opts); err == nil {
				t.Fatal("Verify for a different host succeeded")
			}
			if tt.wantIP != nil {
				if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(tt.wantIP) || len(leaf.DNSNames) != 0 {
					t.Fatalf("SANs = IP %v DNS %v, want only IP %v", leaf.IPAddresses, leaf.DNSNames, tt.wantIP)
				}
			} else if !slices.Equal(leaf.DNSNames, []string{tt.wantKey}) || len(leaf.IPAddresses) != 0 {
				t.Fatalf("SANs = DNS %v IP %v, want only DNS %q", leaf.DNSNames, leaf.IPAddresses, tt.wantKey)
			}
			if leaf.Subject.CommonName != tt.wantKey {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tt.wantKey)
			}
		})
	}
}

func TestLeafProperties(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	a := mustGenerate(t, withClock(clock.Now))
	cert, err := a.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	checks := []struct {
		name string
		ok   bool
	}{
		{"ECDSA P-256 private key", ok && key.Curve == elliptic.P256()},
		{"private key matches leaf", ok && key.PublicKey.Equal(leaf.PublicKey)},
		{"server auth only", slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})},
		{"not a CA", !leaf.IsCA},
		{"digital signature usage", leaf.KeyUsage == x509.KeyUsageDigitalSignature},
		{"not before backdated 1h", leaf.NotBefore.Equal(clock.Now().Add(-time.Hour))},
		{"valid 7 days", leaf.NotAfter.Equal(clock.Now().Add(7 * 24 * time.Hour))},
		{"organization", slices.Equal(leaf.Subject.Organization, []string{"loopguard"})},
		{"issuer is our CA", bytes.Equal(leaf.RawIssuer, a.Certificate().RawSubject)},
		{"authority key id", bytes.Equal(leaf.AuthorityKeyId, a.Certificate().SubjectKeyId)},
		{"signature from CA", leaf.CheckSignatureFrom(a.Certificate()) == nil},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if !ck.ok {
				t.Errorf("leaf check %q failed", ck.name)
			}
		})
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	t.Parallel()
	// A CA generated ten years minus two days ago expires in two days.
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	a := mustGenerate(t, withClock(clock.Now))
	clock.Set(a.Certificate().NotAfter.Add(-48 * time.Hour))
	cert, err := a.Leaf("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Leaf.NotAfter.Equal(a.Certificate().NotAfter) {
		t.Fatalf("leaf NotAfter = %v, want clamped to CA NotAfter %v", cert.Leaf.NotAfter, a.Certificate().NotAfter)
	}
}

func TestLeafLongHostHasNoCommonName(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	host := strings.Repeat("a", 60) + ".example.com" // 72 chars: over the CN bound
	cert, err := a.Leaf(host)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf.Subject.CommonName != "" {
		t.Errorf("CN = %q, want empty for a %d-char host", cert.Leaf.Subject.CommonName, len(host))
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: poolOf(a)}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestLeafRejectsBadHosts(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	tests := []struct {
		name, host, wantInErr string
	}{
		{"empty", "", "empty"},
		{"only port", ":443", "no host name"},
		{"only dot", ".", "no host name"},
		{"space", "api example.com", "invalid character"},
		{"slash", "api.example.com/path", "invalid character"},
		{"wildcard", "*.example.com", "invalid character"},
		{"unicode", "bücher.example", "invalid character"},
		{"empty label", "api..example.com", "empty label"},
		{"long label", strings.Repeat("a", 64) + ".com", "label longer"},
		{"long name", strings.Repeat("abcdefghi.", 26) + "com", "longer than 253"},
		{"ipv6 zone", "fe80::1%eth0", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := a.Leaf(tt.host)
			if err == nil {
				t.Fatalf("Leaf(%q) = %v, want error", tt.host, cert.Leaf.DNSNames)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Leaf(%q) error %q does not mention %q", tt.host, err, tt.wantInErr)
			}
			if _, err := a.ServerTLSConfig(tt.host); err == nil {
				t.Errorf("ServerTLSConfig(%q) succeeded, want error", tt.host)
			}
		})
	}
	if n := a.Cache().Len(); n != 0 {
		t.Errorf("cache holds %d entries after only bad hosts", n)
	}
}
