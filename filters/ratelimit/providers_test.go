package ratelimit

import (
	"testing"
	"time"
)

func TestParseProviders(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:   "Salesforce api-usage",
			status: 200,
			h:      hdr("Sforce-Limit-Info", "api-usage=25/5000"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 4975 }),
		},
		{
			name:   "Salesforce api-usage followed by per-app usage",
			status: 200,
			h:      hdr("Sforce-Limit-Info", "api-usage=25/5000, per-app-api-usage=17/250(appName=sample-app)"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 4975 }),
		},
		{
			name:   "Salesforce per-app usage first",
			status: 200,
			h:      hdr("Sforce-Limit-Info", "per-app-api-usage=17/250(appName=sample-app),api-usage=26/5000"),
			opt:    Options{Family: Salesforce},
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 4974 }),
		},
		{
			name:   "Salesforce usage over the limit clamps remaining at zero",
			status: 200,
			h:      hdr("Sforce-Limit-Info", "api-usage=5100/5000"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 0 }),
		},
		{
			name:   "Salesforce per-app usage only says nothing about the org",
			status: 200,
			h:      hdr("Sforce-Limit-Info", "per-app-api-usage=17/250(appName=sample-app)"),
			want:   blank(200),
		},
		{
			name:   "HubSpot full set",
			status: 200,
			h: hdr("X-HubSpot-RateLimit-Daily", "500000", "X-HubSpot-RateLimit-Daily-Remaining", "499000",
				"X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Max", "100",
				"X-HubSpot-RateLimit-Remaining", "97", "X-HubSpot-RateLimit-Secondly", "10",
				"X-HubSpot-RateLimit-Secondly-Remaining", "9"),
			opt: Options{Family: HubSpot},
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window = 100, 97, after(10*time.Second), 10*time.Second
				s.Daily = Quota{Limit: 500000, Remaining: 499000, Window: 24 * time.Hour}
				s.Secondly = Quota{Limit: 10, Remaining: 9, Window: time.Second}
			}),
		},
		{
			name:   "HubSpot interval only (OAuth apps)",
			status: 200,
			h: hdr("X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Max", "110",
				"X-HubSpot-RateLimit-Remaining", "109"),
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window = 110, 109, after(10*time.Second), 10*time.Second
			}),
		},
		{
			name:   "HubSpot daily only",
			status: 200,
			h:      hdr("X-HubSpot-RateLimit-Daily", "250000", "X-HubSpot-RateLimit-Daily-Remaining", "10"),
			want: with(200, func(s *Signal) {
				s.Daily = Quota{Limit: 250000, Remaining: 10, Window: 24 * time.Hour}
			}),
		},
		{
			name:   "Shopify call limit",
			status: 200,
			h:      hdr("X-Shopify-Shop-Api-Call-Limit", "32/40"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 40, 8 }),
		},
		{
			name:   "Zendesk account limit",
			status: 200,
			h:      hdr("X-Rate-Limit", "700", "X-Rate-Limit-Remaining", "699"),
			opt:    Options{Family: Zendesk},
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 700, 699 }),
		},
		{
			name:   "Zendesk endpoint limit in IETF fields is more constrained",
			status: 200,
			h: hdr("X-Rate-Limit", "700", "X-Rate-Limit-Remaining", "699",
				"ratelimit-limit", "100", "ratelimit-remaining", "40", "ratelimit-reset", "20"),
			opt: Options{Family: Zendesk},
			want: with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset = 100, 40, after(20*time.Second)
			}),
		},
		{
			name:   "auto across families keeps the fewest remaining",
			status: 200,
			h:      hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "10", "RateLimit-Limit", "100", "RateLimit-Remaining", "50"),
			want:   with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 10 }),
		},
		{
			name:   "no rate-limit headers",
			status: 200,
			h:      hdr("Content-Type", "application/json", "Cache-Control", "no-cache"),
			want:   blank(200),
		},
		{
			name:   "nil header",
			status: 200,
			h:      nil,
			want:   blank(200),
		},
	})
}

