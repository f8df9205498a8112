package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

// parseCase is one row of a Parse table.
type parseCase struct {
	name   string
	status int
	h      http.Header
	opt    Options
	want   Signal
}

// runParseCases runs a Parse table.
func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.status, tc.h, now, tc.opt)
			if d := diffSignal(got, tc.want); d != "" {
				t.Errorf("Parse: %s", d)
			}
		})
	}
}

func TestParseIETF(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "current draft single policy",
			status: 200,
			h:      hdr("RateLimit", `"default";r=50;t=30`, "RateLimit-Policy", `"default";q=100;w=60`),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = 100, 50, after(30*time.Second), time.Minute, "default"
			}),
		},
		{
			name:   "most constrained member wins and is joined to its policy by name",
			status: 200,
			h: hdr("RateLimit", `"burst";r=80;t=1, "daily";r=20;t=3600`,
				"RateLimit-Policy", `"burst";q=100;w=1, "daily";q=1000;w=86400`),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = 1000, 20, after(time.Hour), 24*time.Hour, "daily"
			}),
		},
		{
			name:   "members spread over two field lines",
			status: 200,
			h:      hdr("RateLimit", `"a";r=9;t=5`, "RateLimit", `"b";r=3;t=7`, "RateLimit-Policy", `"a";q=10`, "RateLimit-Policy", `"b";q=4`),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Resource = 4, 3, after(7*time.Second), "b"
			}),
		},
		{
			name:   "token names and unknown parameters are skipped",
			status: 200,
			h: hdr("RateLimit", `default;r=5;t=0;pk=:dGVzdA==:;x-ext=?1`,
				"RateLimit-Policy", `default;q=10;w=1;qu="requests";pk=:dGVzdA==:;d=-1.5`),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = 10, 5, now, time.Second, "default"
			}),
		},
		{
			name:   "RateLimit without policy leaves limit unknown",
			status: 200,
			h:      hdr("RateLimit", `"default";r=7`),
			want:   with(200, func(s *Signal) { s.Remaining, s.Resource = 7, "default" }),
		},
		{
			name:   "policy names that do not match leave limit unknown",
			status: 200,
			h:      hdr("RateLimit", `"a";r=5`, "RateLimit-Policy", `"b";q=10;w=60`),
			want:   with(200, func(s *Signal) { s.Remaining, s.Resource = 5, "a" }),
		},
		{
			name:   "policy alone reports the smallest quota",
			status: 200,
			h:      hdr("RateLimit-Policy", `"hour";q=1000;w=3600, "minute";q=60;w=60`),
			want: with(200, func(s *Signal) {
				s.Limit, s.Window, s.Resource = 60, time.Minute, "minute"
			}),
		},
		{
			name:   "older draft fields, list-valued limit takes the first integer",
			status: 200,
			h:      hdr("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "42", "RateLimit-Reset", "17"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset = 100, 42, after(17*time.Second)
			}),
		},
		{
			name:   "structured field supersedes the older fields",
			status: 200,
			h: hdr("RateLimit", `"default";r=50;t=30`, "RateLimit-Policy", `"default";q=100;w=60`,
				"RateLimit-Limit", "100", "RateLimit-Remaining", "10", "RateLimit-Reset", "5"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = 100, 50, after(30*time.Second), time.Minute, "default"
			}),
		},
		{
			name:   "policy without RateLimit still lets the older fields speak",
			status: 200,
			h: hdr("RateLimit-Policy", `"default";q=100;w=60`,
				"RateLimit-Limit", "100", "RateLimit-Remaining", "10", "RateLimit-Reset", "5"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset = 100, 10, after(5*time.Second)
			}),
		},
		{
			name:   "empty RateLimit list is valid and says nothing",
			status: 200,
			h:      hdr("RateLimit", ""),
			want:   blank(200),
		},
	})
}

