package ratelimit

import (
	"errors"
	"fmt"
)

// Family selects which header family a provider uses. It exists so a
// provider profile can stop the parser from trusting headers that some
// intermediary (API gateway, CDN) adds with a different meaning; Auto tries
// every family.
type Family string

// Header families understood by Parse.
const (
	// Auto tries every family; it is also what the zero value ("") means.
	Auto Family = "auto"
	// IETF is the RateLimit / RateLimit-Policy draft plus the older
	// RateLimit-Limit / -Remaining / -Reset fields.
	IETF Family = "ietf"
	// XRateLimit is X-RateLimit-Limit / -Remaining / -Reset (GitHub, Jira).
	XRateLimit Family = "x-ratelimit"
	// Salesforce is Sforce-Limit-Info.
	Salesforce Family = "salesforce"
	// HubSpot is the X-HubSpot-RateLimit-* set.
	HubSpot Family = "hubspot"
	// Shopify is X-Shopify-Shop-Api-Call-Limit.
	Shopify Family = "shopify"
	// Zendesk is X-Rate-Limit / X-Rate-Limit-Remaining plus the IETF fields
	// some Zendesk endpoints send.
	Zendesk Family = "zendesk"
)

// ResetMode says how X-RateLimit-Reset is expressed for a provider, because
// the header name is shared by APIs that disagree on its encoding.
type ResetMode string

// Reset encodings for X-RateLimit-Reset.
const (
	// ResetAuto guesses: an integer above 1e9 is epoch seconds (above 1e12
	// epoch milliseconds), a timestamp is ISO 8601, anything else is delta
	// seconds. It is also what the zero value ("") means.
	ResetAuto ResetMode = "auto"
	// ResetEpoch is Unix epoch seconds (GitHub).
	ResetEpoch ResetMode = "epoch"
	// ResetDelta is seconds from now.
	ResetDelta ResetMode = "delta"
	// ResetISO8601 is an ISO 8601 timestamp such as 2024-05-10T11:00Z (Jira
	// Cloud).
	ResetISO8601 ResetMode = "iso8601"
)

// Options configures parsing; it comes from a provider profile. The zero
// value is valid and means Family Auto, Reset ResetAuto.
type Options struct {
	// Family restricts which header family is read. Default: Auto ("").
	Family Family
	// Reset says how X-RateLimit-Reset is encoded. Default: ResetAuto ("").
	Reset ResetMode
}

// ErrInvalidOptions is wrapped by every error Options.Validate returns.
var ErrInvalidOptions = errors.New("invalid rate-limit options")

// Validate reports an unknown Family or Reset value. Parse itself never
// fails (it treats unknown values as Auto), so config loading should call
// Validate to catch typos in provider profiles.
func (o Options) Validate() error {
	switch o.Family {
	case "", Auto, IETF, XRateLimit, Salesforce, HubSpot, Shopify, Zendesk:
	default:
		return fmt.Errorf("ratelimit: validate options: family %q is not one of auto, ietf, x-ratelimit, salesforce, hubspot, shopify, zendesk: %w", string(o.Family), ErrInvalidOptions)
	}
	switch o.Reset {
	case "", ResetAuto, ResetEpoch, ResetDelta, ResetISO8601:
	default:
		return fmt.Errorf("ratelimit: validate options: reset %q is not one of auto, epoch, delta, iso8601: %w", string(o.Reset), ErrInvalidOptions)
	}
	return nil
}
