package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// directForward sends a judged delivery whose body is in memory straight
// to the app through the app client's fasthttp HostClient, doing what
// httputil.ReverseProxy (with Inbound's Rewrite: SetURL, the provider's
// Host kept, SetXForwarded), appClient.RoundTrip, Inbound.modifyResponse
// and Inbound.errorHandler do for it, without the request clone, the
// header copies and the *http.Response they need (about a third of a
// delivery's allocations, issue 19).
//
// What reaches the app and the provider is the same as through
// ReverseProxy: hop-by-hop headers (RFC 7230 6.1, and those named in
// Connection) and the provider's Forwarded / X-Forwarded-* are removed,
// X-Forwarded-For/Host/Proto set, "Te: trailers" kept, no User-Agent
// added; the app's answer has its hop-by-hop headers removed, its header
// names canonical, its body streamed (flushed per write when its length is
// unknown or it is an event stream) and, when the copy fails midway, the
// provider's connection aborted (http.ErrAbortHandler).
// TestInboundDirectMatchesReverseProxy compares the two on the wire.
//
// Requests it does not take (see takes) keep ReverseProxy.
type directForward struct {
	hc   *fasthttp.HostClient
	bufs *bufferPool
	// target is app_url's host (the Host of a request that has none).
	target string
}

// newDirectForward is the direct path to the app behind tr, or nil when
// there is none: tr is not an appClient with a fasthttp client, or app's
// URL has a path or query (ReverseProxy joins those with the request's;
// the direct path sends the request's URI as is).
func newDirectForward(tr http.RoundTripper, app *url.URL, bufs *bufferPool) *directForward {
	c, ok := tr.(*appClient)
	if !ok || c.hc == nil || app == nil || (app.Path != "" && app.Path != "/") ||
		app.RawPath != "" || app.RawQuery != "" || app.ForceQuery || app.Opaque != "" {
		return nil
	}
	return &directForward{hc: c.hc, bufs: bufs, target: app.Host}
}

// takes is whether the direct path forwards r (whose body, in memory, is
// d.body): not a HEAD (no body to read back), an upgrade, a request with
// trailers, a spilled body, nor a URI that ReverseProxy would change
// (an opaque URL, a query with parameters it drops: cleanQueryParams).
func (f *directForward) takes(r *http.Request, d *delivery) bool {
	return f != nil && d.spill == nil && r.Method != http.MethodHead && r.Trailer == nil &&
		r.Header.Get("Upgrade") == "" && r.URL.Opaque == "" && cleanQuery(r.URL.RawQuery)
}

// cleanQuery is whether ReverseProxy's cleanQueryParams leaves q as is:
// no ';' and no malformed %-escape.
func cleanQuery(q string) bool {
	for i := 0; i < len(q); {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 3
		default:
			i++
		}
	}
	return true
}

// forwardDirect forwards d (body in memory: d.body) to the app and
// answers the provider; it returns the last outcome counted.
func (in *Inbound) forwardDirect(w http.ResponseWriter, r *http.Request, d *delivery) string {
	f := in.direct
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	f.request(req, r, d.body)
	resp := fasthttp.AcquireResponse()
	resp.Header.SetNoDefaultContentType(true)
	if err := f.hc.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		if errors.Is(err, fasthttp.ErrTimeout) {
			err = fmt.Errorf("forward to the app: %w (%w)", err, context.DeadlineExceeded)
		} else {
			err = fmt.Errorf("forward to the app: %w", err)
		}
		in.appFailed(w, r, d, err)
		return d.outcome
	}
	body := &fastBody{resp: resp}
	defer body.Close()
	status := resp.StatusCode()
	if status == http.StatusSwitchingProtocols {
		// ReverseProxy: the answer is judged, then refused (nothing asked
		// for an upgrade).
		in.appAnswered(r.Context(), d, status, body)
		in.appFailed(w, r, d, errors.New("forward to the app: the app switched protocols unasked"))
		return d.outcome
	}
	if a := in.appAnswered(r.Context(), d, status, body); a != nil {
		st, h, b := a.render()
		h.Set("Content-Length", strconv.Itoa(len(b)))
		copyInto(w.Header(), h)
		w.WriteHeader(st)
		_, _ = w.Write(b)
		return d.outcome
	}
	n := f.answerHeader(w.Header(), resp)
	w.WriteHeader(status)
	flush := n < 0 || eventStream(w.Header().Get("Content-Type"))
	if err := f.copyAnswer(w, body, flush); err != nil {
		// As ReverseProxy: the answer is streaming, so all that is left is
		// to abort the provider's connection (when there is one: a test
		// calling ServeHTTP directly has none).
		var rerr appReadError
		if errors.As(err, &rerr) {
			in.log.Warn().Err(rerr.err).Str(fieldProvider, d.ip.p.Name).Msg("reading the app's answer failed midway; the provider's connection is aborted")
		}
		if r.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
	}
	return d.outcome
}

