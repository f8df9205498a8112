package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/loopguard/loopguard/filters"
	"github.com/rs/zerolog"
)

// A delivery of a hold-policy provider (GitHub, Pipedrive: they never
// redeliver) over inbound.max_body_bytes is not judged — it streams to the
// app untouched, as for other providers — but it must not be lost when the
// app cannot take it. While it streams, its bytes are copied to a spill
// file (spool.dir, 0600) up to spool.max_item_bytes; if the app fails it,
// the rest is read from the provider, its signature checked, and it is
// held like any delivery the app failed. Memory stays at a copy buffer
// while it streams; only holding it reads it whole.

// spillPrefix names spill files; files left by a crash are removed at start.
const spillPrefix = "spill-"

var (
	// errSpillTooLarge: the delivery is over spool.max_item_bytes and
	// cannot be held.
	errSpillTooLarge = errors.New("delivery over spool.max_item_bytes")
	// errSpillTaken is what the transport reads once loopguard took the
	// body back to hold it.
	errSpillTaken = errors.New("body taken back to be held")
)

// spill is an oversize delivery's body as the app reads it (io.Reader for
// the transport), copied to a file on the way.
type spill struct {
	mu    sync.Mutex
	src   io.Reader // what the provider sends: the bytes read so far, then the rest
	f     *os.File
	n     int64 // bytes copied to f
	max   int64
	over  bool  // more than max: not holdable
	werr  error // a failed copy: not holdable
	taken bool  // loopguard read the rest itself (see finish)
	eof   bool
	// tail is what finish read from the provider but could not copy (over
	// max, or a failed write): rest gives it to the app after the file.
	tail []byte
}

func newSpill(dir string, max int64, src io.Reader) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	f, err := os.CreateTemp(dir, spillPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &spill{src: src, f: f, max: max}, nil
}

// Read serves the transport; every byte it reads is copied to the file.
func (s *spill) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken {
		return 0, errSpillTaken
	}
	return s.read(p)
}

func (s *spill) read(p []byte) (int, error) {
	n, err := s.src.Read(p)
	if !s.copy(p[:n]) && s.taken {
		s.tail = append(s.tail, p[:n]...)
	}
	if errors.Is(err, io.EOF) {
		s.eof = true
	}
	return n, err
}

// copy writes b to the file and reports whether it did.
func (s *spill) copy(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if s.over || s.werr != nil {
		return false
	}
	if s.n+int64(len(b)) > s.max {
		s.over = true
		return false
	}
	if _, s.werr = s.f.Write(b); s.werr != nil {
		return false
	}
	s.n += int64(len(b))
	return true
}

// Close is a no-op: the server closes the provider's body when the handler
// returns, and whole may still need it.
func (s *spill) Close() error { return nil }

// finish takes the body back from the transport and reads what the app did
// not read from the provider into the file (stopping past max); then the
// file holds the whole body. It buffers no more than a copy buffer.
func (s *spill) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken = true
	buf := make([]byte, 32<<10)
	for !s.eof && !s.over && s.werr == nil {
		if _, err := s.read(buf); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the rest of the delivery: %w", err)
		}
	}
	switch {
	case s.over:
		return fmt.Errorf("%w (%d bytes)", errSpillTooLarge, s.max)
	case s.werr != nil:
		return fmt.Errorf("spill: %w", s.werr)
	}
	return nil
}

// bytes reads the finished body back from the file.
func (s *spill) bytes() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]byte, s.n)
	if _, err := s.f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("spill: read back: %w", err)
	}
	return b, nil
}

// rest is the body for the app after finish read it but it could not be
// held: the bytes whole read (file, then tail) and what the provider still
// sends.
func (s *spill) rest() io.Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return io.MultiReader(io.NewSectionReader(s.f, 0, s.n), bytes.NewReader(s.tail), s.src)
}

// remove ends the spill: a late read by the transport gets errSpillTaken.
func (s *spill) remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken = true
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

// wasTaken reports whether finish took the body back.
func (s *spill) wasTaken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken
}

// removeStaleSpills deletes spill files a crash left behind: their
// deliveries were either answered by the app or never answered 2xx to
// the provider.
func removeStaleSpills(dir string, log zerolog.Logger) {
	files, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	for _, f := range files {
		if err := os.Remove(f); err == nil {
			log.Info().Str("file", f).Msg("removed a spill file left by an earlier run")
		}
	}
}

// spillWhy says why a hold-policy delivery streams through a spill instead
// of being buffered and judged.
type spillWhy struct {
	outcome string
	reason  filters.Reason
	what    string
}

var (
	whyOversize = spillWhy{"oversize", filters.ReasonOversize, "body over inbound.max_body_bytes"}
	// whyBusy: limits.max_inflight_body_bytes was reached (see
	// bufferDelivery): a 503 would lose the delivery.
	whyBusy = spillWhy{"busy_streamed", filters.ReasonBusy, "in-flight body bytes at limits.max_inflight_body_bytes: unfiltered,"}
)

// serveSpilled streams a delivery of a hold-policy provider that is not
// buffered (oversize, or busy: see spillWhy) to the app through a spill,
// so that it is held if the app fails it (see the top of this file).
// r.Body still yields the whole body (bufferDelivery put back what it
// read). It returns the last outcome counted.
func (in *Inbound) serveSpilled(w http.ResponseWriter, r *http.Request, ip *inProvider, tr *inTrace, why spillWhy) string {
	name := ip.p.Name
	sp, err := newSpill(in.holder.spillDir, in.holder.maxItem, r.Body)
	if err != nil {
		in.log.Error().Err(err).Str("provider", name).Str("outcome", why.outcome).Msg("delivery not buffered: no spill file; streamed untouched and cannot be held if the app fails it")
		in.whole(tr, name, why.outcome, why.reason, why.what+" forwarded untouched (not holdable: no spill file)")
		in.rp.ServeHTTP(w, r)
		return ""
	}
	defer sp.remove()
	in.whole(tr, name, why.outcome, why.reason,
		why.what+" forwarded untouched; held if the app cannot take it (up to spool.max_item_bytes)")
	d := &delivery{ip: ip, req: r, spill: sp}
	if in.holdBehindApp(w, d) {
		return d.outcome
	}
	r2 := r.WithContext(context.WithValue(r.Context(), inKey{}, d))
	r2.Body = io.NopCloser(sp)
	if sp.wasTaken() {
		// holdBehindApp read it to hold it and could not: the app gets
		// what was read and the rest.
		r2.Body = io.NopCloser(sp.rest())
	}
	in.rp.ServeHTTP(w, r2)
	return d.outcome
}
