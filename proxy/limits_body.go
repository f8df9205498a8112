package proxy

import (
	"errors"
	"io"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// bodyBudget bounds the body bytes the whole process buffers at once
// (limits.max_inflight_body_bytes). A body's bytes are reserved before
// they are buffered and given back when the body is done with; a body that
// does not fit is not buffered at all (see bufferBody's callers for what
// each direction does then). A nil budget is unbounded.
type bodyBudget struct {
	max   int64
	used  atomic.Int64
	gauge prometheus.Gauge // nil: not exported
}

func newBodyBudget(max int64, gauge prometheus.Gauge) *bodyBudget {
	return &bodyBudget{max: max, gauge: gauge}
}

// take reserves n bytes; false when that would pass the bound.
func (b *bodyBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			if b.gauge != nil {
				b.gauge.Add(float64(n))
			}
			return true
		}
	}
}

func (b *bodyBudget) give(n int64) {
	b.used.Add(-n)
	if b.gauge != nil {
		b.gauge.Sub(float64(n))
	}
}

// lease is one body's reservation. It grows while the body is read and is
// released once, by whoever is last to need the bytes (a handler's defer, or
// the Close of the body that carries them on).
type lease struct {
	b *bodyBudget
	n atomic.Int64
}

// newLease starts an empty reservation on b (nil b: unbounded).
func (b *bodyBudget) newLease() *lease { return &lease{b: b} }

// grow reserves n more bytes.
func (l *lease) grow(n int64) bool {
	if l == nil || l.b == nil {
		return true
	}
	if !l.b.take(n) {
		return false
	}
	l.n.Add(n)
	return true
}

// fits reports whether n more bytes would fit in the budget now (nothing
// is reserved).
func (l *lease) fits(n int64) bool {
	return l == nil || l.b == nil || l.b.used.Load()+n <= l.b.max
}

// release gives every reserved byte back; later calls do nothing.
func (l *lease) release() {
	if l == nil || l.b == nil {
		return
	}
	if n := l.n.Swap(0); n > 0 {
		l.b.give(n)
	}
}

// bodyOutcome is how buffering a body ended.
type bodyOutcome uint8

const (
	bodyOK       bodyOutcome = iota
	bodyOversize             // larger than the per-body bound: not buffered
	bodyBusy                 // the process-wide bound is reached: not buffered
	bodyFailed               // reading failed (client gone, read deadline)
)

// bodyReadStep is where a body's buffer, and its reservation, start; they
// grow by doubling as bytes arrive, up to the declared length (or max), so
// a body that stalls holds what it sent, not what it announced.
const bodyReadStep = 8 << 10

// bufferBody reads r into memory, at most limit bytes, reserving every byte
// of buffer from l before it is allocated. size is the declared length (-1
// unknown). Unless the outcome is bodyOK, buf holds what was read so far
// (for the caller to put back in front of the rest), and err is the read
// error of bodyFailed.
func bufferBody(r io.Reader, size, limit int64, l *lease) (buf []byte, out bodyOutcome, err error) {
	if size > limit {
		return nil, bodyOversize, nil
	}
	// One byte past the declared length (or past limit) tells a body that
	// is longer than it said (or too large) apart from one that fits.
	ceiling := limit + 1
	if size >= 0 {
		ceiling = size + 1
	}
	if size >= 0 && !l.fits(ceiling) {
		// It could not be buffered whole now: refuse before reading any
		// of it rather than part way.
		return nil, bodyBusy, nil
	}
	first := min(int64(bodyReadStep), ceiling)
	if !l.grow(first) {
		return nil, bodyBusy, nil
	}
	buf = make([]byte, 0, first)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, bodyOversize, nil
			}
			// Doubling, up to the ceiling; a body longer than it declared
			// (net/http never gives one) still stops at limit+1.
			c := int64(cap(buf))
			next := min(max(2*c, bodyReadStep), max(ceiling, c+1), limit+1)
			if !l.grow(next - c) {
				return buf, bodyBusy, nil
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return buf, bodyFailed, rerr
		}
	}
	if int64(len(buf)) > limit {
		return buf, bodyOversize, nil
	}
	return buf, bodyOK, nil
}

// isReadTimeout reports a read that failed at its deadline
// (limits.body_read_timeout): answered 408.
func isReadTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// releasingBody is a body that gives its lease back when closed (the
// transport closes a request body once sent; the proxies close a response
// body once copied).
type releasingBody struct {
	io.Reader
	close func() error
	l     *lease
}

func (b *releasingBody) Close() error {
	b.l.release()
	if b.close != nil {
		return b.close()
	}
	return nil
}
