package egress

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ReasonHeader carries the reason code on a refusal.
const ReasonHeader = "X-Loopguard-Egress-Refused"

// Status is the HTTP status a refusal is answered with: 502 when the name
// did not resolve (not the policy's refusal; the client may retry), 403
// otherwise. The status depends only on the decision, which is made before
// anything is dialled: an open and a closed port answer alike.
func Status(d Decision) int {
	if d.Reason == ReasonResolveFailed {
		return http.StatusBadGateway
	}
	return http.StatusForbidden
}

// Body is the short text a refusal is answered with.
func (e *DeniedError) Body() string {
	return "loopguard egress: " + e.HostPort() + " refused: " + e.Decision.Reason.String() + " (" + e.Decision.Reason.Text() + ")\n"
}

// WriteDenied answers a refusal on w.
func WriteDenied(w http.ResponseWriter, e *DeniedError) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(ReasonHeader, e.Decision.Reason.String())
	w.WriteHeader(Status(e.Decision))
	_, _ = io.WriteString(w, e.Body())
}

// Response builds the refusal as a response to req (for goproxy, which
// writes responses rather than taking a ResponseWriter).
func Response(req *http.Request, e *DeniedError) *http.Response {
	body := e.Body()
	code := Status(e.Decision)
	return &http.Response{
		StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":           {"text/plain; charset=utf-8"},
			"X-Content-Type-Options": {"nosniff"},
			ReasonHeader:             {e.Decision.Reason.String()},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
		Close:         true,
	}
}
