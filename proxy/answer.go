package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/filters"
)

// answerKind is the sort of answer loopguard gives in the app's place.
type answerKind uint8

const (
	// answerDropped: every event of the delivery was an echo (200, or
	// the route's ack).
	answerDropped answerKind = iota
	// answerHeld: the delivery (or what of it is not dropped) is safe in
	// the spool (200, or the route's ack).
	answerHeld
	// answerRejected: 503 with Retry-After, so that a provider that
	// retries will (hold policy reject, a hold that failed, the in-flight
	// bound).
	answerRejected
	// answerThrottled: 429 with Retry-After for a write the account's
	// breaker or the loop detector refuses.
	answerThrottled
)

// localAnswer is one answer loopguard gives itself. render is the one place
// that turns it into a status, headers and body; write, into and response
// only put that on the wire in three shapes.
type localAnswer struct {
	kind answerKind
	// events: how many events were dropped or held.
	events int
	// route's ack, when its profile sets one, answers dropped and held
	// deliveries (Salesforce Outbound Messages retry until they read a
	// SOAP Ack); nil: loopguard's JSON summary.
	route *filters.WebhookRoute
	// retry: rejected and throttled answers' Retry-After.
	retry time.Duration
	// why: a rejected answer's reason; a throttled one's
	// X-Loopguard-Breaker.
	why string
	// fields: a throttled answer's JSON body (retry_after_seconds is
	// added).
	fields map[string]any
}

// maxRejectRetry caps the Retry-After of a rejected delivery.
const maxRejectRetry = time.Hour

// render is the answer's status, headers and body.
func (a localAnswer) render() (int, http.Header, []byte) {
	h := http.Header{}
	switch a.kind {
	case answerDropped, answerHeld:
		if ack := a.route.Ack(); ack != nil { // nil route: no ack
			h.Set("Content-Type", ack.ContentType)
			return ack.Status, h, []byte(ack.Body)
		}
		word := "dropped"
		if a.kind == answerHeld {
			word = "held"
		}
		h.Set("Content-Type", "application/json")
		return http.StatusOK, h, fmt.Appendf(nil, `{"loopguard":"%s","events":%d}`+"\n", word, a.events)
	case answerRejected:
		secs := int(min(max(a.retry, time.Second), maxRejectRetry).Round(time.Second) / time.Second)
		h.Set("Content-Type", "application/json")
		h.Set("Retry-After", strconv.Itoa(secs))
		return http.StatusServiceUnavailable, h, fmt.Appendf(nil, `{"loopguard":%q,"retry_after_seconds":%d}`+"\n", a.why, secs)
	default: // answerThrottled
		secs := max(int(a.retry.Round(time.Second)/time.Second), 1)
		fields := a.fields
		if fields == nil {
			fields = map[string]any{}
		}
		fields["retry_after_seconds"] = secs
		body, _ := json.Marshal(fields)
		h.Set("Content-Type", "application/json")
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("RateLimit", `"loopguard";r=0;t=`+strconv.Itoa(secs))
		h.Set("X-Loopguard-Breaker", a.why)
		return http.StatusTooManyRequests, h, body
	}
}

// write answers on w.
func (a localAnswer) write(w http.ResponseWriter) {
	status, h, body := a.render()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// into replaces resp (the app's answer, its body closed) with the answer.
func (a localAnswer) into(resp *http.Response) {
	status, h, body := a.render()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
	resp.Header = h
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
}

// response is the answer as a response to req (goproxy's request handlers
// return one instead of calling upstream).
func (a localAnswer) response(req *http.Request) *http.Response {
	status, h, body := a.render()
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}
