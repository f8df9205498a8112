package filters

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// deepBodies are bodies nested past the default limit (256 levels): the
// 5 MiB of "[" that took the old validator to about 1 GB, and deep values
// inside otherwise ordinary events.
func deepBodies() map[string][]byte {
	return map[string][]byte{
		"5MiB of [": bytes.Repeat([]byte("["), 5<<20),
		"deep record value": []byte(`{"id":"e1","object":"contacts","record":{"id":"c1","name":` +
			strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `}}`),
		"deep objects": []byte(strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000)),
	}
}

// heapGrowth runs f and returns how much the live heap plus the stacks in
// use grew, after a GC on both sides.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	b, a := before.HeapInuse+before.StackInuse, after.HeapInuse+after.StackInuse
	if a < b {
		return 0
	}
	return a - b
}

// maxDeepGrowth is a generous bound: the old validator grew ~1 GB here.
const maxDeepGrowth = 64 << 20

func TestExtractTooDeep(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	hs := newHarness(t, "hubspotlike", harnessOpts{})
	pl := newPullHarness(t, "generic")
	for name, body := range deepBodies() {
		t.Run(name, func(t *testing.T) {
			calls := []struct {
				what string
				run  func() ([]Event, error)
			}{
				{"webhook", func() ([]Event, error) {
					r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
					return h.p.Extract(r, body, http.Header{}, nil)
				}},
				{"batch webhook", func() ([]Event, error) {
					r, _ := hs.p.MatchWebhook("POST", "/webhooks/hubspot")
					return hs.p.Extract(r, body, http.Header{}, nil)
				}},
				{"poll response", func() ([]Event, error) {
					r, ps, _ := pl.p.MatchRead("GET", "/v1/contacts")
					return pl.p.ExtractRead(r, &ps, pullAccount, body, http.Header{}, nil)
				}},
			}
			for _, c := range calls {
				var evs []Event
				var err error
				grew := heapGrowth(func() { evs, err = c.run() })
				if !errors.Is(err, ErrTooDeep) || !errors.Is(err, ErrMalformed) || len(evs) != 0 {
					t.Errorf("%s: %d events, err %v; want ErrTooDeep (an ErrMalformed)", c.what, len(evs), err)
				}
				if grew > maxDeepGrowth {
					t.Errorf("%s: heap and stacks grew %d MiB", c.what, grew>>20)
				}
			}
		})
	}
}

func TestTagTooDeep(t *testing.T) {
	h := newHarness(t, "generic", harnessOpts{})
	for name, body := range deepBodies() {
		for _, ct := range []string{"application/json", ""} {
			t.Run(name+"/"+ct, func(t *testing.T) {
				r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
				hdr := http.Header{"Content-Type": {ct}}
				var w *Write
				grew := heapGrowth(func() { w = h.p.Tag(context.Background(), r, &ps, "a", hdr, body, "") })
				if w.Untagged != "too_deep" || w.Body != nil || len(w.Fields) != 0 {
					t.Fatalf("untagged %q, body %v, %d fields; want too_deep and the body untouched", w.Untagged, w.Body != nil, len(w.Fields))
				}
				if hdr.Get("X-Change-Agent") == "" {
					t.Error("headers not stamped on a too-deep write")
				}
				if grew > maxDeepGrowth {
					t.Errorf("heap and stacks grew %d MiB", grew>>20)
				}
			})
		}
	}
	t.Run("write response", func(t *testing.T) {
		r, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
		w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"Ada"}`), "")
		deep := bytes.Repeat([]byte("["), 5<<20)
		var err error
		grew := heapGrowth(func() { err = h.eng.RecordWrite(context.Background(), w, deep) })
		if err != nil || grew > maxDeepGrowth {
			t.Fatalf("RecordWrite with a too-deep response: %v, heap and stacks grew %d MiB", err, grew>>20)
		}
	})
	t.Run("create response", func(t *testing.T) {
		r, ps, _ := h.p.MatchWrite("POST", "/v1/contacts")
		w := h.p.Tag(context.Background(), r, &ps, "a", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"Ada"}`), "")
		if id := w.CreatedID(bytes.Repeat([]byte("["), 5<<20)); id != "" {
			t.Fatalf("CreatedID of a too-deep response = %q", id)
		}
	})
}

func TestLimitJSONDepth(t *testing.T) {
	body := []byte(`{"id":"e1","object":"contacts","record":{"id":"c1","name":"Ada","x":[[[[1]]]]}}`) // 6 levels
	tests := []struct {
		limit    int
		tooDeep  bool
		untagged string
	}{
		{0, false, ""},
		{6, false, ""},
		{5, true, "too_deep"},
	}
	for _, tc := range tests {
		h := newHarness(t, "generic", harnessOpts{})
		h.eng.LimitJSONDepth(tc.limit)
		r, _ := h.p.MatchWebhook("POST", "/webhooks/generic")
		_, err := h.p.Extract(r, body, http.Header{}, nil)
		if got := errors.Is(err, ErrTooDeep); got != tc.tooDeep {
			t.Errorf("limit %d: Extract err %v, want too deep %v", tc.limit, err, tc.tooDeep)
		}
		wr, ps, _ := h.p.MatchWrite("PATCH", "/v1/contacts/c1")
		w := h.p.Tag(context.Background(), wr, &ps, "a", http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"Ada","x":[[[[[1]]]]]}`), "")
		if w.Untagged != tc.untagged {
			t.Errorf("limit %d: write untagged %q, want %q", tc.limit, w.Untagged, tc.untagged)
		}
	}
}
