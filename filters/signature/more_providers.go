package signature

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Schemes of the Linear, Asana and Airtable profiles: each signs the body
// alone with HMAC-SHA256 into one header, so each is a headerScheme; what
// differs is the header, its prefix, and (Airtable) the key's encoding, and
// (Linear) a timestamp inside the signed body.

// linearTimestamp is where Linear puts the delivery time (Unix ms) in the
// body it signs.
const linearTimestamp = "webhookTimestamp"

// newLinear builds "linear": Linear-Signature = hex(HMAC(body)). Linear's
// docs recommend checking the body's webhookTimestamp against the receive
// time; with a positive Tolerance, Verify does (the timestamp is covered
// by the HMAC, so only Linear can set it). Default: no check, because
// whether a retried delivery carries a fresh timestamp is not documented.
func newLinear(k keyed, tol time.Duration) Scheme {
	hs := &headerScheme{keyed: k, header: "Linear-Signature", enc: encHex}
	if tol <= 0 {
		return hs
	}
	return &bodyTimed{headerScheme: hs, path: linearTimestamp, tolerance: tol}
}

// newAsana builds "asana": X-Hook-Signature = hex(HMAC(body)), keyed with
// the X-Hook-Secret of the webhook's handshake.
func newAsana(k keyed) Scheme {
	return &headerScheme{keyed: k, header: "X-Hook-Signature", enc: encHex}
}

// newAirtable builds "airtable": X-Airtable-Content-MAC =
// "hmac-sha256=" + hex(HMAC(body)), keyed with the webhook's
// macSecretBase64 decoded from base64.
func newAirtable(k keyed) (Scheme, error) {
	key, err := decodeBase64Key(string(k.key))
	if err != nil {
		return nil, fmt.Errorf("signature: new %q: secret: %w", SchemeAirtable, err)
	}
	k.key = key
	return &headerScheme{keyed: k, header: "X-Airtable-Content-MAC", prefix: "hmac-sha256=", enc: encHex}, nil
}

// decodeBase64Key decodes a base64 secret (standard alphabet, padded or
// not). Its errors never quote the secret.
func decodeBase64Key(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, errors.New("not base64 (Airtable's macSecretBase64 is given in base64)")
}

// bodyTimed adds an age check of a timestamp (Unix ms) inside the signed
// body to a body-only headerScheme.
type bodyTimed struct {
	*headerScheme
	path      string
	tolerance time.Duration
}

// Verify implements Scheme: the signature first, then the body's age.
func (s *bodyTimed) Verify(req Request, body []byte, now time.Time) error {
	if err := s.headerScheme.Verify(req, body, now); err != nil {
		return err
	}
	v := gjson.GetBytes(body, s.path)
	if v.Type != gjson.Number || v.Int() <= 0 {
		return s.verifyErr("body "+s.path+": not a Unix time in milliseconds", ErrMalformed)
	}
	if err := checkAge(time.UnixMilli(v.Int()), now, s.tolerance); err != nil {
		return s.verifyErr("body "+s.path, err)
	}
	return nil
}
