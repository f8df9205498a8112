package ratelimit

import (
	"net/http"
	"testing"
)

// Typical header sets as net/http delivers them, including the unrelated
// headers every real response carries (they make map lookups realistic).
var (
	benchGitHub = hdr(
		"Server", "GitHub.com", "Content-Type", "application/json; charset=utf-8",
		"Cache-Control", "private, max-age=60, s-maxage=60", "Etag", `W/"abc"`,
		"X-Github-Media-Type", "github.v3; format=json",
		"X-Ratelimit-Limit", "5000", "X-Ratelimit-Remaining", "4987", "X-Ratelimit-Reset", "1717245000",
		"X-Ratelimit-Used", "13", "X-Ratelimit-Resource", "core",
		"X-Github-Request-Id", "C1A2:3B4C:5D6E:7F80:665B0C00", "Content-Length", "2",
	)
	benchIETF = hdr(
		"Content-Type", "application/json", "Cache-Control", "no-cache", "Date", "Sat, 01 Jun 2024 12:00:00 GMT",
		"RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`,
		"RateLimit", `"burst";r=50;t=30, "daily";r=20;t=3600`, "Content-Length", "2",
	)
	benchSalesforce = hdr(
		"Content-Type", "application/json;charset=UTF-8", "Date", "Sat, 01 Jun 2024 12:00:00 GMT",
		"Sforce-Limit-Info", "api-usage=25/5000, per-app-api-usage=17/250(appName=sample-app)",
		"Vary", "Accept-Encoding", "Content-Length", "2",
	)
	benchNone = hdr(
		"Content-Type", "application/json", "Cache-Control", "no-cache", "Date", "Sat, 01 Jun 2024 12:00:00 GMT",
		"Server", "nginx", "Vary", "Accept-Encoding", "Content-Length", "2",
	)
)

// sink keeps results alive so the compiler cannot drop the calls.
var sink Signal

func benchParse(b *testing.B, h http.Header, opt Options) {
	b.ReportAllocs()
	for b.Loop() {
		sink = Parse(200, h, now, opt)
	}
}

func BenchmarkParseGitHub(b *testing.B) {
	b.Run("auto", func(b *testing.B) { benchParse(b, benchGitHub, Options{}) })
	b.Run("family", func(b *testing.B) { benchParse(b, benchGitHub, Options{Family: XRateLimit, Reset: ResetEpoch}) })
}

func BenchmarkParseIETF(b *testing.B) {
	b.Run("auto", func(b *testing.B) { benchParse(b, benchIETF, Options{}) })
	b.Run("family", func(b *testing.B) { benchParse(b, benchIETF, Options{Family: IETF}) })
}

func BenchmarkParseSalesforce(b *testing.B) {
	b.Run("auto", func(b *testing.B) { benchParse(b, benchSalesforce, Options{}) })
	b.Run("family", func(b *testing.B) { benchParse(b, benchSalesforce, Options{Family: Salesforce}) })
}

func BenchmarkParseNone(b *testing.B) {
	b.Run("auto", func(b *testing.B) { benchParse(b, benchNone, Options{}) })
	b.Run("family", func(b *testing.B) { benchParse(b, benchNone, Options{Family: XRateLimit}) })
}

// TestParseDoesNotAllocate pins the hot-path promise: typical responses of
// every family, in Auto and restricted mode, parse without allocating.
func TestParseDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	cases := []struct {
		name string
		h    http.Header
		opt  Options
	}{
		{"github", benchGitHub, Options{}},
		{"ietf", benchIETF, Options{}},
		{"salesforce", benchSalesforce, Options{}},
		{"none", benchNone, Options{}},
		{"hubspot", hdr("X-HubSpot-RateLimit-Daily", "500000", "X-HubSpot-RateLimit-Daily-Remaining", "499000",
			"X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Max", "100",
			"X-HubSpot-RateLimit-Remaining", "97"), Options{Family: HubSpot}},
		{"shopify 429 retry-after", hdr("X-Shopify-Shop-Api-Call-Limit", "40/40", "Retry-After", "2.0"), Options{}},
		{"jira iso", hdr("X-RateLimit-Reset", "2024-06-01T12:05Z", "X-RateLimit-Remaining", "0"), Options{Reset: ResetISO8601}},
		{"malformed", hdr("X-RateLimit-Remaining", "abc", "RateLimit", `"x";r=`), Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { sink = Parse(429, tc.h, now, tc.opt) }); n != 0 {
				t.Errorf("Parse allocated %v times per call, want 0", n)
			}
		})
	}
}
