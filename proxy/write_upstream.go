package proxy

import (
	"bytes"
	"io"
	"net/http"
)

// upstreamBody returns the request to send upstream for a call whose body
// was buffered: a shallow copy whose body is that buffer as an in-memory
// reader. net/http writes the head and such a body in one write (one TLS
// record, one syscall); a body it does not know to be in memory — the
// releasingBody that keeps the body's reservation, and ReverseProxy's own
// wrapper around it — makes it flush the head first and write the body on
// its own. The original body still carries the reservation: the caller
// releases it (releaseSent) once the upstream answered.
func (oc *outCall) upstreamBody(req *http.Request) *http.Request {
	if oc == nil || len(oc.sent) == 0 || req.Body == nil || req.ContentLength != int64(len(oc.sent)) {
		return req
	}
	out := new(http.Request)
	*out = *req
	out.Body = io.NopCloser(bytes.NewReader(oc.sent))
	return out
}

// releaseSent gives back the reservation of a body sent by upstreamBody:
// the transport closed the copy it was handed, not the original.
func releaseSent(orig, sent *http.Request) {
	if orig == sent {
		return
	}
	if rb, ok := orig.Body.(*releasingBody); ok {
		rb.l.release()
	}
}
