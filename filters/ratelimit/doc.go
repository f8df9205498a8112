// Package ratelimit parses the rate-limit signals that SaaS APIs put in
// their response headers, so the outbound proxy can feed a per-account quota
// breaker without waiting for a 429.
//
// Parse is called on every upstream response of a configured provider, so it
// is written for the hot path: headers are read with h[key] using
// precomputed canonical keys (net/http canonicalises response header names),
// values are scanned byte by byte without strings.Split, regexps or fmt, and
// a Signal is a plain value with fixed-size secondary windows, so a parse
// does not allocate.
//
// Supported header families:
//
//   - IETF draft structured fields: RateLimit ("name";r=R;t=T) and
//     RateLimit-Policy ("name";q=Q;w=W), plus the older draft fields
//     RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset.
//   - X-RateLimit-Limit / -Remaining / -Reset (GitHub, Jira Cloud, many
//     others); the reset encoding is chosen by Options.Reset.
//   - Salesforce Sforce-Limit-Info (api-usage=USED/LIMIT).
//   - HubSpot X-HubSpot-RateLimit-* (interval, secondly and daily windows).
//   - Shopify X-Shopify-Shop-Api-Call-Limit (USED/LIMIT).
//   - Zendesk X-Rate-Limit / X-Rate-Limit-Remaining.
//   - Retry-After (delta seconds or HTTP-date) for every family.
//
// Unparseable values never fail a parse: they are skipped and counted in
// Signal.Malformed so operators can spot a provider that changed its format.
package ratelimit
