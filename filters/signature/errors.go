package signature

import "errors"

// Sentinel errors returned (wrapped) by Scheme.Verify so callers can decide
// with errors.Is whether a delivery was unsigned, garbled, forged or stale.
var (
	// ErrMissing reports that a required signature or timestamp header (or
	// request field) is absent or empty.
	ErrMissing = errors.New("signature missing")
	// ErrMalformed reports a header that is present but cannot be parsed or
	// decoded (bad hex/base64, wrong length, unparsable timestamp).
	ErrMalformed = errors.New("signature malformed")
	// ErrMismatch reports a well-formed signature that does not match the
	// body: the delivery was tampered with or signed with another secret.
	ErrMismatch = errors.New("signature mismatch")
	// ErrExpired reports an authentic signature whose timestamp is older
	// than the scheme's tolerance (a possible replay).
	ErrExpired = errors.New("signature timestamp expired")
)
