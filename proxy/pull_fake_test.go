package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
)

// fakeAPI is a small CRM behind a real TLS server: records that writes
// (through the sidecar) and humans (directly) change, and list/search/query
// endpoints that page through the changed records in id order, the way
// the sync's delta poll sees them. Each provider shape plugs in its own
// routes through handle.
type fakeAPI struct {
	mu      sync.Mutex
	records map[string]map[string]any
	// coding is the content coding list responses use when the request
	// accepts it ("", gzip, deflate, br).
	coding string
	// sent is the last list response body, before encoding; seen the last
	// list request's Accept-Encoding.
	sent []byte
	seen string
	// override, when set, answers a list request instead (pass-through
	// cases).
	override func(w http.ResponseWriter)
	handle   func(f *fakeAPI, w http.ResponseWriter, r *http.Request, body []byte)
}

func newFakeAPI(handle func(f *fakeAPI, w http.ResponseWriter, r *http.Request, body []byte)) *fakeAPI {
	return &fakeAPI{records: map[string]map[string]any{}, handle: handle}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.handle(f, w, r, body)
}

// edit merges fields into a record (under sub when not ""), creating it.
func (f *fakeAPI) edit(id, sub string, fields map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.records[id]
	if rec == nil {
		rec = map[string]any{}
		f.records[id] = rec
	}
	dst := rec
	if sub != "" {
		if m, ok := rec[sub].(map[string]any); ok {
			dst = m
		} else {
			dst = map[string]any{}
			rec[sub] = dst
		}
	}
	for k, v := range fields {
		dst[k] = v
	}
}

// write applies a write's JSON body (fields under sub) and reports
// whether it was JSON.
func (f *fakeAPI) write(id, sub string, body []byte, extra map[string]any) bool {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return false
	}
	if sub != "" {
		m, _ = m[sub].(map[string]any)
	}
	f.edit(id, sub, m)
	f.edit(id, "", extra)
	return true
}

// page returns up to n records after the id "after", in id order, each
// marshalled with id under idKey, and the id to continue from ("" at the
// end) and the total.
func (f *fakeAPI) page(after string, n int, idKey string) (recs []string, next string, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.records))
	for id := range f.records {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	total = len(ids)
	for _, id := range ids {
		if id <= after {
			continue
		}
		if len(recs) == n {
			return recs, ids[slices.Index(ids, id)-1], total
		}
		rec := map[string]any{idKey: id}
		for k, v := range f.records[id] {
			rec[k] = v
		}
		b, _ := json.Marshal(rec)
		recs = append(recs, string(b))
	}
	return recs, "", total
}

// respond answers a list request with body, encoded in f.coding when the
// request accepts it.
func (f *fakeAPI) respond(t testing.TB, w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	f.sent, f.seen = body, r.Header.Get("Accept-Encoding")
	coding, override := f.coding, f.override
	f.mu.Unlock()
	if override != nil {
		override(w)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("ETag", `"v1"`)
	if coding != "" && strings.Contains(r.Header.Get("Accept-Encoding"), coding) {
		body = encodeFor(t, coding, body)
		w.Header().Set("Content-Encoding", coding)
	}
	_, _ = w.Write(body)
}

// lastSent returns the last list response as the API built it and the
// Accept-Encoding it was asked with.
func (f *fakeAPI) lastSent() ([]byte, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent, f.seen
}

// encodeFor encodes b in a content coding with the standard encoders
// (independent of the code under test).
func encodeFor(t testing.TB, coding string, b []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	default:
		t.Fatalf("no encoder for %q", coding)
	}
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// decodeFor decodes b from a content coding.
func decodeFor(t testing.TB, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch coding {
	case "":
		return b
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	default:
		t.Fatalf("no decoder for %q", coding)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", coding, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", coding, err)
	}
	return out
}

// genericCRM serves the generic profile's API: PATCH /v1/contacts/{id}
// writes, GET /v1/contacts?after= lists three changed records a page as
// {"total", "results", "paging": {"next": {"after", "link"}}}.
func genericCRM(t testing.TB) *fakeAPI {
	return newFakeAPI(func(f *fakeAPI, w http.ResponseWriter, r *http.Request, body []byte) {
		id, isRecord := strings.CutPrefix(r.URL.Path, "/v1/contacts/")
		switch {
		case r.Method == http.MethodPatch && isRecord && f.write(id, "", body, nil):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case r.Method == http.MethodGet && r.URL.Path == "/v1/contacts":
			recs, next, total := f.page(r.URL.Query().Get("after"), 3, "id")
			var b strings.Builder
			b.WriteString("{\n  \"total\": " + itoa(total) + ",\n  \"results\": [\n    " + strings.Join(recs, ",\n    ") + "\n  ]")
			if next != "" {
				b.WriteString(",\n  \"paging\": {\"next\": {\"after\": \"" + next + "\", \"link\": \"/v1/contacts?after=" + next + "\"}}")
			}
			b.WriteString("\n}\n")
			f.respond(t, w, r, []byte(b.String()))
		default:
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
