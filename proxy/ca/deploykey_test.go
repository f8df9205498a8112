package ca

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestDeploymentKeyCreatedPrivateAndReused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	path := filepath.Join(dir, "deployment.key")
	k1, created, err := LoadOrCreateDeploymentKey(path)
	if err != nil || !created {
		t.Fatalf("first start: created %v, err %v", created, err)
	}
	if len(k1) != DeploymentKeySize || bytes.Equal(k1, make([]byte, DeploymentKeySize)) {
		t.Fatalf("key %d bytes, all zero %v", len(k1), bytes.Equal(k1, make([]byte, DeploymentKeySize)))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Fatalf("%s mode %#o, want %#o", p, got, want)
		}
	}
	k2, created, err := LoadOrCreateDeploymentKey(path) // a restart
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("restart: created %v, err %v, same key %v", created, err, bytes.Equal(k1, k2))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the key (no temporary files)", len(ents))
	}
}

// TestDeploymentKeyConcurrentCreate: processes starting at once on one
// volume end up with one key.
func TestDeploymentKeyConcurrentCreate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "deployment.key")
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], _, errs[i] = LoadOrCreateDeploymentKey(path)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("starter %d: err %v, same key %v", i, errs[i], bytes.Equal(keys[i], keys[0]))
		}
	}
}

func TestDeploymentKeyMountedForms(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte{0x5a, 0x01, 0xfe, 0x20}, 8) // ends in a space byte
	cases := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "raw bytes", data: want},
		{name: "hex with newline", data: []byte(hex.EncodeToString(want) + "\n")},
		{name: "base64", data: []byte(base64.StdEncoding.EncodeToString(want))},
		{name: "raw base64url", data: []byte(base64.RawURLEncoding.EncodeToString(want) + "\r\n")},
		{name: "too short", data: []byte("s3cret-but-short\n"), wantErr: "want 32 random bytes"},
		{name: "hex too short", data: []byte(hex.EncodeToString(want[:16])), wantErr: "holds 32 bytes"},
		{name: "33 raw bytes", data: append(bytes.Clone(want), 'x'), wantErr: "not a key"},
		{name: "empty", data: nil, wantErr: "holds 0 bytes"},
		{name: "too large", data: bytes.Repeat([]byte("a"), 4096), wantErr: "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dk")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadDeploymentKey(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want containing %q", err, c.wantErr)
				}
				if len(c.data) > 4 && strings.Contains(err.Error(), string(c.data[:len(c.data)-1])) {
					t.Fatalf("error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("got %x, err %v; want %x", got, err, want)
			}
		})
	}
	// A mounted key is used as it is by LoadOrCreate too: never replaced.
	path := filepath.Join(t.TempDir(), "dk")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(want)), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, created, err := LoadOrCreateDeploymentKey(path); err != nil || created || !bytes.Equal(got, want) {
		t.Fatalf("existing key: created %v, err %v, got %x", created, err, got)
	}
	if _, err := LoadDeploymentKey(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing mounted key loaded")
	}
}
