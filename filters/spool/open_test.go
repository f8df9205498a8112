package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenValidation(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"missing path", Options{}, "Options.Path is required"},
		{"negative bytes", Options{Path: filepath.Join(dir, "a.db"), MaxBytes: -1}, "must not be negative"},
		{"negative items", Options{Path: filepath.Join(dir, "b.db"), MaxItems: -1}, "must not be negative"},
		{"negative timeout", Options{Path: filepath.Join(dir, "c.db"), OpenTimeout: -1}, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestOpenCreatesPrivateFileAndDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "spool.db")
	s := openTemp(t, Options{Path: path})
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%s mode %o, want %o", c.path, got, c.want)
		}
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("new spool Len=%d Bytes=%d", s.Len(), s.Bytes())
	}
}

func TestOpenTwiceTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	openTemp(t, Options{Path: path})
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		s, err := Open(Options{Path: path, OpenTimeout: 100 * time.Millisecond})
		if err == nil {
			_ = s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Fatalf("second Open: %v, want ErrLocked naming %s", err, path)
		}
		// bbolt polls the lock every 50ms, so it gives up within [timeout-50ms, timeout+50ms].
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Fatalf("second Open failed after %s, without waiting for the lock", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Open hung")
	}
}

func TestClosedSpoolReturnsErrors(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "spool.db")})
	if err != nil {
		t.Fatal(err)
	}
	seq := mustAppend(t, s, testItem("q/a", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		op   func() error
	}{
		{"append", func() error { _, err := s.Append(testItem("q/a", 2)); return err }},
		{"peek", func() error { _, err := s.Peek("q/a", 1); return err }},
		{"remove", func() error { return s.Remove("q/a", seq) }},
		{"mark", func() error { return s.MarkAttempt("q/a", seq) }},
		{"queues", func() error { _, err := s.Queues(); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err == nil || !strings.Contains(err.Error(), "spool: ") {
				t.Fatalf("%s on closed spool: %v, want a spool error", tc.name, err)
			}
		})
	}
}

func TestOpenRejectsForeignFiles(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"not a bbolt file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "spool: open"},
		{"newer format", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte(metaBucket))
				if err != nil {
					return err
				}
				return b.Put([]byte(keyFormat), []byte{2})
			}); err != nil {
				t.Fatal(err)
			}
		}, "unsupported spool format"},
		{"bad counter", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte(metaBucket))
				if err != nil {
					return err
				}
				return b.Put([]byte(keyItems), []byte{1, 2, 3})
			}); err != nil {
				t.Fatal(err)
			}
		}, `meta counter "items" has 3 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spool.db")
			tc.setup(t, path)
			s, err := Open(Options{Path: path, OpenTimeout: 200 * time.Millisecond})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q, want it to name %s and contain %q", err, path, tc.want)
			}
			// The file must not stay locked after a failed Open.
			if tc.name != "not a bbolt file" {
				db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 200 * time.Millisecond})
				if err != nil {
					t.Fatalf("file still locked after failed Open: %v", err)
				}
				_ = db.Close()
			}
		})
	}
}
