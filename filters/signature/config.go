package signature

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scheme names accepted in Config.Scheme.
const (
	SchemeGeneric    = "hmac-sha256"
	SchemeHubSpotV3  = "hubspot-v3"
	SchemeStripe     = "stripe"
	SchemeGitHub     = "github"
	SchemeJira       = "jira"
	SchemeShopify    = "shopify"
	SchemeZendesk    = "zendesk"
	SchemeSmartsheet = "smartsheet"
	SchemeLinear     = "linear"
	SchemeAsana      = "asana"
	SchemeAirtable   = "airtable"
)

// Config selects and parameterises a Scheme. Only Scheme and Secret apply
// to provider schemes; the generic fields are rejected for them so a
// misplaced setting is reported rather than silently ignored.
type Config struct {
	// Scheme is one of Known(). Required.
	Scheme string
	// Secret is the shared HMAC secret (HubSpot: the app's client secret).
	// Required; never printed by String or included in errors.
	Secret string
	// Header is the generic scheme's signature header name. Required for
	// hmac-sha256.
	Header string
	// Encoding is the generic digest encoding: "hex" (default) or "base64".
	Encoding string
	// Prefix is a generic value prefix such as "sha256=". Default none.
	Prefix string
	// TimestampHeader optionally names the generic scheme's timestamp
	// header; when set the signed payload follows Payload.
	TimestampHeader string
	// Payload is the generic signed payload template, with exactly one
	// {timestamp} and one {body}: DefaultPayload "{timestamp}{body}" when
	// TimestampHeader is set, or e.g. "{timestamp}.{body}". Only valid with
	// TimestampHeader.
	Payload string
	// TimestampFormat is how the generic timestamp header is parsed for the
	// age check and written by Sign when absent: "unix" (default, seconds),
	// "unix-ms" or "rfc3339". Only valid with TimestampHeader.
	TimestampFormat string
	// Tolerance is the maximum age of a timestamped delivery. 0 means the
	// scheme default: 5m for hubspot-v3, 300s for stripe, no check for
	// zendesk, linear and hmac-sha256 (no documented window). For linear a
	// positive value checks the body's webhookTimestamp. Negative disables the
	// check. A positive value on a scheme without a timestamp is an error.
	Tolerance time.Duration
}

// String describes the config with the secret redacted, so it is safe to log.
func (c Config) String() string {
	secret := "unset"
	if c.Secret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("signature.Config{Scheme:%q Secret:%s Header:%q Encoding:%q Prefix:%q TimestampHeader:%q Payload:%q TimestampFormat:%q Tolerance:%s}",
		c.Scheme, secret, c.Header, c.Encoding, c.Prefix, c.TimestampHeader, c.Payload, c.TimestampFormat, c.Tolerance)
}

// GoString keeps %#v from printing the secret.
func (c Config) GoString() string { return c.String() }

// Known returns the accepted scheme names, sorted.
func Known() []string {
	return []string{
		SchemeAirtable, SchemeAsana, SchemeGitHub, SchemeGeneric, SchemeHubSpotV3, SchemeJira,
		SchemeLinear, SchemeShopify, SchemeSmartsheet, SchemeStripe, SchemeZendesk,
	}
}

// New validates cfg and returns the Scheme it describes. It rejects an
// unknown scheme (naming it and listing Known), an empty secret, generic
// fields on a provider scheme, and a positive Tolerance on a scheme that
// has no timestamp.
func New(cfg Config) (Scheme, error) {
	if err := newScheme(cfg); err != nil {
		return nil, fmt.Errorf("signature: new %q: %w", cfg.Scheme, err)
	}
	k := keyed{name: cfg.Scheme, key: []byte(cfg.Secret)}
	switch cfg.Scheme {
	case SchemeHubSpotV3:
		return &hubspotScheme{keyed: k, tolerance: tolerance(cfg.Tolerance, DefaultHubSpotTolerance)}, nil
	case SchemeStripe:
		return &stripeScheme{keyed: k, tolerance: tolerance(cfg.Tolerance, DefaultStripeTolerance)}, nil
	case SchemeGitHub:
		return &headerScheme{keyed: k, header: "X-Hub-Signature-256", prefix: "sha256=", enc: encHex, legacySHA1: "X-Hub-Signature"}, nil
	case SchemeJira:
		return &headerScheme{keyed: k, header: "X-Hub-Signature", prefix: "sha256=", enc: encHex}, nil
	case SchemeShopify:
		return &headerScheme{keyed: k, header: "X-Shopify-Hmac-Sha256", enc: encBase64}, nil
	case SchemeSmartsheet:
		return &headerScheme{keyed: k, header: "Smartsheet-Hmac-SHA256", enc: encHex}, nil
	case SchemeLinear:
		return newLinear(k, tolerance(cfg.Tolerance, 0)), nil
	case SchemeAsana:
		return newAsana(k), nil
	case SchemeAirtable:
		return newAirtable(k)
	case SchemeZendesk:
		// Zendesk signs timestamp + body; the timestamp is ISO-8601, used verbatim.
		return &headerScheme{keyed: k, header: "X-Zendesk-Webhook-Signature", enc: encBase64, ts: &timestamped{
			header: "X-Zendesk-Webhook-Signature-Timestamp", format: tsRFC3339,
			payload:   payload{{kind: segTimestamp}, {kind: segBody}},
			tolerance: tolerance(cfg.Tolerance, 0),
		}}, nil
	default: // SchemeGeneric, checked by newScheme
		return newGeneric(k, cfg)
	}
}

