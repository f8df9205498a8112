package ratelimit

import (
	"net/http"
	"testing"
)

// fuzzKeys are every header Parse reads.
var fuzzKeys = []string{
	keyRateLimit, keyRateLimitPolicy, keyRateLimitLimit, keyRateLimitRemaining, keyRateLimitReset,
	keyXLimit, keyXRemaining, keyXReset, keyXResource, keyRetryAfter, keySforceLimitInfo,
	keyHubDaily, keyHubDailyRemaining, keyHubIntervalMillis, keyHubMax, keyHubRemaining,
	keyHubSecondly, keyHubSecondlyRemaining, keyShopifyCallLimit, keyZendeskLimit, keyZendeskRemaining,
}

var fuzzFamilies = []Family{Auto, IETF, XRateLimit, Salesforce, HubSpot, Shopify, Zendesk}

var fuzzResets = []ResetMode{ResetAuto, ResetEpoch, ResetDelta, ResetISO8601}

// FuzzParse feeds arbitrary values to every header Parse reads (a and b
// alternate between keys, and RateLimit gets both as two lines) and checks
// Parse neither panics nor returns an inconsistent Signal.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		status int
		a, b   string
	}{
		{200, `"default";r=50;t=30`, `"default";q=100;w=60`},
		{200, "5000", "4987"},
		{200, "1717245000", "2024-06-01T12:05Z"},
		{429, "api-usage=25/5000, per-app-api-usage=17/250(appName=sample-app)", "32/40"},
		{503, "Sat, 01 Jun 2024 12:00:10 GMT", "2.0"},
		{200, `"x";r=`, "api-usage=/"},
		{200, "100, 100;w=60", `a;r=1;pk=:dGVzdA==:;d=@-12;e=%"x";f=?1;g=-1.5`},
		{200, "", "\x00\xff\"\\"},
	}
	for _, s := range seeds {
		f.Add(s.status, s.a, s.b, uint8(0), uint8(0))
		f.Add(s.status, s.b, s.a, uint8(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, status int, a, b string, fam, reset uint8) {
		h := http.Header{}
		for i, k := range fuzzKeys {
			if i%2 == 0 {
				h[k] = []string{a}
			} else {
				h[k] = []string{b}
			}
		}
		h[keyRateLimit] = []string{a, b}
		opt := Options{Family: fuzzFamilies[int(fam)%len(fuzzFamilies)], Reset: fuzzResets[int(reset)%len(fuzzResets)]}
		s := Parse(status, h, now, opt)
		if s.Status != status {
			t.Fatalf("Status = %d, want %d", s.Status, status)
		}
		for _, q := range []Quota{s.Primary(), s.Daily, s.Secondly} {
			if q.Limit < Unknown || q.Remaining < Unknown || q.Window < 0 {
				t.Fatalf("impossible window %+v", q)
			}
		}
		if s.RetryAfter < 0 {
			t.Fatalf("RetryAfter = %v, want >= 0", s.RetryAfter)
		}
		if s.Malformed < 0 || s.Malformed > len(fuzzKeys)+1 {
			t.Fatalf("Malformed = %d, out of range", s.Malformed)
		}
		if u, ok := s.UsedFraction(); ok && (u < 0 || u > 1 || u != u) {
			t.Fatalf("UsedFraction = %v, out of [0,1]", u)
		}
		if s.Throttled && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
			t.Fatalf("Throttled with status %d", status)
		}
	})
}
