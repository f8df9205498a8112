package ratelimit

// Canonical header keys (http.CanonicalHeaderKey of each name), so Parse
// can index the header map directly instead of canonicalising per call.
// net/http canonicalises response header names for both HTTP/1 and HTTP/2.
const (
	keyRateLimit          = "Ratelimit"
	keyRateLimitPolicy    = "Ratelimit-Policy"
	keyRateLimitLimit     = "Ratelimit-Limit"
	keyRateLimitRemaining = "Ratelimit-Remaining"
	keyRateLimitReset     = "Ratelimit-Reset"

	keyXLimit     = "X-Ratelimit-Limit"
	keyXRemaining = "X-Ratelimit-Remaining"
	keyXReset     = "X-Ratelimit-Reset"
	keyXResource  = "X-Ratelimit-Resource"

	keyRetryAfter = "Retry-After"

	keySforceLimitInfo = "Sforce-Limit-Info"

	keyHubDaily             = "X-Hubspot-Ratelimit-Daily"
	keyHubDailyRemaining    = "X-Hubspot-Ratelimit-Daily-Remaining"
	keyHubIntervalMillis    = "X-Hubspot-Ratelimit-Interval-Milliseconds"
	keyHubMax               = "X-Hubspot-Ratelimit-Max"
	keyHubRemaining         = "X-Hubspot-Ratelimit-Remaining"
	keyHubSecondly          = "X-Hubspot-Ratelimit-Secondly"
	keyHubSecondlyRemaining = "X-Hubspot-Ratelimit-Secondly-Remaining"

	keyShopifyCallLimit = "X-Shopify-Shop-Api-Call-Limit"

	keyZendeskLimit     = "X-Rate-Limit"
	keyZendeskRemaining = "X-Rate-Limit-Remaining"
)

// slot numbers the headers Parse reads, so Auto mode can collect them in
// one pass over the header map into a fixed array instead of hashing every
// key it might need.
type slot uint8

// Header slots, one per key above.
const (
	sRateLimit slot = iota
	sRateLimitPolicy
	sRateLimitLimit
	sRateLimitRemaining
	sRateLimitReset
	sXLimit
	sXRemaining
	sXReset
	sXResource
	sRetryAfter
	sSforceLimitInfo
	sHubDaily
	sHubDailyRemaining
	sHubIntervalMillis
	sHubMax
	sHubRemaining
	sHubSecondly
	sHubSecondlyRemaining
	sShopifyCallLimit
	sZendeskLimit
	sZendeskRemaining
	nSlots
)

// keyOf returns the canonical header key of a slot.
func keyOf(s slot) string {
	switch s {
	case sRateLimit:
		return keyRateLimit
	case sRateLimitPolicy:
		return keyRateLimitPolicy
	case sRateLimitLimit:
		return keyRateLimitLimit
	case sRateLimitRemaining:
		return keyRateLimitRemaining
	case sRateLimitReset:
		return keyRateLimitReset
	case sXLimit:
		return keyXLimit
	case sXRemaining:
		return keyXRemaining
	case sXReset:
		return keyXReset
	case sXResource:
		return keyXResource
	case sRetryAfter:
		return keyRetryAfter
	case sSforceLimitInfo:
		return keySforceLimitInfo
	case sHubDaily:
		return keyHubDaily
	case sHubDailyRemaining:
		return keyHubDailyRemaining
	case sHubIntervalMillis:
		return keyHubIntervalMillis
	case sHubMax:
		return keyHubMax
	case sHubRemaining:
		return keyHubRemaining
	case sHubSecondly:
		return keyHubSecondly
	case sHubSecondlyRemaining:
		return keyHubSecondlyRemaining
	case sShopifyCallLimit:
		return keyShopifyCallLimit
	case sZendeskLimit:
		return keyZendeskLimit
	case sZendeskRemaining:
		return keyZendeskRemaining
	}
	return ""
}

// slotOf returns the slot of a canonical header key; ok is false for the
// headers Parse does not read. Every key read starts with 'R', 'S' or 'X',
// which rejects most unrelated headers after one byte.
func slotOf(k string) (s slot, ok bool) {
	if len(k) < len(keyRateLimit) || (k[0] != 'R' && k[0] != 'S' && k[0] != 'X') {
		return 0, false
	}
	switch k {
	case keyRateLimit:
		return sRateLimit, true
	case keyRateLimitPolicy:
		return sRateLimitPolicy, true
	case keyRateLimitLimit:
		return sRateLimitLimit, true
	case keyRateLimitRemaining:
		return sRateLimitRemaining, true
	case keyRateLimitReset:
		return sRateLimitReset, true
	case keyXLimit:
		return sXLimit, true
	case keyXRemaining:
		return sXRemaining, true
	case keyXReset:
		return sXReset, true
	case keyXResource:
		return sXResource, true
	case keyRetryAfter:
		return sRetryAfter, true
	case keySforceLimitInfo:
		return sSforceLimitInfo, true
	case keyHubDaily:
		return sHubDaily, true
	case keyHubDailyRemaining:
		return sHubDailyRemaining, true
	case keyHubIntervalMillis:
		return sHubIntervalMillis, true
	case keyHubMax:
		return sHubMax, true
	case keyHubRemaining:
		return sHubRemaining, true
	case keyHubSecondly:
		return sHubSecondly, true
	case keyHubSecondlyRemaining:
		return sHubSecondlyRemaining, true
	case keyShopifyCallLimit:
		return sShopifyCallLimit, true
	case keyZendeskLimit:
		return sZendeskLimit, true
	case keyZendeskRemaining:
		return sZendeskRemaining, true
	}
	return 0, false
}