// newScheme checks what applies to every scheme.
func newScheme(cfg Config) error {
	known := false
	for _, n := range Known() {
		known = known || n == cfg.Scheme
	}
	switch {
	case !known:
		return fmt.Errorf("unknown scheme %q (known: %s)", cfg.Scheme, strings.Join(Known(), ", "))
	case cfg.Secret == "":
		return errors.New("secret is empty")
	case cfg.Scheme == SchemeGeneric:
		return nil
	}
	generic := []struct{ field, val string }{
		{"Header", cfg.Header}, {"Encoding", cfg.Encoding}, {"Prefix", cfg.Prefix},
		{"TimestampHeader", cfg.TimestampHeader}, {"Payload", cfg.Payload},
		{"TimestampFormat", cfg.TimestampFormat},
	}
	for _, g := range generic {
		if g.val != "" {
			return fmt.Errorf("field %s applies only to scheme %s", g.field, SchemeGeneric)
		}
	}
	switch cfg.Scheme {
	case SchemeGitHub, SchemeJira, SchemeShopify, SchemeSmartsheet, SchemeAsana, SchemeAirtable:
		if cfg.Tolerance > 0 {
			return fmt.Errorf("tolerance %s set but scheme %s has no timestamp", cfg.Tolerance, cfg.Scheme)
		}
	}
	return nil
}

// newGeneric builds the configurable hmac-sha256 scheme.
func newGeneric(k keyed, cfg Config) (Scheme, error) {
	fail := func(format string, a ...any) (Scheme, error) {
		return nil, fmt.Errorf("signature: new %q: "+format, append([]any{cfg.Scheme}, a...)...)
	}
	if strings.TrimSpace(cfg.Header) == "" {
		return fail("field Header is required")
	}
	s := &headerScheme{keyed: k, header: cfg.Header, prefix: cfg.Prefix}
	switch cfg.Encoding {
	case "", "hex":
		s.enc = encHex
	case "base64":
		s.enc = encBase64
	default:
		return fail("field Encoding %q: want hex or base64", cfg.Encoding)
	}
	if cfg.TimestampHeader == "" {
		switch {
		case cfg.Payload != "":
			return fail("field Payload needs TimestampHeader")
		case cfg.TimestampFormat != "":
			return fail("field TimestampFormat needs TimestampHeader")
		case cfg.Tolerance > 0:
			return fail("tolerance %s set but no TimestampHeader", cfg.Tolerance)
		}
		return s, nil
	}
	tmpl := cfg.Payload
	if tmpl == "" {
		tmpl = DefaultPayload
	}
	p, err := parsePayload(tmpl)
	if err != nil {
		return fail("field Payload: %w", err)
	}
	var f tsFormat
	switch cfg.TimestampFormat {
	case "", TimestampUnix:
		f = tsUnix
	case TimestampUnixMS:
		f = tsUnixMS
	case TimestampRFC3339:
		f = tsRFC3339
	default:
		return fail("field TimestampFormat %q: want %s, %s or %s", cfg.TimestampFormat, TimestampUnix, TimestampUnixMS, TimestampRFC3339)
	}
	s.ts = &timestamped{header: cfg.TimestampHeader, format: f, payload: p, tolerance: tolerance(cfg.Tolerance, 0)}
	return s, nil
}

// tolerance resolves Config.Tolerance: 0 → def, negative → disabled (0).
func tolerance(configured, def time.Duration) time.Duration {
	switch {
	case configured == 0:
		return def
	case configured < 0:
		return 0
	}
	return configured
}