// request fills req with what ReverseProxy and appClient.RoundTrip would
// send for r with body.
func (f *directForward) request(req *fasthttp.Request, r *http.Request, body []byte) {
	req.Header.DisableNormalizing()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.RequestURI())
	host := r.Host
	if host == "" {
		host = f.target
	}
	req.Header.SetHost(host)
	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		if dropOnForward(k) || (len(conn) > 0 && namedIn(conn, k)) {
			continue
		}
		if k == "User-Agent" && len(vs) == 1 && vs[0] == "" {
			continue // no User-Agent of loopguard's own
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if hasToken(r.Header["Te"], "trailers") {
		req.Header.Add("Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Header.Add("X-Forwarded-For", ip)
	}
	req.Header.Add("X-Forwarded-Host", r.Host)
	if r.TLS == nil {
		req.Header.Add("X-Forwarded-Proto", "http")
	} else {
		req.Header.Add("X-Forwarded-Proto", "https")
	}
	req.SetBodyRaw(body)
}

// dropOnForward: the request headers the app never gets from the
// provider: hop-by-hop (ReverseProxy's list), forwarding headers
// (Rewrite sets its own), and framing (fasthttp's: the body is in hand,
// so there is no 100-continue to wait for).
func dropOnForward(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Host", "Content-Length", "Expect":
		return true
	}
	return false
}

// hopByHop: the answer headers the provider never gets from the app
// (ReverseProxy's removeHopByHopHeaders).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// namedIn is whether the Connection header values conn name header k
// (canonical).
func namedIn(conn []string, k string) bool {
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" && textproto.CanonicalMIMEHeaderKey(sf) == k {
				return true
			}
		}
	}
	return false
}

// answerHeader puts the app's answer headers into h as ReverseProxy would
// (names canonical, hop-by-hop removed, repeated values in order) and
// returns the answer's length (-1: unknown, no Content-Length).
func (f *directForward) answerHeader(h http.Header, resp *fasthttp.Response) int64 {
	n := int64(resp.Header.ContentLength())
	var conn []string
	count, size := 0, 0
	for k, v := range resp.Header.All() {
		if strings.EqualFold(string(k), "Connection") {
			conn = append(conn, string(v))
		}
		count++
		size += len(v)
	}
	// One string holds every value and one array every value slice (capped,
	// so that a later Add copies rather than overwrites its neighbour).
	vals := make([]string, 0, count)
	buf := make([]byte, 0, size)
	for _, v := range resp.Header.All() {
		buf = append(buf, v...)
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	off := 0
	for k, v := range resp.Header.All() {
		val := all[off : off+len(v)]
		off += len(v)
		key := canonicalKey(k)
		if hopByHop(key) || (len(conn) > 0 && namedIn(conn, key)) || (n < 0 && key == "Content-Length") {
			continue
		}
		if cur, ok := h[key]; ok {
			h[key] = append(cur, val)
			continue
		}
		vals = append(vals, val)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if n < 0 {
		return -1
	}
	return n
}

// commonAnswerHeaders are canonical names an app's answer usually has:
// canonicalKey returns these without allocating.
var commonAnswerHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Type", "Content-Length", "Date", "Server", "Set-Cookie", "Cache-Control",
		"Connection", "Etag", "Last-Modified", "Location", "Vary", "X-Request-Id", "Content-Encoding", "Expires",
		"Keep-Alive", "Transfer-Encoding", "Retry-After", "Access-Control-Allow-Origin", "Strict-Transport-Security",
		"X-Content-Type-Options", "X-Frame-Options", "Pragma"} {
		m[k] = k
	}
	return m
}()

// canonicalKey is http.CanonicalHeaderKey(string(k)), without an
// allocation for a common header name.
func canonicalKey(k []byte) string {
	var buf [40]byte
	if len(k) > len(buf) {
		return http.CanonicalHeaderKey(string(k))
	}
	c := buf[:len(k)]
	upper := true
	for i, b := range k {
		if !validHeaderByte(b) {
			return http.CanonicalHeaderKey(string(k)) // left as is by net/http
		}
		switch {
		case upper && 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		case !upper && 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		}
		c[i] = b
		upper = b == '-'
	}
	if s, ok := commonAnswerHeaders[string(c)]; ok {
		return s
	}
	return http.CanonicalHeaderKey(string(k))
}

// validHeaderByte: a token byte (RFC 7230) that is not a space; net/http
// leaves a name with any other byte as it is.
func validHeaderByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// eventStream is whether an answer of Content-Type ct is a server-sent
// event stream (ReverseProxy flushes those after each write).
func eventStream(ct string) bool {
	if !strings.Contains(strings.ToLower(ct), "event-stream") {
		return false
	}
	t, _, err := mime.ParseMediaType(ct)
	return err == nil && t == "text/event-stream"
}

// copyInto adds src's values to dst (ReverseProxy's copyHeader).
func copyInto(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append(dst[k], vs...)
	}
}

// copyAnswer streams the app's answer to the provider through a pooled
// buffer (ReverseProxy's copyResponse), flushing after each write when
// flush is set.
func (f *directForward) copyAnswer(w http.ResponseWriter, src io.Reader, flush bool) error {
	bp := f.bufs.get()
	defer f.bufs.put(bp)
	buf := *bp
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
			if rc != nil {
				_ = rc.Flush() // as ReverseProxy's: a failed flush shows in the next write
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return appReadError{rerr}
		}
	}
}

// appReadError is a failure to read the app's answer (not to write it to
// the provider).
type appReadError struct{ err error }

func (e appReadError) Error() string { return "read the app's answer: " + e.err.Error() }
func (e appReadError) Unwrap() error { return e.err }
