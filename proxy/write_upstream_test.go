package proxy

import (
	"net/http"
	"testing"
)

// A recorded write's answer reaches the app through the MITM with a
// Content-Length, also when the API sent it chunked: goproxy would
// otherwise re-frame it chunk by chunk (see upstreamRT).
func TestOutboundMITMWriteAnswerKeepsLength(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		e := newOutboundEnv(t)
		const answer = `{"id":"c1","name":"Ada"}`
		e.up.respond = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(answer[:5]))
			if chunked {
				w.(http.Flusher).Flush() // no Content-Length: chunked
			}
			_, _ = w.Write([]byte(answer[5:]))
		}
		resp, got := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/v1/contacts/c1", "application/json", `{"name":"Ada"}`)
		if resp.StatusCode != 200 || got != answer {
			t.Fatalf("chunked=%v: response %d %q, want 200 %q", chunked, resp.StatusCode, got, answer)
		}
		if resp.ContentLength != int64(len(answer)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("chunked=%v: app got Content-Length %d, Transfer-Encoding %v; want %d, none",
				chunked, resp.ContentLength, resp.TransferEncoding, len(answer))
		}
		if _, ok := e.state(t, "contacts", "c1"); !ok {
			t.Errorf("chunked=%v: write not recorded", chunked)
		}
		r := e.up.last(t)
		if string(r.Body) == "" {
			t.Errorf("chunked=%v: upstream got no body", chunked)
		}
	}
}
