package proxy

// fastBridge serves a net/http handler on a fasthttp server, keeping what
// the inbound listener promises under net/http: the request body is the
// connection's stream (never buffered whole by the bridge: fasthttpadaptor
// v1.79 reads ctx.PostBody() first), and the answer streams — a Flush, or
// more than net/http would buffer, sends the header and pipes the rest, so
// a long or unknown-length answer is never held whole.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// bridgeChunking is what an answer without Content-Length may hold before
// it goes out chunked (net/http's bufferBeforeChunkingSize: up to it, the
// answer gets a Content-Length, as net/http gives it).
const bridgeChunking = 2048

// bridgeBuffer is what an answer with a Content-Length may hold before it
// streams.
const bridgeBuffer = 32 << 10

// errBridgeAbort ends a streamed answer the handler aborted (the
// connection is cut, as net/http cuts it on http.ErrAbortHandler).
var errBridgeAbort = errors.New("handler aborted the answer")

// bridgeServer stands for the server in a bridged request's context; it is
// never used.
var bridgeServer = new(http.Server)

// serveBridged runs h for ctx, with body as the request body (nil: none).
func serveBridged(ctx *fasthttp.RequestCtx, h http.Handler, body io.Reader) {
	r, cancel, err := bridgeRequest(ctx, body)
	if err != nil {
		ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		ctx.Response.Header.Set("Connection", "close")
		ctx.SetStatusCode(http.StatusBadRequest)
		ctx.SetBodyString("400 Bad Request: " + err.Error())
		return
	}
	rb, _ := r.Body.(*bridgeBody)
	w := &bridgeWriter{ctx: ctx, h: http.Header{}, ev: make(chan bridgeEvent, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer cancel()
		defer func() {
			rec := recover()
			if rec != nil && rec != http.ErrAbortHandler {
				ctx.Logger().Printf("panic serving the inbound request: %v", rec)
			}
			w.finish(rec != nil)
		}()
		h.ServeHTTP(w, r)
	}()
	switch <-w.ev {
	case bridgeDone:
		w.commit()
		ctx.Response.SetBodyRaw(w.buf)
		if rb != nil {
			rb.kill()
		}
	case bridgeStream:
		// The handler goes on writing into the pipe while the server
		// writes the answer; the stream's Close waits for it to end.
		ctx.Response.SetBodyStream(&bridgeStreamBody{PipeReader: w.pr, w: w, rb: rb, cancel: cancel}, w.streamLen)
	case bridgeAbort:
		if rb != nil {
			rb.kill()
		}
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) {})
	}
}

// bridgeRequest is ctx's request as net/http's server gives it.
func bridgeRequest(ctx *fasthttp.RequestCtx, body io.Reader) (*http.Request, context.CancelFunc, error) {
	uri := string(ctx.RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, nil, err
	}
	// ServerContextKey: as under net/http's server, a handler may abort a
	// streaming answer with http.ErrAbortHandler (serveBridged cuts the
	// connection).
	rc, cancel := context.WithCancel(context.WithValue(context.Background(), http.ServerContextKey, bridgeServer))
	r := (&http.Request{
		Method: string(ctx.Method()), URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header), Host: string(ctx.Host()), RemoteAddr: ctx.RemoteAddr().String(), RequestURI: uri,
		Close: ctx.Request.Header.ConnectionClose(),
	}).WithContext(rc)
	if !ctx.Request.Header.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	for k, v := range ctx.Request.Header.All() {
		switch string(k) {
		case "Host", "Transfer-Encoding":
			continue
		}
		key := http.CanonicalHeaderKey(string(k))
		r.Header[key] = append(r.Header[key], string(v))
	}
	cl := int64(ctx.Request.Header.ContentLength())
	switch {
	case cl == -1:
		r.TransferEncoding, r.ContentLength = []string{"chunked"}, -1
		r.Header.Del("Content-Length")
	case cl > 0:
		r.ContentLength = cl
	default:
		r.ContentLength = 0
	}
	if body == nil || r.ContentLength == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = &bridgeBody{r: body}
	}
	return r, cancel, nil
}

// bridgeBody is the request body handed to the handler; once the server
// is done with the request (kill), reads fail instead of touching a
// stream fasthttp has taken back.
type bridgeBody struct {
	mu   sync.Mutex
	r    io.Reader
	dead bool
}

func (b *bridgeBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.r.Read(p)
}

func (b *bridgeBody) Close() error { return nil }

func (b *bridgeBody) kill() {
	b.mu.Lock()
	b.dead = true
	b.mu.Unlock()
}

type bridgeEvent uint8

const (
	bridgeDone   bridgeEvent = iota + 1 // the handler returned; the answer is in buf
	bridgeStream                        // the header is committed; the body follows in the pipe
	bridgeAbort                         // the handler panicked before streaming: cut the connection
)

// bridgeWriter is the http.ResponseWriter of a bridged request.
type bridgeWriter struct {
	ctx         *fasthttp.RequestCtx
	h           http.Header
	status      int
	buf         []byte
	ev          chan bridgeEvent
	done        chan struct{} // closed when the handler has returned
	pr          *io.PipeReader
	pw          *io.PipeWriter
	streamLen   int
	wroteHeader bool
	committed   bool
}

