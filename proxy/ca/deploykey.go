package ca

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DeploymentKeySize is the length of a deployment key: 32 random bytes.
const DeploymentKeySize = 32

// maxDeploymentKeyFile caps how much of a key file is read: the longest
// accepted form is 64 hex digits and a newline.
const maxDeploymentKeyFile = 256

// LoadDeploymentKey reads a deployment key file: exactly 32 raw bytes, or
// 64 hex digits, or the base64 (standard or URL alphabet, padded or not) of
// 32 bytes, with surrounding whitespace ignored for the text forms. Errors
// name the file and never include its content.
func LoadDeploymentKey(path string) ([]byte, error) {
	data, err := readBounded(path, maxDeploymentKeyFile)
	if err != nil {
		return nil, fmt.Errorf("deployment key: %w", err)
	}
	key, err := decodeDeploymentKey(data)
	if err != nil {
		return nil, fmt.Errorf("deployment key: %s: %w", path, err)
	}
	return key, nil
}

func decodeDeploymentKey(data []byte) ([]byte, error) {
	// 32 raw bytes that are all printable are text, not random bytes (odds
	// about 1e-14): e.g. `openssl rand -hex 16`, 128 bits in 32 characters.
	if len(data) == DeploymentKeySize && !printable(data) {
		return data, nil
	}
	text := strings.TrimSpace(string(data))
	if len(text) == 2*DeploymentKeySize {
		if b, err := hex.DecodeString(text); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) == DeploymentKeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("holds %d bytes that are not a key: want %d random bytes, %d hex digits, or their base64 (e.g. `openssl rand -hex %d`)",
		len(data), DeploymentKeySize, 2*DeploymentKeySize, DeploymentKeySize)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// LoadOrCreateDeploymentKey loads the key at path, or generates 32 random
// bytes and writes them there (64 hex digits, mode 0600, directory 0700)
// when the file does not exist; created reports which happened. Creation
// never replaces a file: when another process wins the race, its key is
// loaded, so processes sharing a directory share a key.
func LoadOrCreateDeploymentKey(path string) (key []byte, created bool, err error) {
	if path == "" {
		return nil, false, errors.New("deployment key: path is empty")
	}
	exists, err := fileExists(path)
	if err != nil {
		return nil, false, fmt.Errorf("deployment key: %w", err)
	}
	if exists {
		key, err := LoadDeploymentKey(path)
		return key, false, err
	}
	key = make([]byte, DeploymentKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("deployment key: generate: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, false, fmt.Errorf("deployment key: create directory %s: %w", dir, err)
	}
	won, err := writeFileExclusive(path, []byte(hex.EncodeToString(key)+"\n"), keyMode)
	if err != nil {
		return nil, false, fmt.Errorf("deployment key: %w", err)
	}
	if !won {
		key, err := LoadDeploymentKey(path)
		return key, false, err
	}
	return key, true, nil
}

// writeFileExclusive writes data to path through a temporary file and a
// hard link, so path appears whole or not at all and an existing file is
// never replaced (won false).
func writeFileExclusive(path string, data []byte, mode fs.FileMode) (won bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return false, fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("link %s to %s: %w", name, path, err)
	}
	syncDir(filepath.Dir(path))
	return true, ensureMode(path, mode)
}

// readBounded reads a whole file, refusing files over limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
