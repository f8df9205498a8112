package ratelimit

import (
	"testing"
	"time"
)

func TestParseMalformed(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "non-numeric remaining keeps the limit", status: 200,
			h:    hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "abc"),
			want: with(200, func(s *Signal) { s.Limit, s.Malformed = 60, 1 })},
		{name: "empty limit", status: 200, h: hdr("X-RateLimit-Limit", ""),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "negative remaining", status: 200, h: hdr("X-RateLimit-Remaining", "-1"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "integer longer than 15 digits", status: 200, h: hdr("X-RateLimit-Limit", "9999999999999999"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "trailing words", status: 200, h: hdr("X-Rate-Limit", "700 requests"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "reset word", status: 200, h: hdr("X-RateLimit-Reset", "soon"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "epoch mode rejects ISO", status: 200, h: hdr("X-RateLimit-Reset", "2024-06-01T12:05Z"),
			opt: Options{Reset: ResetEpoch}, want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "delta mode rejects an epoch-sized delta", status: 200, h: hdr("X-RateLimit-Reset", "1717245000"),
			opt: Options{Reset: ResetDelta}, want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "iso mode rejects a number", status: 200, h: hdr("X-RateLimit-Reset", "30"),
			opt: Options{Reset: ResetISO8601}, want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "impossible date", status: 200, h: hdr("X-RateLimit-Reset", "2023-02-29T00:00Z"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "ISO without zone", status: 200, h: hdr("X-RateLimit-Reset", "2024-06-01T12:05"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit empty r", status: 200, h: hdr("RateLimit", `"x";r=`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit missing r", status: 200, h: hdr("RateLimit", `"x";t=5`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit boolean r", status: 200, h: hdr("RateLimit", `"x";r`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit trailing comma", status: 200, h: hdr("RateLimit", `"x";r=1,`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit unterminated string", status: 200, h: hdr("RateLimit", `"x;r=1`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit absurd t", status: 200, h: hdr("RateLimit", `"x";r=1;t=99999999999`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit uppercase key", status: 200, h: hdr("RateLimit", `"x";R=1`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "RateLimit bad member discards its whole line only", status: 200,
			h: hdr("RateLimit", `"a";r=1, "b";r=oops`, "RateLimit", `"c";r=9;t=3`),
			want: with(200, func(s *Signal) {
				s.Remaining, s.Reset, s.Resource, s.Malformed = 9, after(3*time.Second), "c", 1
			})},
		{name: "RateLimit-Policy non-integer q", status: 200, h: hdr("RateLimit-Policy", `"a";q=x`),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "old-draft limit not starting with a number", status: 200, h: hdr("RateLimit-Limit", "abc, 100"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "Salesforce empty usage", status: 200, h: hdr("Sforce-Limit-Info", "api-usage=/"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "Salesforce unclosed detail", status: 200, h: hdr("Sforce-Limit-Info", "api-usage=1/5(app=x"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "Salesforce no key", status: 200, h: hdr("Sforce-Limit-Info", "=1/5"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "Shopify dash", status: 200, h: hdr("X-Shopify-Shop-Api-Call-Limit", "32-40"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "Shopify missing limit", status: 200, h: hdr("X-Shopify-Shop-Api-Call-Limit", "32/"),
			want: with(200, func(s *Signal) { s.Malformed = 1 })},
		{name: "HubSpot float max", status: 200, h: hdr("X-HubSpot-RateLimit-Max", "1e3", "X-HubSpot-RateLimit-Remaining", "5"),
			want: with(200, func(s *Signal) { s.Remaining, s.Malformed = 5, 1 })},
		{name: "HubSpot interval over a day", status: 200,
			h:    hdr("X-HubSpot-RateLimit-Interval-Milliseconds", "86400001", "X-HubSpot-RateLimit-Max", "5"),
			want: with(200, func(s *Signal) { s.Limit, s.Malformed = 5, 1 })},
		{name: "Retry-After garbage makes a 503 not throttled", status: 503, h: hdr("Retry-After", "tomorrow"),
			want: with(503, func(s *Signal) { s.Malformed = 1 })},
		{name: "Retry-After date centuries ahead", status: 429, h: hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"),
			want: with(429, func(s *Signal) { s.Throttled, s.Malformed = true, 1 })},
		{name: "Retry-After delta over the bound", status: 429, h: hdr("Retry-After", "1000000001"),
			want: with(429, func(s *Signal) { s.Throttled, s.Malformed = true, 1 })},
		{name: "Retry-After negative", status: 429, h: hdr("Retry-After", "-5"),
			want: with(429, func(s *Signal) { s.Throttled, s.Malformed = true, 1 })},
		{name: "several bad values are each counted", status: 200,
			h: hdr("X-RateLimit-Limit", "x", "X-RateLimit-Remaining", "y", "X-RateLimit-Reset", "z",
				"Sforce-Limit-Info", "api-usage=/", "RateLimit", `"x";r=`),
			want: with(200, func(s *Signal) { s.Malformed = 5 })},
	})
}

// TestMalformedNeverFatal states the rule directly: several broken values in
// one response are each counted, and the parseable ones still count.
func TestMalformedNeverFatal(t *testing.T) {
	h := hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "abc", "Retry-After", "soon")
	s := Parse(429, h, time.Unix(1_700_000_000, 0), Options{})
	if s.Malformed != 2 {
		t.Errorf("Malformed = %d, want 2 (remaining and Retry-After)", s.Malformed)
	}
	if s.Limit != 60 || !s.Throttled {
		t.Errorf("Limit = %d, Throttled = %v; want 60 and true", s.Limit, s.Throttled)
	}
}
