// Package signature verifies and re-signs webhook deliveries.
//
// The inbound proxy must not trust an echo marker inside a webhook body
// unless the delivery is authentically signed by the provider, so it calls
// Scheme.Verify first. When the proxy then rewrites a verified body (for
// example removing echo events from a batch) the provider's signature no
// longer matches, so it calls Scheme.Sign with the same secret to produce
// headers that make the application's own verification pass.
//
// Each provider scheme implements the provider's documented algorithm:
//
//	hubspot-v3   X-HubSpot-Signature-v3 = base64(HMAC(method+uri+body+timestamp)), 5 min window
//	stripe       Stripe-Signature = "t=<unix>,v1=<hex HMAC(t.body)>", 300 s window
//	github       X-Hub-Signature-256 = "sha256=" + hex(HMAC(body))
//	jira         X-Hub-Signature = "sha256=" + hex(HMAC(body))
//	shopify      X-Shopify-Hmac-Sha256 = base64(HMAC(body))
//	zendesk      X-Zendesk-Webhook-Signature = base64(HMAC(timestamp+body))
//	smartsheet   Smartsheet-Hmac-SHA256 = hex(HMAC(body))
//	linear       Linear-Signature = hex(HMAC(body)); optional webhookTimestamp age
//	asana        X-Hook-Signature = hex(HMAC(body)), key from the X-Hook-Secret handshake
//	airtable     X-Airtable-Content-MAC = "hmac-sha256=" + hex(HMAC(body)), key base64-decoded
//	hmac-sha256  generic, described by Config
//
// All HMACs are HMAC-SHA256 and are compared in constant time. Errors wrap
// one of ErrMissing, ErrMalformed, ErrMismatch or ErrExpired and never carry
// the secret or the expected signature.
package signature
