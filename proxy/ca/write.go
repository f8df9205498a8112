package ca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes used when writing a CA.
const (
	// dirMode keeps the CA directory private to the proxy's user.
	dirMode fs.FileMode = 0o700
	// keyMode keeps the private key readable by the proxy's user only.
	keyMode fs.FileMode = 0o600
	// certMode lets anyone read the certificate, which is public anyway and
	// must be copied into app trust stores.
	certMode fs.FileMode = 0o644
)

// WriteFiles writes the CA to dir as ca.pem (0644) and ca-key.pem (0600, in
// PKCS#8), creating dir with mode 0700 if needed. Each file is written to a
// temporary file and renamed into place, so readers never see a partial
// file; existing files are replaced. The key is written first.
func (a *Authority) WriteFiles(dir string) error {
	if dir == "" {
		return errors.New("ca: write files: directory is empty")
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("ca: write files: create directory %s: %w", dir, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(a.key)
	if err != nil {
		return fmt.Errorf("ca: write files: encode key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: pemTypePKCS8, Bytes: keyDER})
	if err := writeFileAtomic(filepath.Join(dir, KeyFileName), keyPEM, keyMode); err != nil {
		return fmt.Errorf("ca: write files: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, CertFileName), a.certPEM, certMode); err != nil {
		return fmt.Errorf("ca: write files: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path via a temporary file in the same
// directory and a rename, then verifies the final mode (fixing it with chmod
// if a filesystem or umask interfered).
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp opens with 0600, so the key is never briefly world-readable.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmpName, path, err)
	}
	syncDir(dir)
	return ensureMode(path, mode)
}

// ensureMode checks path has exactly mode, chmods it if not, and checks again.
func ensureMode(path string, mode fs.FileMode) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if info.Mode().Perm() == mode {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s to %#o: %w", path, mode, err)
	}
	info, err = os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if got := info.Mode().Perm(); got != mode {
		return fmt.Errorf("%s has mode %#o after chmod, want %#o", path, got, mode)
	}
	return nil
}

// syncDir flushes the directory entry of a rename. Best effort: some
// platforms cannot fsync directories and the rename itself already happened.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
