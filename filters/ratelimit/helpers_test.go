package ratelimit

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// now is the fixed clock every test parses against: 2024-06-01T12:00:00Z,
// Unix 1717243200.
var now = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// after returns now plus d.
func after(d time.Duration) time.Time { return now.Add(d) }

// hdr builds a header from name/value pairs through Header.Add, so names
// are canonicalised exactly as net/http does for real responses.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// blank returns the Signal Parse produces when nothing is known.
func blank(status int) Signal {
	return Signal{Limit: Unknown, Remaining: Unknown, Status: status, Daily: unknownQuota(), Secondly: unknownQuota()}
}

// with applies edits to a blank Signal.
func with(status int, edit func(*Signal)) Signal {
	s := blank(status)
	if edit != nil {
		edit(&s)
	}
	return s
}

// diffQuota describes how got differs from want ("" when equal); times are
// compared with Equal so location and monotonic readings do not matter.
func diffQuota(label string, got, want Quota) string {
	var d string
	if got.Limit != want.Limit {
		d += fmt.Sprintf("%s.Limit got %d want %d; ", label, got.Limit, want.Limit)
	}
	if got.Remaining != want.Remaining {
		d += fmt.Sprintf("%s.Remaining got %d want %d; ", label, got.Remaining, want.Remaining)
	}
	if !got.Reset.Equal(want.Reset) {
		d += fmt.Sprintf("%s.Reset got %v want %v; ", label, got.Reset.UTC(), want.Reset.UTC())
	}
	if got.Window != want.Window {
		d += fmt.Sprintf("%s.Window got %v want %v; ", label, got.Window, want.Window)
	}
	return d
}

// diffSignal describes how got differs from want ("" when equal).
func diffSignal(got, want Signal) string {
	d := diffQuota("primary", got.Primary(), want.Primary()) +
		diffQuota("Daily", got.Daily, want.Daily) +
		diffQuota("Secondly", got.Secondly, want.Secondly)
	if got.Resource != want.Resource {
		d += fmt.Sprintf("Resource got %q want %q; ", got.Resource, want.Resource)
	}
	if got.RetryAfter != want.RetryAfter {
		d += fmt.Sprintf("RetryAfter got %v want %v; ", got.RetryAfter, want.RetryAfter)
	}
	if got.Throttled != want.Throttled {
		d += fmt.Sprintf("Throttled got %v want %v; ", got.Throttled, want.Throttled)
	}
	if got.Status != want.Status {
		d += fmt.Sprintf("Status got %d want %d; ", got.Status, want.Status)
	}
	if got.Malformed != want.Malformed {
		d += fmt.Sprintf("Malformed got %d want %d; ", got.Malformed, want.Malformed)
	}
	return d
}

// readFixture loads a raw HTTP response from testdata through
// http.ReadResponse, so header canonicalisation is the real one.
func readFixture(t testing.TB, name string) *http.Response {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("open fixture %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	resp, err := http.ReadResponse(bufio.NewReader(f), nil)
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return resp
}
