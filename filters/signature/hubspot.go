package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	hubspotSigHeader     = "X-HubSpot-Signature-v3"
	hubspotTSHeader      = "X-HubSpot-Request-Timestamp"
	hubspotLegacyHeader  = "X-HubSpot-Signature"
	hubspotLegacyVersion = "X-HubSpot-Signature-Version"
	// DefaultHubSpotTolerance is HubSpot's documented maximum request age.
	DefaultHubSpotTolerance = 5 * time.Minute
)

// hubspotScheme implements HubSpot's v3 request signature:
// base64(HMAC-SHA256(secret, method + decodedURI + body + timestamp)) with
// the timestamp in epoch milliseconds.
type hubspotScheme struct {
	keyed
	tolerance time.Duration // <= 0 disables the age check
}

// Verify implements Scheme. It needs req.Method and the full req.URI as
// HubSpot called it (scheme, host, path and query in the original order).
func (s *hubspotScheme) Verify(req Request, body []byte, now time.Time) error {
	raw, err := singleHeader(req.Header, hubspotSigHeader)
	if err != nil {
		return s.verifyErr("read signature", err)
	}
	stamp, err := singleHeader(req.Header, hubspotTSHeader)
	if err != nil {
		return s.verifyErr("read timestamp", err)
	}
	if req.Method == "" || req.URI == "" {
		return s.verifyErr("request method and URI are required", ErrMissing)
	}
	sentAt, err := tsUnixMS.parse(stamp)
	if err != nil {
		return s.verifyErr(fmt.Sprintf("header %s: %v", hubspotTSHeader, err), ErrMalformed)
	}
	var got [sha256.Size]byte
	if err := encBase64.decodeDigest(raw, &got); err != nil {
		return s.verifyErr(fmt.Sprintf("header %s: %v", hubspotSigHeader, err), ErrMalformed)
	}
	var want [sha256.Size]byte
	if !hmac.Equal(s.v3(req, body, stamp, want[:0]), got[:]) {
		return s.verifyErr("header "+hubspotSigHeader+": does not match request", ErrMismatch)
	}
	if err := checkAge(sentAt, now, s.tolerance); err != nil {
		return s.verifyErr("header "+hubspotTSHeader, err)
	}
	return nil
}

// v3 appends the v3 HMAC for the request to dst.
func (s *hubspotScheme) v3(req Request, body []byte, stamp string, dst []byte) []byte {
	m := s.mac()
	m.Write([]byte(req.Method))
	m.Write([]byte(decodeHubSpotURI(req.URI)))
	m.Write(body)
	m.Write([]byte(stamp))
	return m.Sum(dst)
}

// Sign implements Scheme. It reuses X-HubSpot-Request-Timestamp from
// req.Header when present. If the delivery also carried a legacy v1 or v2
// signature (X-HubSpot-Signature-Version), that header is recomputed too so
// an app still validating the older version accepts the new body.
func (s *hubspotScheme) Sign(req Request, body []byte, now time.Time, h http.Header) error {
	if h == nil {
		return s.signErr("destination header is nil")
	}
	if req.Method == "" || req.URI == "" {
		return s.signErr("request method and URI are required")
	}
	stamp, ok := existingHeader(req.Header, hubspotTSHeader)
	if !ok {
		stamp = tsUnixMS.format(now)
	}
	h.Set(hubspotTSHeader, stamp)
	h.Set(hubspotSigHeader, encBase64.encode(s.v3(req, body, stamp, nil)))

	version, _ := existingHeader(req.Header, hubspotLegacyVersion)
	switch strings.ToLower(version) {
	case "v1":
		h.Set(hubspotLegacyVersion, version)
		h.Set(hubspotLegacyHeader, s.legacy(body))
	case "v2":
		h.Set(hubspotLegacyVersion, version)
		h.Set(hubspotLegacyHeader, s.legacy(body, req.Method, req.URI))
	}
	return nil
}

// legacy computes HubSpot's v1/v2 signature: hex(SHA-256(secret + parts +
// body)). It is a plain hash, not an HMAC, as HubSpot documents; v2 passes
// method and the URI exactly as called (no decoding).
func (s *hubspotScheme) legacy(body []byte, parts ...string) string {
	d := sha256.New()
	d.Write(s.key)
	for _, p := range parts {
		d.Write([]byte(p))
	}
	d.Write(body)
	return encHex.encode(d.Sum(nil))
}

// hubspotUnescape maps the two hex digits of a percent-escape that HubSpot
// decodes before signing a v3 URI to its character; other escapes are kept.
func hubspotUnescape(hex2 string) (byte, bool) {
	switch strings.ToUpper(hex2) {
	case "3A":
		return ':', true
	case "2F":
		return '/', true
	case "3F":
		return '?', true
	case "40":
		return '@', true
	case "21":
		return '!', true
	case "24":
		return '$', true
	case "27":
		return '\'', true
	case "28":
		return '(', true
	case "29":
		return ')', true
	case "2A":
		return '*', true
	case "2C":
		return ',', true
	case "3B":
		return ';', true
	}
	return 0, false
}

// decodeHubSpotURI decodes the escapes listed in hubspotUnescape (hex digits
// in either case) and leaves everything else, including %20 and %26, as is.
func decodeHubSpotURI(uri string) string {
	if strings.IndexByte(uri, '%') < 0 {
		return uri
	}
	var b strings.Builder
	b.Grow(len(uri))
	for i := 0; i < len(uri); i++ {
		if uri[i] == '%' && i+2 < len(uri) {
			if c, ok := hubspotUnescape(uri[i+1 : i+3]); ok {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(uri[i])
	}
	return b.String()
}
