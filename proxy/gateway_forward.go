package proxy

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
)

// The gateway's own forwarder: what httputil.ReverseProxy does for the
// gateway's requests, with one copy of the request instead of three (the
// gateway's clone, ReverseProxy's clone and its trace context) and the
// answer streamed with a pooled buffer. Requests that ask to switch
// protocols (Upgrade) still go through ReverseProxy, which relays them.

// hopHeaders are the hop-by-hop fields a proxy removes besides those the
// Connection field names (RFC 9110 section 7.6.1; the list of RFC 2616
// section 13.5.1 that ReverseProxy keeps removing, for the same clients).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop deletes the fields the Connection field names, then the
// fixed hop-by-hop fields.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f) // canonical already
	}
}

// hasToken reports whether a comma-separated field's values contain token
// (case-insensitive), as in "Connection: keep-alive, Upgrade".
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

// wantsUpgrade reports a request asking to switch protocols.
func wantsUpgrade(h http.Header) bool { return hasToken(h["Connection"], "upgrade") }

// gwOutRequest is the request sent upstream for in: one shallow copy with
// its own URL (the API's scheme, host and path) and header; hop-by-hop
// fields removed ("Te: trailers" kept when the client sent it), forwarding
// fields the client sent (Forwarded, X-Forwarded-For/-Host/-Proto) removed
// and none added, unparsable query parameters dropped, no default Go
// User-Agent — as ReverseProxy with a Rewrite hook does.
func gwOutRequest(ctx context.Context, in *http.Request, rt *gwRoute, rest string) *http.Request {
	out := in.WithContext(ctx)
	u := *in.URL
	u.Scheme, u.Host = rt.target.Scheme, rt.target.Host
	u.Path = strings.TrimSuffix(rt.target.Path, "/") + rest
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawPath = ""
	u.RawQuery = cleanQueryParams(u.RawQuery)
	out.URL = &u
	out.Host = rt.target.Host
	out.RequestURI = ""
	out.Close = false
	h := in.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	removeHopByHop(h)
	if hasToken(in.Header["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		delete(h, k)
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // net/http then sends none
	}
	out.Header = h
	return out
}

// cleanQueryParams re-encodes a query with parameters Go cannot parse (a
// ';' separator or a bad escape), dropping those (ReverseProxy's rule).
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// gw1xx relays the upstream's informational answers (103 Early Hints…) to
// the client until the final answer arrived (RFC 9110 section 15.2: a proxy
// forwards 1xx responses).
type gw1xx struct {
	mu    sync.Mutex
	done  bool
	w     http.ResponseWriter
	trace httptrace.ClientTrace
}

func (t *gw1xx) got(code int, header textproto.MIMEHeader) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	h := t.w.Header()
	for k, vv := range header {
		h[k] = append(h[k], vv...)
	}
	t.w.WriteHeader(code)
	clear(h) // WriteHeader keeps a 1xx's fields in the map
	return nil
}

func (t *gw1xx) finish() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// errUnaskedUpgrade: the upstream switched protocols on a request that did
// not ask to.
var errUnaskedUpgrade = errors.New("gateway: upstream answered 101 Switching Protocols to a request without Upgrade")

// forward sends out (built by gwOutRequest, tagged by the writer) upstream
// and streams the answer to w: hop-by-hop fields removed, the write
// recorded and a read filtered (as ModifyResponse did), trailers relayed,
// a body of unknown length or an event stream flushed after every write. A
// failure after the status was sent aborts the client's connection
// (http.ErrAbortHandler), so a cut answer never looks whole.
func (g *Gateway) forward(w http.ResponseWriter, out *http.Request, st *gwState, t1 *gw1xx) {
	send := st.call.upstreamBody(out) // a buffered write: its bytes, in memory
	buffered := send != out
	if !buffered && out.Body != nil && out.Body != http.NoBody {
		c := *out
		if out.ContentLength == 0 {
			c.Body = nil // lets the transport retry on a stale connection
		} else {
			// The transport closes what it is handed; the client's body is
			// the server's to close (ReverseProxy's noopCloseReader).
			c.Body = io.NopCloser(out.Body)
		}
		send = &c
	}
	res, err := g.tr.RoundTrip(send)
	t1.finish()
	if buffered {
		releaseSent(out, send)
	}
	if err == nil && res.StatusCode == http.StatusSwitchingProtocols {
		_ = res.Body.Close()
		err = errUnaskedUpgrade
	}
	if err != nil {
		g.upstreamError(w, out, err)
		return
	}
	removeHopByHop(res.Header)
	ctx := out.Context()
	g.wr.end(ctx, st.call, res)
	g.pull.end(ctx, st.pull, res)
	h := w.Header()
	for k, vv := range res.Header {
		if old, ok := h[k]; ok {
			h[k] = append(old, vv...)
		} else {
			h[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := g.copyBody(w, res); err != nil {
		_ = res.Body.Close()
		panic(http.ErrAbortHandler)
	}
	_ = res.Body.Close() // fills res.Trailer
	if len(res.Trailer) == 0 {
		return
	}
	_ = http.NewResponseController(w).Flush() // chunked, so the trailers can follow
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			h[k] = append(h[k], vv...)
		}
		return
	}
	for k, vv := range res.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

// copyBody streams res's body to w with a pooled buffer, flushing after
// every write when its length is unknown or it is an event stream.
func (g *Gateway) copyBody(w http.ResponseWriter, res *http.Response) error {
	var rc *http.ResponseController
	if res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type")) {
		rc = http.NewResponseController(w)
	}
	bp := g.bufs.p.Get().(*[]byte)
	defer g.bufs.p.Put(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if rc != nil {
				if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
					return ferr
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if !errors.Is(rerr, context.Canceled) {
				g.log.Warn().Err(rerr).Str("path", res.Request.URL.Path).Msg("gateway: upstream body cut")
			}
			return rerr
		}
	}
}

func isEventStream(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/event-stream"
}
