package ratelimit

import (
	"net/http"
	"testing"
)

// TestCanonicalKeys guards the precomputed keys: a key that is not in
// canonical form would silently never match a real response.
func TestCanonicalKeys(t *testing.T) {
	keys := map[string]string{
		"RateLimit": keyRateLimit, "RateLimit-Policy": keyRateLimitPolicy,
		"RateLimit-Limit": keyRateLimitLimit, "RateLimit-Remaining": keyRateLimitRemaining,
		"RateLimit-Reset": keyRateLimitReset, "X-RateLimit-Limit": keyXLimit,
		"X-RateLimit-Remaining": keyXRemaining, "X-RateLimit-Reset": keyXReset,
		"x-ratelimit-resource": keyXResource, "Retry-After": keyRetryAfter,
		"Sforce-Limit-Info": keySforceLimitInfo, "X-HubSpot-RateLimit-Daily": keyHubDaily,
		"X-HubSpot-RateLimit-Daily-Remaining":       keyHubDailyRemaining,
		"X-HubSpot-RateLimit-Interval-Milliseconds": keyHubIntervalMillis,
		"X-HubSpot-RateLimit-Max":                   keyHubMax, "X-HubSpot-RateLimit-Remaining": keyHubRemaining,
		"X-HubSpot-RateLimit-Secondly":           keyHubSecondly,
		"X-HubSpot-RateLimit-Secondly-Remaining": keyHubSecondlyRemaining,
		"X-Shopify-Shop-Api-Call-Limit":          keyShopifyCallLimit,
		"X-Rate-Limit":                           keyZendeskLimit, "X-Rate-Limit-Remaining": keyZendeskRemaining,
	}
	for natural, key := range keys {
		t.Run(natural, func(t *testing.T) {
			if c := http.CanonicalHeaderKey(natural); c != key {
				t.Errorf("key for %q is %q, canonical form is %q", natural, key, c)
			}
		})
	}
}

// TestSlotsRoundTrip guards the two key/slot switches against drifting
// apart: every slot's key must map back to that slot, and lookalikes must
// not match.
func TestSlotsRoundTrip(t *testing.T) {
	for s := slot(0); s < nSlots; s++ {
		k := keyOf(s)
		t.Run(k, func(t *testing.T) {
			if k == "" {
				t.Fatalf("slot %d has no key", s)
			}
			if got, ok := slotOf(k); !ok || got != s {
				t.Errorf("slotOf(%q) = %d, %v; want %d, true", k, got, ok, s)
			}
			if _, ok := slotOf(k + "x"); ok {
				t.Errorf("slotOf(%q) matched", k+"x")
			}
		})
	}
	for _, k := range []string{"", "R", "Content-Type", "X-Request-Id", "Server", "X-RateLimit-Limit"} {
		if s, ok := slotOf(k); ok {
			t.Errorf("slotOf(%q) = %d, want no slot", k, s)
		}
	}
}
