package proxy

import (
	"bytes"
	"io"
	"net/http"
)

// bufferWrite buffers a matched write's body up to outbound.max_body_bytes,
// within the process's in-flight bound. A larger body is left to stream
// untouched (untagged "oversize"). When the bound is reached, or the body
// cannot be read (408 at limits.body_read_timeout, else 400), local is
// loopguard's own answer and nothing goes upstream: the app's client
// retries a 503 with Retry-After, and a half-received write must not be
// sent on. l is the body's reservation (see keepLease).
func (wr *writer) bufferWrite(req *http.Request, provider string) (body []byte, untagged string, l *lease, local *http.Response) {
	if req.Body == nil || req.Body == http.NoBody {
		return []byte{}, "", nil, nil
	}
	if wr.limits != nil {
		l = wr.limits.budget.newLease()
	}
	buf, out, err := bufferBody(req.Body, req.ContentLength, wr.maxBody, l)
	switch out {
	case bodyOK:
		_ = req.Body.Close()
		return buf, "", l, nil
	case bodyOversize:
		if len(buf) > 0 {
			req.Body = readCloser{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		}
		return nil, "oversize", l, nil
	case bodyBusy:
		l.release()
		drain(req.Body, wr.maxBody) // so the client reads the 503, not a reset
		wr.limits.busy(listenerOf(req), provider, req.ContentLength)
		wr.m.Untagged.WithLabelValues(provider, "busy").Inc()
		return nil, "", nil, wr.limits.busyResponse(req)
	default:
		l.release()
		wr.m.Untagged.WithLabelValues(provider, "read_failed").Inc()
		if wr.limits == nil {
			return nil, "", nil, localResponse(req, http.StatusBadRequest, nil, "loopguard: request body not received\n")
		}
		return nil, "", nil, wr.limits.readFailureResponse(req, provider, err)
	}
}

// keepLease ties a body's reservation to the request body that carries the
// bytes on: released when the transport closes it after sending (it always
// does, even on error), or at once when there is no body to carry them.
func keepLease(req *http.Request, l *lease) {
	if l == nil || l.n.Load() == 0 {
		return
	}
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		// Nothing will close it (ReverseProxy drops an empty body).
		l.release()
		return
	}
	req.Body = &releasingBody{Reader: req.Body, close: req.Body.Close, l: l}
}
