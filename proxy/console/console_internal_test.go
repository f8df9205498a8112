package console

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		name, origin, site string
		ok                 bool
	}{
		{"curl", "", "", true},
		{"same origin", "http://127.0.0.1:9090", "same-origin", true},
		{"typed in", "", "none", true},
		{"other port", "http://127.0.0.1:8080", "same-site", false},
		{"other site", "https://evil.example", "cross-site", false},
		{"origin only", "https://evil.example", "", false},
		{"null origin", "null", "", false},
		{"host case", "http://LOCALHOST:9090", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:9090/x", nil)
			if c.name == "host case" {
				r.Host = "localhost:9090"
			}
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			if c.site != "" {
				r.Header.Set("Sec-Fetch-Site", c.site)
			}
			if err := SameOrigin(r); (err == nil) != c.ok {
				t.Fatalf("SameOrigin = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/decisions?x=1": "/ui/decisions?x=1", "": "/ui/", "/metrics": "/ui/", "//evil.example/ui/": "/ui/",
		"https://evil.example/ui/": "/ui/", "/ui/\\evil": "/ui/", "/ui/\r\nSet-Cookie: x": "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactHeaders(t *testing.T) {
	for _, raw := range []string{
		`{"Authorization":["Bearer x"],"X-Hub-Signature-256":["sha256=y"],"Content-Type":["application/json"],"X-Api-Key":["k"]}`,
		`{"Authorization":"Bearer x","X-Hub-Signature-256":"sha256=y","Content-Type":"application/json","X-Api-Key":"k"}`,
	} {
		got := redactHeaders(json.RawMessage(raw))
		want := []header{{"Authorization", "[redacted]"}, {"Content-Type", "application/json"}, {"X-Api-Key", "[redacted]"},
			{"X-Hub-Signature-256", "[redacted]"}}
		if len(got) != len(want) {
			t.Fatalf("%s: %v", raw, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v", raw, got)
			}
		}
	}
}

func TestRecordKey(t *testing.T) {
	if got := recordKey("p", "", "deals/x", "a%b"); got != "p//deals%2Fx/a%25b" {
		t.Fatalf("recordKey = %q", got)
	}
}

func TestProviderTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 15, 8, 37, 547e6, time.Local)
	for v, want := range map[int64]string{
		at.UnixNano(): "2026-12-02 15:08:37.547", at.UnixMicro(): "2026-12-02 15:08:37.547",
		at.UnixMilli(): "2026-12-02 15:08:37.547", at.Unix(): "2026-12-02 15:08:37.000", 42: "seq 42",
	} {
		if got := providerTime(v); got != want {
			t.Errorf("providerTime(%d) = %q, want %q", v, got, want)
		}
	}
}
