package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	// stripeHeader carries "t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]".
	stripeHeader = "Stripe-Signature"
	// DefaultStripeTolerance is Stripe's documented default replay window.
	DefaultStripeTolerance = 300 * time.Second
)

// stripeScheme implements Stripe's scheme: HMAC-SHA256 over "<t>.<body>",
// hex encoded in one or more v1 elements (several during secret rolling).
type stripeScheme struct {
	keyed
	tolerance time.Duration // <= 0 disables the age check
}

// stripeSig is a parsed Stripe-Signature header.
type stripeSig struct {
	t  string   // timestamp exactly as sent (it is what was signed)
	v1 []string // candidate signatures
}

// parseStripe splits the header into t and v1 elements; other schemes
// (v0, future ones) are ignored as Stripe's libraries do. A missing or
// repeated t, or an element without '=', is ErrMalformed.
func parseStripe(v string) (stripeSig, error) {
	var sig stripeSig
	for elem := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(elem), "=")
		if !ok {
			return sig, fmt.Errorf("element %q is not key=value: %w", elem, ErrMalformed)
		}
		switch k {
		case "t":
			if sig.t != "" {
				return sig, fmt.Errorf("repeated t element: %w", ErrMalformed)
			}
			sig.t = val
		case "v1":
			sig.v1 = append(sig.v1, val)
		}
	}
	if sig.t == "" {
		return sig, fmt.Errorf("no t element: %w", ErrMalformed)
	}
	return sig, nil
}

// Verify implements Scheme. Any v1 element matching is enough; v1 values
// that are not 64 hex digits are skipped, and ErrMalformed is returned only
// when none is decodable.
func (s *stripeScheme) Verify(req Request, body []byte, now time.Time) error {
	raw, err := singleHeader(req.Header, stripeHeader)
	if err != nil {
		return s.verifyErr("read signature", err)
	}
	sig, err := parseStripe(raw)
	if err != nil {
		return s.verifyErr("header "+stripeHeader, err)
	}
	secs, err := strconv.ParseInt(sig.t, 10, 64)
	if err != nil || secs < 0 {
		return s.verifyErr(fmt.Sprintf("header %s: t=%q is not a unix time", stripeHeader, sig.t), ErrMalformed)
	}
	if len(sig.v1) == 0 {
		return s.verifyErr("header "+stripeHeader+": no v1 signature", ErrMissing)
	}

	m := s.mac()
	m.Write([]byte(sig.t))
	m.Write([]byte{'.'})
	m.Write(body)
	var want [sha256.Size]byte
	expected := m.Sum(want[:0])

	decoded, matched := 0, false
	for _, cand := range sig.v1 {
		var got [sha256.Size]byte
		if encHex.decodeDigest(cand, &got) != nil {
			continue
		}
		decoded++
		if hmac.Equal(expected, got[:]) {
			matched = true
		}
	}
	switch {
	case decoded == 0:
		return s.verifyErr(fmt.Sprintf("header %s: none of %d v1 values is 64 hex digits", stripeHeader, len(sig.v1)), ErrMalformed)
	case !matched:
		return s.verifyErr(fmt.Sprintf("header %s: none of %d v1 values matches body", stripeHeader, decoded), ErrMismatch)
	}
	if err := checkAge(time.Unix(secs, 0), now, s.tolerance); err != nil {
		return s.verifyErr("header "+stripeHeader, err)
	}
	return nil
}

// Sign implements Scheme. It reuses t from the Stripe-Signature already in
// req.Header when parsable, else now, and writes "t=<t>,v1=<hex>" (dropping
// v0 and stale v1 values).
func (s *stripeScheme) Sign(req Request, body []byte, now time.Time, h http.Header) error {
	if h == nil {
		return s.signErr("destination header is nil")
	}
	t := strconv.FormatInt(now.Unix(), 10)
	if raw, ok := existingHeader(req.Header, stripeHeader); ok {
		if sig, err := parseStripe(raw); err == nil {
			if _, err := strconv.ParseInt(sig.t, 10, 64); err == nil {
				t = sig.t
			}
		}
	}
	m := s.mac()
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	h.Set(stripeHeader, "t="+t+",v1="+encHex.encode(m.Sum(nil)))
	return nil
}