func TestParseFamilyRestriction(t *testing.T) {
	mixed := hdr(
		"RateLimit", `"default";r=1;t=1`, "RateLimit-Policy", `"default";q=2`,
		"X-RateLimit-Limit", "30", "X-RateLimit-Remaining", "3",
		"Sforce-Limit-Info", "api-usage=4/40",
		"X-HubSpot-RateLimit-Max", "50", "X-HubSpot-RateLimit-Remaining", "5",
		"X-Shopify-Shop-Api-Call-Limit", "54/60",
		"X-Rate-Limit", "70", "X-Rate-Limit-Remaining", "7",
	)
	runParseCases(t, []parseCase{
		{name: "auto picks the most constrained (IETF r=1)", status: 200, h: mixed, opt: Options{Family: Auto},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset, s.Resource = 2, 1, after(time.Second), "default" })},
		{name: "zero value family is auto", status: 200, h: mixed,
			want: with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset, s.Resource = 2, 1, after(time.Second), "default" })},
		{name: "unknown family falls back to auto", status: 200, h: mixed, opt: Options{Family: "bogus"},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset, s.Resource = 2, 1, after(time.Second), "default" })},
		{name: "ietf", status: 200, h: mixed, opt: Options{Family: IETF},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset, s.Resource = 2, 1, after(time.Second), "default" })},
		{name: "x-ratelimit", status: 200, h: mixed, opt: Options{Family: XRateLimit},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 30, 3 })},
		{name: "salesforce", status: 200, h: mixed, opt: Options{Family: Salesforce},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 40, 36 })},
		{name: "hubspot", status: 200, h: mixed, opt: Options{Family: HubSpot},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 50, 5 })},
		{name: "shopify", status: 200, h: mixed, opt: Options{Family: Shopify},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 60, 6 })},
		{name: "zendesk includes IETF fields", status: 200, h: mixed, opt: Options{Family: Zendesk},
			want: with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset, s.Resource = 2, 1, after(time.Second), "default" })},
		{name: "zendesk without IETF fields", status: 200, opt: Options{Family: Zendesk},
			h:    hdr("X-Rate-Limit", "70", "X-Rate-Limit-Remaining", "7", "X-RateLimit-Remaining", "3"),
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 70, 7 })},
		{name: "salesforce ignores X-RateLimit", status: 200, opt: Options{Family: Salesforce},
			h: hdr("X-RateLimit-Limit", "30", "X-RateLimit-Remaining", "3"), want: blank(200)},
		{name: "x-ratelimit ignores RateLimit", status: 200, opt: Options{Family: XRateLimit},
			h: hdr("RateLimit", `"default";r=1`), want: blank(200)},
		{name: "a restricted family does not count other families' garbage", status: 200, opt: Options{Family: Shopify},
			h:    hdr("X-RateLimit-Remaining", "abc", "X-Shopify-Shop-Api-Call-Limit", "1/40"),
			want: with(200, func(s *Signal) { s.Limit, s.Remaining = 40, 39 })},
	})
}

// TestParseFixtures runs complete captured-style responses through
// http.ReadResponse so lower-case wire names are canonicalised for real.
func TestParseFixtures(t *testing.T) {
	cases := []struct {
		file string
		opt  Options
		want Signal
	}{
		{"github.http", Options{Family: XRateLimit, Reset: ResetEpoch},
			with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Resource = 5000, 4987, time.Unix(1717245000, 0), "core"
			})},
		{"github.http", Options{},
			with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Resource = 5000, 4987, time.Unix(1717245000, 0), "core"
			})},
		{"jira_429.http", Options{Family: XRateLimit, Reset: ResetISO8601},
			with(429, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.RetryAfter, s.Throttled = 350, 0, after(time.Minute), 30*time.Second, true
			})},
		{"salesforce.http", Options{Family: Salesforce},
			with(200, func(s *Signal) { s.Limit, s.Remaining = 5000, 4975 })},
		{"hubspot.http", Options{Family: HubSpot},
			with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window = 100, 97, after(10*time.Second), 10*time.Second
				s.Daily = Quota{Limit: 500000, Remaining: 499000, Window: 24 * time.Hour}
				s.Secondly = Quota{Limit: 10, Remaining: 9, Window: time.Second}
			})},
		{"shopify.http", Options{Family: Shopify},
			with(200, func(s *Signal) { s.Limit, s.Remaining = 40, 8 })},
		{"zendesk.http", Options{Family: Zendesk},
			with(200, func(s *Signal) { s.Limit, s.Remaining, s.Reset = 100, 40, after(20*time.Second) })},
		{"ietf.http", Options{Family: IETF},
			with(200, func(s *Signal) {
				s.Limit, s.Remaining, s.Reset, s.Window, s.Resource = 1000, 20, after(time.Hour), 24*time.Hour, "daily"
			})},
		{"none.http", Options{}, blank(200)},
	}
	for _, tc := range cases {
		t.Run(tc.file+"/"+string(tc.opt.Family), func(t *testing.T) {
			resp := readFixture(t, tc.file)
			got := Parse(resp.StatusCode, resp.Header, now, tc.opt)
			if d := diffSignal(got, tc.want); d != "" {
				t.Errorf("Parse(%s): %s", tc.file, d)
			}
		})
	}
}
