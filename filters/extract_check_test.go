package filters

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestExtractCheckReasons: the one-pass check keeps the order of reasons:
// a body past the depth limit is ErrTooDeep however it is broken (even
// when a syntax error comes before its deep part); a shallow invalid one
// is ErrMalformed "not valid JSON", never ErrTooDeep.
func TestExtractCheckReasons(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	h.eng.LimitJSONDepth(3)
	r, ok := h.p.MatchWebhook("POST", "/webhooks/generic")
	if !ok {
		t.Fatal("no generic webhook route")
	}
	tests := []struct {
		name, body string
		tooDeep    bool
		invalid    bool
	}{
		{"valid", `{"id":"e1","object":"contacts","record":{"id":"c1","name":"Ada"}}`, false, false},
		{"valid at the limit", `{"id":"e1","object":"contacts","record":{"id":"c1","x":[1]}}`, false, false},
		{"valid, too deep", `{"id":"e1","object":"contacts","record":{"id":"c1","x":[[1]]}}`, true, false},
		{"invalid, shallow", `{"id":"e1","object":"contacts","record":{"id":"c1"}`, false, true},
		{"control byte in a string", "{\"id\":\"e\x01\"}", false, true},
		{"bad escape before a deep part", `{"id":"\x","a":[[[[1]]]]}`, true, false},
		{"trailing garbage then deep", `{} x [[[[]]]]`, true, false},
		{"unterminated, deep", `{"a":[[[[` + strings.Repeat("[", 10), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.p.Extract(r, []byte(tc.body), http.Header{}, nil)
			if got := errors.Is(err, ErrTooDeep); got != tc.tooDeep {
				t.Fatalf("Extract: %v; want too deep %v", err, tc.tooDeep)
			}
			notJSON := err != nil && strings.Contains(err.Error(), "not valid JSON")
			if notJSON != tc.invalid || (tc.invalid && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("Extract: %v; want ErrMalformed not valid JSON %v", err, tc.invalid)
			}
		})
	}
}
