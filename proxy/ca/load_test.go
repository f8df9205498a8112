package ca

import (
	"bytes"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testdata(name string) string { return filepath.Join("testdata", name) }

func TestLoadFilesAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cert, key string
	}{
		{"RSA CA with PKCS1 key", testdata("rsa_ca.pem"), testdata("rsa_ca.key")},
		{"EC CA with EC PARAMETERS + SEC1 key", testdata("ec_ca.pem"), testdata("ec_ca.key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := LoadFiles(tt.cert, tt.key)
			if err != nil {
				t.Fatalf("LoadFiles: %v", err)
			}
			leaf, err := a.Leaf("api.example.com")
			if err != nil {
				t.Fatalf("Leaf: %v", err)
			}
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: poolOf(a)}); err != nil {
				t.Fatalf("leaf signed by loaded CA does not verify: %v", err)
			}
		})
	}
}

func TestLoadFilesRoundTripPKCS8(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t)
	dir := t.TempDir()
	if err := a.WriteFiles(dir); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	b, err := LoadFiles(filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	if !bytes.Equal(a.Certificate().Raw, b.Certificate().Raw) {
		t.Fatal("loaded certificate differs from written one")
	}
	if !publicKeysEqual(a.key.Public(), b.key.Public()) {
		t.Fatal("loaded key differs from written one")
	}
}

func TestLoadFilesErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	expired := filepath.Join(dir, "expired")
	old := mustGenerate(t, withClock(func() time.Time { return time.Now().AddDate(-11, 0, 0) }))
	if err := old.WriteFiles(expired); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("A"), maxPEMFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cert, key string
		wantFile  string // the file the error must name
		wantInErr string // the problem the error must describe
	}{
		{"missing cert file", testdata("nope.pem"), testdata("ec_ca.key"), testdata("nope.pem"), "no such file"},
		{"garbage cert", testdata("garbage.pem"), testdata("ec_ca.key"), testdata("garbage.pem"), "no CERTIFICATE PEM block"},
		{"huge cert file", huge, testdata("ec_ca.key"), huge, "larger than"},
		{"key given as cert", testdata("ec_ca.key"), testdata("ec_ca.key"), testdata("ec_ca.key"), "no CERTIFICATE PEM block"},
		{"non-CA cert", testdata("not_ca.pem"), testdata("not_ca.key"), testdata("not_ca.pem"), "not a CA"},
		{"expired CA", filepath.Join(expired, CertFileName), filepath.Join(expired, KeyFileName), filepath.Join(expired, CertFileName), "expired"},
		{"mismatched key", testdata("ec_ca.pem"), testdata("rsa_ca.key"), testdata("rsa_ca.key"), "does not match"},
		{"mismatched key same type", testdata("ec_ca.pem"), testdata("not_ca.key"), testdata("not_ca.key"), "does not match"},
		{"garbage key", testdata("ec_ca.pem"), testdata("garbage.pem"), testdata("garbage.pem"), "no private key PEM block"},
		{"cert given as key", testdata("ec_ca.pem"), testdata("ec_ca.pem"), testdata("ec_ca.pem"), "no private key PEM block"},
		{"missing key file", testdata("ec_ca.pem"), testdata("nope.key"), testdata("nope.key"), "no such file"},
		{"encrypted key", testdata("ec_ca.pem"), testdata("encrypted.key"), testdata("encrypted.key"), "encrypted"},
		{"ed25519 key", testdata("ec_ca.pem"), testdata("ed25519.key"), testdata("ed25519.key"), "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := LoadFiles(tt.cert, tt.key)
			if err == nil {
				t.Fatalf("LoadFiles(%s, %s) succeeded, want error", tt.cert, tt.key)
			}
			if a != nil {
				t.Error("LoadFiles returned an Authority alongside an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantFile) {
				t.Errorf("error %q does not name file %s", msg, tt.wantFile)
			}
			if !strings.Contains(msg, tt.wantInErr) {
				t.Errorf("error %q does not mention %q", msg, tt.wantInErr)
			}
			if strings.Contains(msg, "PRIVATE KEY-----") || strings.Contains(msg, "MII") {
				t.Errorf("error %q appears to leak PEM content", msg)
			}
		})
	}
}

func TestLoadOrCreateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca") // does not exist yet

	first, created, err := LoadOrCreate(dir, "loopguard test CA")
	if err != nil {
		t.Fatalf("first LoadOrCreate: %v", err)
	}
	if !created {
		t.Fatal("first LoadOrCreate: created = false, want true")
	}
	second, created, err := LoadOrCreate(dir, "some other name")
	if err != nil {
		t.Fatalf("second LoadOrCreate: %v", err)
	}
	if created {
		t.Fatal("second LoadOrCreate: created = true, want false")
	}
	if !bytes.Equal(first.Certificate().Raw, second.Certificate().Raw) {
		t.Fatal("second LoadOrCreate returned a different certificate")
	}
	// A leaf from the restarted CA must verify against the original trust.
	leaf, err := second.Leaf("api.example.com")
	if err != nil {
		t.Fatalf("Leaf: %v", err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: poolOf(first)}); err != nil {
		t.Fatalf("leaf after restart does not verify against the first CA: %v", err)
	}

	modes := []struct {
		path string
		want fs.FileMode
	}{
		{dir, dirMode},
		{filepath.Join(dir, KeyFileName), 0o600},
		{filepath.Join(dir, CertFileName), 0o644},
	}
	for _, m := range modes {
		t.Run("mode "+filepath.Base(m.path), func(t *testing.T) {
			info, err := os.Stat(m.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != m.want {
				t.Errorf("mode of %s = %#o, want %#o", m.path, got, m.want)
			}
		})
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want only %s and %s (temp files left behind?)", len(entries), CertFileName, KeyFileName)
	}
}

func TestLoadOrCreateExactlyOneFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		present string
		missing string
	}{
		{"only cert", CertFileName, KeyFileName},
		{"only key", KeyFileName, CertFileName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := mustGenerate(t).WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, tt.missing)); err != nil {
				t.Fatal(err)
			}
			a, created, err := LoadOrCreate(dir, "x")
			if err == nil || a != nil || created {
				t.Fatalf("LoadOrCreate = (%v, %v, %v), want error", a, created, err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tt.missing)+" is missing") {
				t.Errorf("error %q does not name the missing file %s", err, tt.missing)
			}
			if _, statErr := os.Stat(filepath.Join(dir, tt.missing)); statErr == nil {
				t.Error("LoadOrCreate recreated the missing file")
			}
		})
	}
}

func TestLoadOrCreateBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir, cn string
	}{
		{"empty dir", "", "cn"},
		{"empty common name", t.TempDir(), ""},
		{"dir is a file", testdata("garbage.pem"), "cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, _, err := LoadOrCreate(tt.dir, tt.cn); err == nil {
				t.Fatalf("LoadOrCreate(%q, %q) = %v, want error", tt.dir, tt.cn, a)
			}
		})
	}
}

func TestLoadOrCreatePropagatesLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CertFileName), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, created, err := LoadOrCreate(dir, "x")
	if err == nil || created {
		t.Fatalf("LoadOrCreate over corrupt files: created=%v err=%v, want error", created, err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, CertFileName)) {
		t.Errorf("error %q does not name the corrupt file", err)
	}
}

func TestWriteFilesFixesExistingModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := mustGenerate(t)
	// Pre-existing files with wrong modes must end up 0600/0644.
	for name, mode := range map[string]fs.FileMode{KeyFileName: 0o666, CertFileName: 0o600} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.WriteFiles(dir); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	want := map[string]fs.FileMode{KeyFileName: 0o600, CertFileName: 0o644}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s mode = %#o, want %#o", name, info.Mode().Perm(), mode)
		}
	}
}

func TestEnsureModeChmods(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := ensureMode(path, 0o600); err != nil {
		t.Fatalf("ensureMode: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %#o after ensureMode, want 0600", info.Mode().Perm())
	}
	if err := ensureMode(filepath.Join(t.TempDir(), "missing"), 0o600); err == nil {
		t.Fatal("ensureMode on a missing file succeeded, want error")
	}
}
