package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/rs/zerolog"
)

// limits applies configs.Limits to every listener: connection bounds,
// header/body/idle deadlines, and the process-wide bound on buffered body
// bytes. Its refusals are counted in loopguard_rejected_total{listener,
// reason} and logged (at most once a second per listener and reason, with
// the count since the last line).
type limits struct {
	cfg    configs.Limits
	m      *Metrics
	log    zerolog.Logger
	budget *bodyBudget

	mu       sync.Mutex
	conns    map[string]*connLimiter
	lastLogs map[string]*logThrottle
}

func newLimits(c configs.Limits, m *Metrics, log zerolog.Logger) *limits {
	return &limits{
		cfg: c, m: m, log: log, budget: newBodyBudget(int64(c.MaxInflightBodyBytes), m.InflightBodyBytes),
		conns: map[string]*connLimiter{}, lastLogs: map[string]*logThrottle{},
	}
}

// listen bounds a bound listener's connections.
func (lim *limits) listen(name string, ln net.Listener) net.Listener {
	cl := newConnLimiter(ln, lim.cfg.MaxConnections, lim.cfg.RetryAfter.D(), lim.m.ConnectionsOpen.WithLabelValues(name),
		lim.m.Rejected.WithLabelValues(name, "max_connections"), lim.m.IdleClosed.WithLabelValues(name))
	lim.mu.Lock()
	lim.conns[name] = cl
	lim.mu.Unlock()
	return cl
}

// conn finds an open connection of a listener by remote address.
func (lim *limits) conn(listener, remoteAddr string) *trackedConn {
	lim.mu.Lock()
	cl := lim.conns[listener]
	lim.mu.Unlock()
	if cl == nil {
		return nil
	}
	return cl.conn(remoteAddr)
}

// server builds a listener's http.Server: ReadHeaderTimeout bounds the
// headers (slowloris), ReadTimeout the whole request from its first byte —
// net/http clears it once the body is read and on Hijack, so a slow app
// answer or a CONNECT tunnel is never cut by it. No WriteTimeout: answers
// may stream for long.
func (lim *limits) server(name string, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           lim.handler(name, h),
		ConnContext:       withConn,
		ReadHeaderTimeout: lim.cfg.HeaderReadTimeout.D(),
		ReadTimeout:       lim.cfg.BodyReadTimeout.D(),
		IdleTimeout:       lim.cfg.IdleTimeout.D(),
		ConnState:         lim.connState,
		ErrorLog:          nil,
	}
}

func (lim *limits) connState(c net.Conn, st http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateHijacked:
		// net/http cleared the deadlines. An intercepted CONNECT's TLS
		// handshake and first request headers get the header timeout;
		// mitmDeadlines takes over per request. A plain tunnel keeps none.
		if tc.mitm.Load() {
			_ = tc.SetReadDeadline(time.Now().Add(lim.cfg.HeaderReadTimeout.D()))
		}
	}
}

type connKey struct{}

// withConn keeps a connection in its requests' context, so the handler can
// mark it as having served a whole request (StateActive comes with the
// first byte: a slowloris client is "active").
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// reqLimits is a request's limit state, in its context.
type reqLimits struct {
	listener string
	// timedOut: its body hit the read deadline.
	timedOut atomic.Bool
}

type reqLimitsKey struct{}

// limitsOf returns r's limit state (nil for requests read by goproxy
// inside an intercepted CONNECT).
func limitsOf(r *http.Request) *reqLimits {
	rl, _ := r.Context().Value(reqLimitsKey{}).(*reqLimits)
	return rl
}

// listenerOf names the listener r came in on ("outbound" inside an
// intercepted CONNECT).
func listenerOf(r *http.Request) string {
	if rl := limitsOf(r); rl != nil {
		return rl.listener
	}
	return "outbound"
}

// bodyTimedOut reports a request whose body hit the read deadline, so an
// error handler answers 408 rather than blame the upstream.
func bodyTimedOut(r *http.Request) bool {
	rl := limitsOf(r)
	return rl != nil && rl.timedOut.Load()
}

// handler marks each request with its limit state and watches its body for
// the read deadline.
func (lim *limits) handler(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc, ok := r.Context().Value(connKey{}).(*trackedConn); ok {
			tc.served.Store(true)
		}
		rl := &reqLimits{listener: name}
		r = r.WithContext(context.WithValue(r.Context(), reqLimitsKey{}, rl))
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &watchedBody{ReadCloser: r.Body, rl: rl}
		}
		h.ServeHTTP(w, r)
	})
}

type watchedBody struct {
	io.ReadCloser
	rl *reqLimits
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && isReadTimeout(err) {
		b.rl.timedOut.Store(true)
	}
	return n, err
}

// readFailure is the answer to a request whose body could not be read:
// 408 at the read deadline, else 400. The connection is closed after it.
// err is the read's error, or the forward's when the request's body was
// seen to time out (bodyTimedOut).
func (lim *limits) readFailure(r *http.Request, provider string, err error) (int, string) {
	listener := listenerOf(r)
	status, reason := http.StatusBadRequest, "read_error"
	if isReadTimeout(err) || bodyTimedOut(r) {
		status, reason = http.StatusRequestTimeout, "read_timeout"
	}
	detail := "body read failed"
	if err != nil {
		detail = err.Error()
	}
	lim.reject(listener, reason, provider, detail)
	return status, "loopguard: request body not received (" + reason + ")"
}