func TestParseXRateLimit(t *testing.T) {
	const githubReset = 1717245000 // now + 30 min
	runParseCases(t, []parseCase{
		{
			name:   "GitHub epoch reset with resource, auto",
			status: 200,
			h: hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4987", "X-RateLimit-Reset", "1717245000",
				"X-RateLimit-Used", "13", "X-RateLimit-Resource", "core"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Resource = 5000, 4987, time.Unix(githubReset, 0), "core"
			}),
		},
		{
			name:   "GitHub epoch reset, explicit epoch mode",
			status: 200,
			h:      hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1717245000"),
			opt:    Options{Family: XRateLimit, Reset: ResetEpoch},
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset = 60, 0, time.Unix(githubReset, 0) }),
		},
		{
			name:   "small value is delta seconds under auto",
			status: 200,
			h:      hdr("X-RateLimit-Limit", "30", "X-RateLimit-Remaining", "25", "X-RateLimit-Reset", "17"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset = 30, 25, after(17*time.Second) }),
		},
		{
			name:   "explicit delta mode",
			status: 200,
			h:      hdr("X-RateLimit-Reset", "60"),
			opt:    Options{Reset: ResetDelta},
			want:   with(200, func(s *Signal) { s.Reset = after(time.Minute) }),
		},
		{
			name:   "Jira ISO 8601 without seconds, auto",
			status: 200,
			h:      hdr("X-RateLimit-Limit", "350", "X-RateLimit-Remaining", "349", "X-RateLimit-Reset", "2024-06-01T12:05Z"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset = 350, 349, after(5*time.Minute)
			}),
		},
		{
			name:   "ISO 8601 with seconds, fraction and offset, explicit mode",
			status: 200,
			h:      hdr("X-RateLimit-Reset", "2024-06-01T14:05:30.250+02:00"),
			opt:    Options{Reset: ResetISO8601},
			want:   with(200, func(s *Signal) { s.Reset = after(5*time.Minute + 30*time.Second + 250*time.Millisecond) }),
		},
		{
			name:   "epoch milliseconds under auto",
			status: 200,
			h:      hdr("X-RateLimit-Reset", "1717245000000"),
			want:   with(200, func(s *Signal) { s.Reset = time.Unix(githubReset, 0) }),
		},
		{
			name:   "fractional epoch seconds under auto",
			status: 200,
			h:      hdr("X-RateLimit-Reset", "1717245000.5"),
			want:   with(200, func(s *Signal) { s.Reset = time.Unix(githubReset, 5e8) }),
		},
		{
			name:   "Jira 429 with Retry-After and ISO reset",
			status: 429,
			h: hdr("Retry-After", "30", "X-RateLimit-Limit", "350", "X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", "2024-06-01T12:01Z"),
			want: with(429, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.RetryAfter, s.Throttled = 350, 0, after(time.Minute), 30*time.Second, true
			}),
		},
		{
			name:   "resource without any counts is ignored",
			status: 200,
			h:      hdr("X-RateLimit-Resource", "core"),
			want:   blank(200),
		},
	})
}

func TestParseRetryAfter(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "429 with delta seconds",
			status: 429,
			h:      hdr("Retry-After", "120"),
			want:   with(429, func(s *Signal) { s.RetryAfter, s.Throttled = 2*time.Minute, true }),
		},
		{
			name:   "429 without Retry-After is still throttled",
			status: 429,
			h:      hdr(),
			want:   with(429, func(s *Signal) { s.Throttled = true }),
		},
		{
			name:   "503 with HTTP-date",
			status: 503,
			h:      hdr("Retry-After", after(90*time.Second).Format(http.TimeFormat)),
			want:   with(503, func(s *Signal) { s.RetryAfter, s.Throttled = 90*time.Second, true }),
		},
		{
			name:   "503 with obsolete RFC 850 date",
			status: 503,
			h:      hdr("Retry-After", "Saturday, 01-Jun-24 12:00:10 GMT"),
			want:   with(503, func(s *Signal) { s.RetryAfter, s.Throttled = 10*time.Second, true }),
		},
		{
			name:   "503 without Retry-After is an outage, not throttling",
			status: 503,
			h:      hdr(),
			want:   blank(503),
		},
		{
			name:   "Retry-After on a 200 is reported but not throttling",
			status: 200,
			h:      hdr("Retry-After", "5"),
			want:   with(200, func(s *Signal) { s.RetryAfter = 5 * time.Second }),
		},
		{
			name:   "past HTTP-date clamps to zero and still throttles a 503",
			status: 503,
			h:      hdr("Retry-After", after(-time.Hour).Format(http.TimeFormat)),
			want:   with(503, func(s *Signal) { s.Throttled = true }),
		},
		{
			name:   "Shopify fractional seconds",
			status: 429,
			h:      hdr("Retry-After", "2.0", "X-Shopify-Shop-Api-Call-Limit", "40/40"),
			want: with(429, func(s *Signal) {
				s.Limit, s.Remaining, s.RetryAfter, s.Throttled = 40, 0, 2*time.Second, true
			}),
		},
		{
			name:   "Retry-After is read even when the family excludes everything else",
			status: 429,
			h:      hdr("Retry-After", "7", "X-RateLimit-Remaining", "0"),
			opt:    Options{Family: Salesforce},
			want:   with(429, func(s *Signal) { s.RetryAfter, s.Throttled = 7*time.Second, true }),
		},
	})
}
