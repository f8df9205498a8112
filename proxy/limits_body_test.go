package proxy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// onlyReader hides a reader's other methods (a chunked body of unknown
// length).
type onlyReader struct{ io.Reader }

func TestBufferBody(t *testing.T) {
	t.Parallel()
	const max = 1 << 20
	big := strings.Repeat("x", 300<<10)
	tests := []struct {
		name     string
		body     io.Reader
		size     int64
		budget   int64
		want     bodyOutcome
		wantLen  int  // bytes returned
		reserved bool // the lease holds bytes after the read
	}{
		{"known length", strings.NewReader(big), int64(len(big)), 4 << 20, bodyOK, len(big), true},
		{"chunked", onlyReader{strings.NewReader(big)}, -1, 4 << 20, bodyOK, len(big), true},
		{"empty", strings.NewReader(""), 0, 4 << 20, bodyOK, 0, true},
		{"declared over max", strings.NewReader(big), max + 1, 4 << 20, bodyOversize, 0, false},
		{"chunked over max", onlyReader{strings.NewReader(strings.Repeat("y", max+10))}, -1, 4 << 20, bodyOversize, max + 1, true},
		{"declared over the budget", strings.NewReader(big), int64(len(big)), 100 << 10, bodyBusy, 0, false},
		{"chunked grows past the budget", onlyReader{strings.NewReader(big)}, -1, 100 << 10, bodyBusy, 64 << 10, true},
		{"no room at all", strings.NewReader(big), int64(len(big)), 4 << 10, bodyBusy, 0, false},
		{"read deadline", iotest.ErrReader(os.ErrDeadlineExceeded), -1, 4 << 20, bodyFailed, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBodyBudget(tc.budget, nil)
			l := b.newLease()
			buf, out, err := bufferBody(tc.body, tc.size, max, l)
			if out != tc.want || len(buf) != tc.wantLen {
				t.Fatalf("outcome %d, %d bytes, err %v; want %d, %d bytes", out, len(buf), err, tc.want, tc.wantLen)
			}
			if out == bodyOK && !bytes.Equal(buf, []byte(big)) && tc.wantLen == len(big) {
				t.Fatal("bytes differ")
			}
			if (out == bodyFailed) != (err != nil) || (err != nil && !isReadTimeout(err)) {
				t.Fatalf("err %v for outcome %d", err, out)
			}
			if got := b.used.Load(); (got > 0) != tc.reserved || got > tc.budget {
				t.Fatalf("reserved %d of %d, want reserved=%v", got, tc.budget, tc.reserved)
			}
			if got := b.used.Load(); out == bodyOK && got < int64(len(buf)) {
				t.Fatalf("reserved %d for %d buffered bytes", got, len(buf))
			}
			l.release()
			l.release()
			if got := b.used.Load(); got != 0 {
				t.Fatalf("after release %d bytes still reserved", got)
			}
		})
	}
}

func TestBodyBudgetConcurrent(t *testing.T) {
	t.Parallel()
	b := newBodyBudget(1<<20, nil)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				l := b.newLease()
				if l.grow(300 << 10) {
					if u := b.used.Load(); u > 1<<20 {
						t.Errorf("used %d over the bound", u)
					}
				}
				l.release()
			}
		}()
	}
	for range 8 {
		<-done
	}
	if u := b.used.Load(); u != 0 {
		t.Fatalf("used %d after every release", u)
	}
}

func TestReleasingBodyReleasesOnce(t *testing.T) {
	t.Parallel()
	b := newBodyBudget(100, nil)
	l := b.newLease()
	l.grow(60)
	closed := 0
	rb := &releasingBody{Reader: strings.NewReader("x"), close: func() error { closed++; return errors.New("closed") }, l: l}
	_ = rb.Close()
	_ = rb.Close()
	if b.used.Load() != 0 || closed != 2 {
		t.Fatalf("used %d, inner closes %d", b.used.Load(), closed)
	}
}

// TestStalledBodyHoldsWhatItSent: a body that declares 5 MiB and stalls
// after 10 KiB reserves about what arrived, not what it announced (else a
// few such clients would take the whole bound).
func TestStalledBodyHoldsWhatItSent(t *testing.T) {
	t.Parallel()
	b := newBodyBudget(64<<20, nil)
	l := b.newLease()
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 10<<10)), iotest.ErrReader(os.ErrDeadlineExceeded))
	buf, out, _ := bufferBody(r, 5<<20, 8<<20, l)
	if out != bodyFailed || len(buf) != 10<<10 {
		t.Fatalf("outcome %d with %d bytes", out, len(buf))
	}
	if got := b.used.Load(); got > 32<<10 {
		t.Fatalf("reserved %d bytes for 10 KiB received", got)
	}
	l.release()
}