// answerReadFailure writes readFailure's answer.
func (lim *limits) answerReadFailure(w http.ResponseWriter, r *http.Request, provider string, err error) {
	status, msg := lim.readFailure(r, provider, err)
	w.Header().Set("Connection", "close")
	http.Error(w, msg, status)
}

// busy counts and logs a body refused for the in-flight bound.
func (lim *limits) busy(listener, provider string, size int64) {
	lim.reject(listener, "inflight_bytes", provider, fmt.Sprintf("body of %d bytes (-1: chunked) over limits.max_inflight_body_bytes (%d in flight)", size, lim.budget.used.Load()))
}

// answerBusy writes the 503 with Retry-After of the in-flight bound, then
// reads the rest of the body (up to limit, within the read deadline) into
// nothing: a client still sending would otherwise be reset before it reads
// the answer, and see a network error instead of Retry-After.
func (lim *limits) answerBusy(w http.ResponseWriter, r *http.Request, limit int64) {
	localAnswer{kind: answerRejected, retry: lim.cfg.RetryAfter.D(), why: "busy: limits.max_inflight_body_bytes reached"}.write(w)
	_ = http.NewResponseController(w).Flush()
	drain(r.Body, limit)
}

// drain reads up to limit bytes of body into nothing.
func drain(body io.Reader, limit int64) {
	if body != nil && body != http.NoBody {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, limit))
	}
}

// localResponse builds a response loopguard answers itself (goproxy's
// request handlers return one instead of calling upstream).
func localResponse(req *http.Request, status int, h http.Header, body string) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: req, Close: true,
		Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)),
	}
}

// busyResponse is answerBusy as a local response.
func (lim *limits) busyResponse(req *http.Request) *http.Response {
	secs := retryAfterSeconds(lim.cfg.RetryAfter.D())
	return localResponse(req, http.StatusServiceUnavailable, http.Header{"Retry-After": {secs}},
		"loopguard: busy (limits.max_inflight_body_bytes reached); retry after "+secs+"s\n")
}

// readFailureResponse is answerReadFailure as a local response.
func (lim *limits) readFailureResponse(req *http.Request, provider string, err error) *http.Response {
	status, msg := lim.readFailure(req, provider, err)
	return localResponse(req, status, nil, msg+"\n")
}

// reject counts a refusal and logs it, throttled.
func (lim *limits) reject(listener, reason, provider, detail string) {
	lim.m.Rejected.WithLabelValues(listener, reason).Inc()
	key := listener + "/" + reason
	lim.mu.Lock()
	t := lim.lastLogs[key]
	if t == nil {
		t = &logThrottle{}
		lim.lastLogs[key] = t
	}
	lim.mu.Unlock()
	if n, ok := t.allow(time.Now()); ok {
		lim.log.Warn().Str("listener", listener).Str("reason", reason).Str("provider", provider).Int64("count", n).
			Str("detail", detail).Msg("request refused by a limit (count: refusals of this kind since the last such line)")
	}
}

// logThrottle lets one log line a second through and counts the rest.
type logThrottle struct {
	mu   sync.Mutex
	last time.Time
	n    int64
}

// logEvery is the least time between two refusal lines of one kind.
const logEvery = time.Second

func (t *logThrottle) allow(now time.Time) (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if now.Sub(t.last) < logEvery {
		return 0, false
	}
	n := t.n
	t.last, t.n = now, 0
	return n, true
}

// mitmDeadlines gives requests inside an intercepted CONNECT the deadlines
// http.Server gives the others: goproxy reads those requests itself from
// the hijacked connection, found here by remote address.
type mitmDeadlines struct {
	lim *limits
}

// connect marks the CONNECT's connection as intercepted and returns it
// (nil when it cannot be found), for goproxy to hand to every request
// inside the tunnel as UserData.
func (d *mitmDeadlines) connect(r *http.Request) *trackedConn {
	if d == nil || d.lim == nil || r == nil {
		return nil
	}
	tc := d.lim.conn("outbound", r.RemoteAddr)
	if tc != nil {
		tc.mitm.Store(true)
	}
	return tc
}

// request starts a request's body deadline (its headers are read).
func (d *mitmDeadlines) request(tc *trackedConn) {
	if d != nil && tc != nil {
		_ = tc.SetReadDeadline(time.Now().Add(d.lim.cfg.BodyReadTimeout.D()))
	}
}

// response gives the next request in the tunnel the idle timeout to
// arrive. (The answer is written after this; one that takes longer than the
// idle timeout to send ends the tunnel after it, and the client reconnects.)
func (d *mitmDeadlines) response(tc *trackedConn) {
	if d != nil && tc != nil {
		_ = tc.SetReadDeadline(time.Now().Add(d.lim.cfg.IdleTimeout.D()))
	}
}

// bodies is the process-wide body budget; nil for nil limits (no bound).
func (lim *limits) bodies() *bodyBudget {
	if lim == nil {
		return nil
	}
	return lim.budget
}

// mitmDeadlines are the read deadlines inside intercepted CONNECTs; nil for
// nil limits (none).
func (lim *limits) mitmDeadlines() *mitmDeadlines {
	if lim == nil {
		return nil
	}
	return &mitmDeadlines{lim: lim}
}
