package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// timestamped describes the timestamp header of a headerScheme.
type timestamped struct {
	header    string        // header carrying the timestamp, used verbatim in the payload
	format    tsFormat      // how to parse it for the age check and write it when absent
	payload   payload       // how timestamp and body are combined before the HMAC
	tolerance time.Duration // max age; <= 0 disables the check
}

// headerScheme implements every scheme whose signature is a single header
// holding prefix + encode(HMAC-SHA256(payload)): github, jira, shopify,
// smartsheet, zendesk and the generic hmac-sha256.
type headerScheme struct {
	keyed
	header string       // signature header
	prefix string       // value prefix, e.g. "sha256="
	enc    encoding     // digest encoding
	ts     *timestamped // nil when the scheme signs the body alone

	// legacySHA1 names a companion header holding "sha1=" + hex(HMAC-SHA1(body))
	// (GitHub's X-Hub-Signature). Sign refreshes it when the original delivery
	// carried it, so an app still checking the SHA-1 header keeps working.
	legacySHA1 string
}

// Verify implements Scheme.
func (s *headerScheme) Verify(req Request, body []byte, now time.Time) error {
	raw, err := singleHeader(req.Header, s.header)
	if err != nil {
		return s.verifyErr("read signature", err)
	}
	enc, ok := strings.CutPrefix(raw, s.prefix)
	if !ok {
		return s.verifyErr(fmt.Sprintf("header %s: value lacks prefix %q", s.header, s.prefix), ErrMalformed)
	}
	var got [sha256.Size]byte
	if err := s.enc.decodeDigest(enc, &got); err != nil {
		return s.verifyErr(fmt.Sprintf("header %s: %v", s.header, err), ErrMalformed)
	}

	m := s.mac()
	var sentAt time.Time
	if s.ts == nil {
		m.Write(body)
	} else {
		stamp, err := singleHeader(req.Header, s.ts.header)
		if err != nil {
			return s.verifyErr("read timestamp", err)
		}
		if s.ts.tolerance > 0 {
			if sentAt, err = s.ts.format.parse(stamp); err != nil {
				return s.verifyErr(fmt.Sprintf("header %s: %v", s.ts.header, err), ErrMalformed)
			}
		}
		s.ts.payload.write(m, stamp, body)
	}
	var want [sha256.Size]byte
	if !hmac.Equal(m.Sum(want[:0]), got[:]) {
		return s.verifyErr("header "+s.header+": does not match body", ErrMismatch)
	}
	if s.ts != nil {
		if err := checkAge(sentAt, now, s.ts.tolerance); err != nil {
			return s.verifyErr("header "+s.ts.header, err)
		}
	}
	return nil
}

// Sign implements Scheme. The timestamp already in req.Header is reused
// verbatim (and copied into h); only when absent is now written.
func (s *headerScheme) Sign(req Request, body []byte, now time.Time, h http.Header) error {
	if h == nil {
		return s.signErr("destination header is nil")
	}
	m := s.mac()
	if s.ts == nil {
		m.Write(body)
	} else {
		stamp, ok := existingHeader(req.Header, s.ts.header)
		if !ok {
			stamp = s.ts.format.format(now)
		}
		h.Set(s.ts.header, stamp)
		s.ts.payload.write(m, stamp, body)
	}
	h.Set(s.header, s.prefix+s.enc.encode(m.Sum(nil)))

	if s.legacySHA1 != "" {
		if _, ok := existingHeader(req.Header, s.legacySHA1); ok {
			m1 := hmac.New(sha1.New, s.key)
			m1.Write(body)
			h.Set(s.legacySHA1, "sha1="+encHex.encode(m1.Sum(nil)))
		}
	}
	return nil
}