func (w *bridgeWriter) Header() http.Header { return w.h }

func (w *bridgeWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 100 || code > 999 {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // informational answers are not relayed (fasthttp writes one answer)
	}
	w.wroteHeader, w.status = true, code
}

func (w *bridgeWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.pw != nil {
		return w.pw.Write(p)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.buf = append(w.buf, p...)
	limit := bridgeChunking
	if w.h.Get("Content-Length") != "" {
		limit = bridgeBuffer
	}
	if len(w.buf) > limit {
		if err := w.stream(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush sends what is written so far and streams the rest.
func (w *bridgeWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.pw == nil {
		_ = w.stream(true)
	}
}

// stream commits the header, hands the server the pipe, and writes what
// was buffered into it.
func (w *bridgeWriter) stream(flushHeader bool) error {
	w.streamLen = -1
	if n, err := strconv.Atoi(w.h.Get("Content-Length")); err == nil && n >= 0 {
		w.streamLen = n
	}
	w.commit()
	w.ctx.Response.ImmediateHeaderFlush = flushHeader
	w.pr, w.pw = io.Pipe()
	w.ev <- bridgeStream
	buf := w.buf
	w.buf = nil
	if len(buf) > 0 {
		if _, err := w.pw.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// commit puts the status and header into ctx.Response as net/http's
// server would send them: Date when the handler set none, Content-Type
// sniffed when it set none.
func (w *bridgeWriter) commit() {
	if w.committed {
		return
	}
	w.committed = true
	if !w.wroteHeader {
		w.status = http.StatusOK
	}
	h := &w.ctx.Response.Header
	if d, ok := w.h["Date"]; ok && len(d) > 0 {
		startHeader(h, []byte(d[0]))
	} else if !ok {
		startHeader(h, nowDate())
	}
	h.SetNoDefaultContentType(true)
	w.ctx.SetStatusCode(w.status)
	if _, ok := w.h["Content-Type"]; !ok && len(w.buf) > 0 && bodyAllowed(w.status) && w.h.Get("Content-Encoding") == "" {
		h.Set("Content-Type", http.DetectContentType(w.buf[:min(len(w.buf), 512)]))
	}
	for k, vs := range w.h {
		if k == "Date" || k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer" || strings.HasPrefix(k, http.TrailerPrefix) {
			continue // framing is the server's; trailers are not relayed
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// finish ends the handler's part: the answer is whole (or was aborted).
func (w *bridgeWriter) finish(aborted bool) {
	if w.pw != nil {
		if aborted {
			_ = w.pw.CloseWithError(errBridgeAbort)
			return
		}
		_ = w.pw.Close()
		return
	}
	if aborted {
		w.ev <- bridgeAbort
		return
	}
	w.ev <- bridgeDone
}

// bridgeStreamBody is the answer's body as the server reads it; its Close
// (the server's, once written or failed) stops the handler's writes and
// waits for the handler, so no goroutine outlives the request.
type bridgeStreamBody struct {
	*io.PipeReader
	w      *bridgeWriter
	rb     *bridgeBody
	cancel context.CancelFunc
}

func (b *bridgeStreamBody) Close() error {
	_ = b.PipeReader.CloseWithError(io.ErrClosedPipe)
	b.cancel()
	<-b.w.done
	if b.rb != nil {
		b.rb.kill()
	}
	return nil
}

// bodyAllowed: net/http's bodyAllowedForStatus.
func bodyAllowed(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// startHeader resets h to a header holding only Date: date. fasthttp's
// Set and Add refuse a Date field (it manages its own, which the server is
// told not to add: net/http keeps a handler's Date and adds one only when
// there is none); a parsed header keeps one. Call it before anything else
// is put in h.
func startHeader(h *fasthttp.ResponseHeader, date []byte) {
	p := headerStarts.Get().(*headerStart)
	defer headerStarts.Put(p)
	b := append(append(append(p.raw[:0], "HTTP/1.1 200 OK\r\nDate: "...), date...), "\r\n\r\n"...)
	if len(b) > len(p.raw) {
		return
	}
	p.r.Reset(b)
	p.br.Reset(&p.r)
	_ = h.Read(p.br)
	// A parsed answer without Content-Length reads "until close": that is
	// not this answer's framing, which the server sets from its body.
	h.ResetConnectionClose()
	h.SetNoDefaultContentType(true)
}

// headerStart is startHeader's scratch space.
type headerStart struct {
	raw [128]byte
	r   bytes.Reader
	br  *bufio.Reader
}

// headerStarts pools startHeader's scratch space (a cache, no state).
var headerStarts = sync.Pool{New: func() any {
	p := &headerStart{}
	p.br = bufio.NewReaderSize(&p.r, len(p.raw))
	return p
}}

// nowDate is the Date net/http's server sends.
func nowDate() []byte {
	return time.Now().UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)
}
