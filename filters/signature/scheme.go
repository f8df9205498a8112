package signature

import (
	"net/http"
	"time"
)

// Request is what a scheme may sign over besides the body.
type Request struct {
	// Method is the HTTP method as the provider sent it, e.g. "POST".
	Method string
	// URI is the full URI as the provider called it, e.g.
	// "https://app.example.com/hooks/hubspot?x=1" (HubSpot v3 signs it, so a
	// proxy must rebuild the public scheme and host, not its internal ones).
	URI string
	// Header holds the delivery headers; Verify reads it and Sign reads the
	// existing timestamp from it.
	Header http.Header
}

// Scheme verifies a provider's webhook signature and re-signs a rewritten
// body with the same algorithm and secret. Implementations are safe for
// concurrent use and never print their secret.
type Scheme interface {
	// Name returns the configured scheme name, e.g. "stripe".
	Name() string
	// Verify returns nil when the body is authentically signed; otherwise an
	// error wrapping ErrMissing, ErrMalformed, ErrMismatch or ErrExpired.
	Verify(req Request, body []byte, now time.Time) error
	// Sign sets the scheme's signature header(s) in h for body. It reuses
	// the timestamp already present in req.Header when the scheme has one
	// (so tolerance windows are unchanged), else uses now, and writes that
	// timestamp into h as well. h is typically req.Header.Clone().
	Sign(req Request, body []byte, now time.Time, h http.Header) error
}
