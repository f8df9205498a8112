package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Known values of enumerated settings.
var (
	LogFormats        = []string{"json", "console"}
	LogLevels         = []string{"trace", "debug", "info", "warn", "error"}
	AccountSources    = []string{"static", "header", "host", "path", "query"}
	HoldPolicies      = []string{"hold", "reject"}
	MarkerMatches     = []string{"equals", "contains", "prefix", "list"}
	RateLimitFamilies = []string{"auto", "ietf", "x-ratelimit", "salesforce", "hubspot", "shopify", "zendesk"}
	ResetModes        = []string{"auto", "epoch", "delta", "iso8601"}
	SignatureSchemes  = []string{"hmac-sha256", "hubspot-v3", "stripe", "github", "jira", "shopify", "zendesk", "smartsheet", "linear", "asana", "airtable"}
	Normalizers       = []string{"trim", "lower", "number"}
)

func oneOf(field, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
}

func checkAddr(field, addr string, optional bool) error {
	if addr == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: an address is required (host:port)", field)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q is not host:port: %w", field, addr, err)
	}
	return nil
}

func validateConfig(c *Config) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if strings.ContainsAny(c.Agent, ":, \t") {
		add(fmt.Errorf("agent: %q must not contain ':', ',' or spaces (it is part of the sentinel \"<agent>:<fp>\")", c.Agent))
	}
	if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(fmt.Errorf("app_url: %q must be an absolute http(s) URL", c.AppURL))
	}
	add(checkAddr("listen.outbound", c.Listen.Outbound, true))
	add(checkAddr("listen.inbound", c.Listen.Inbound, true))
	add(checkAddr("listen.admin", c.Listen.Admin, false))
	add(checkAddr("listen.gateway", c.Listen.Gateway, true))
	add(checkAddr("listen.transparent", c.Listen.Transparent, true))
	add(oneOf("log.format", c.Log.Format, LogFormats))
	add(oneOf("log.level", c.Log.Level, LogLevels))
	if (c.CA.CertFile == "") != (c.CA.KeyFile == "") {
		add(errors.New("ca: cert_file and key_file go together: set both (a mounted CA) or neither (generated into ca.dir)"))
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"shutdown_grace", c.ShutdownGrace}, {"outbound.dial_timeout", c.Outbound.DialTimeout},
		{"outbound.tls_handshake_timeout", c.Outbound.TLSHandshakeTimeout},
		{"outbound.response_header_timeout", c.Outbound.ResponseHeaderTimeout},
		{"outbound.idle_conn_timeout", c.Outbound.IdleConnTimeout}, {"inbound.app_timeout", c.Inbound.AppTimeout},
		{"inbound.dedup_window", c.Inbound.DedupWindow}, {"ledger.write_ttl", c.Ledger.WriteTTL}, {"ledger.echo_window", c.Ledger.EchoWindow}, {"ledger.seen_ttl", c.Ledger.SeenTTL},
	} {
		if d.v < 0 {
			add(fmt.Errorf("%s: must not be negative", d.name))
		}
	}
	if c.Outbound.MaxBodyBytes < 0 || c.Inbound.MaxBodyBytes < 0 {
		add(errors.New("max_body_bytes: must not be negative"))
	}
	if c.Ledger.Shards&(c.Ledger.Shards-1) != 0 || c.Ledger.Shards <= 0 {
		add(fmt.Errorf("ledger.shards: %d must be a power of two", c.Ledger.Shards))
	}
	if c.Ledger.MaxSizeMB <= 0 {
		add(fmt.Errorf("ledger.max_size_mb: %d must be positive", c.Ledger.MaxSizeMB))
	}
	errs = append(errs, validateGuard(c)...)
	errs = append(errs, validateEgress(c.Outbound)...)
	errs = append(errs, validateInboundServer(c.Inbound)...)
	errs = append(errs, validateLimits(c)...)
	return errors.Join(errs...)
}

// ValidateProfile checks a resolved profile; every error names the field.
func ValidateProfile(p *Profile) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if p.Name == "" {
		add(errors.New("name: required"))
	}
	for i, h := range p.Hosts {
		if h == "" || strings.Contains(h, "/") {
			add(fmt.Errorf("hosts[%d]: %q must be a host or host:port, without scheme or path", i, h))
		}
	}
	if p.BaseURL != "" {
		if u, err := url.Parse(p.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			add(fmt.Errorf("base_url: %q must be an absolute URL", p.BaseURL))
		}
	}
	if !strings.HasPrefix(p.GatewayPrefix, "/") {
		add(fmt.Errorf("gateway_prefix: %q must start with '/'", p.GatewayPrefix))
	}
	add(oneOf("account.from", p.Account.From, AccountSources))
	switch p.Account.From {
	case "header":
		if p.Account.Header == "" {
			add(errors.New("account.header: required when account.from is header"))
		}
	case "path", "query":
		if p.Account.Param == "" {
			add(fmt.Errorf("account.param: required when account.from is %s", p.Account.From))
		}
	}
	for f, ns := range p.Normalize {
		for _, n := range ns {
			add(oneOf("normalize."+f, n, Normalizers))
		}
	}
	if len(p.TrackedFields) == 0 && fingerprints(p) {
		add(errors.New("tracked_fields: list the fields your sync maps; the fingerprint and sentinel are computed over them"))
	}
	for i, w := range p.Writes {
		field := fmt.Sprintf("writes[%d]", i)
		params, err := TemplateParams(w.Path)
		if err != nil {
			add(fmt.Errorf("%s.path: %w", field, err))
		}
		for _, m := range w.Methods {
			if strings.ToUpper(m) != m || m == "" {
				add(fmt.Errorf("%s.methods: %q must be an upper-case HTTP method", field, m))
			}
		}
		if name, ok := paramRef(w.Object); ok && !slices.Contains(params, name) {
			add(fmt.Errorf("%s.object: %q names no parameter of path %q, so it can never match", field, w.Object, w.Path))
		}
		for _, name := range templateRefs(w.RecordID) {
			if !slices.Contains(params, name) && !(name == "id" && isCreate(w, params)) {
				add(fmt.Errorf("%s.record_id: {%s} in %q names no parameter of path %q, so it can never match", field, name, w.RecordID, w.Path))
			}
		}
	}
	if p.Account.From == "path" && len(p.Writes) > 0 {
		found := false
		for _, w := range p.Writes {
			if ps, _ := TemplateParams(w.Path); slices.Contains(ps, p.Account.Param) {
				found = true
			}
		}
		if !found {
			add(fmt.Errorf("account.param: %q is a parameter of no write path", p.Account.Param))
		}
	}
	for i, h := range p.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		if _, err := TemplateParams(h.Path); err != nil {
			add(fmt.Errorf("%s.path: %w", field, err))
		}
		if (h.PropertyName == "") != (h.PropertyValue == "") {
			add(fmt.Errorf("%s: property_name and property_value go together", field))
		}
		if name, ok := strings.CutPrefix(h.Body, FormFieldBody); h.Body != "" && (!ok || name == "") {
			add(fmt.Errorf("%s.body: %q: want \"\" or %q followed by a form field name", field, h.Body, FormFieldBody))
		}
		if h.Record != "" && h.PropertyName != "" {
			add(fmt.Errorf("%s: record and property_name are alternatives; set one", field))
		}
		if h.Nulls != "" {
			add(oneOf(field+".nulls", h.Nulls, []string{"value", "unchanged"}))
		}
		for j, m := range h.Markers {
			if m.From == "" {
				add(fmt.Errorf("%s.markers[%d].from: required", field, j))
			}
			add(oneOf(fmt.Sprintf("%s.markers[%d].match", field, j), m.Match, MarkerMatches))
		}
		for _, spec := range append(append([]string{h.Record, h.ObjectType, h.Account, h.Actor, h.OccurredAt, h.PropertyName, h.PropertyValue}, h.RecordID...), h.EventID...) {
			if err := CheckValueSpec(spec); err != nil {
				add(fmt.Errorf("%s: %w", field, err))
			}
		}
	}
	errs = append(errs, validatePaths(p)...)
	errs = append(errs, validateShapes(p)...)
	errs = append(errs, validateReads(p)...)
	errs = append(errs, validateBatch(p)...)
	for i, h := range p.Handshakes {
		if h.Header == "" && h.Query == "" {
			add(fmt.Errorf("handshakes[%d]: set header or query", i))
		}
	}
	if p.Signature.Scheme != "" {
		add(oneOf("signature.scheme", p.Signature.Scheme, SignatureSchemes))
		if p.Signature.Scheme == "hmac-sha256" && p.Signature.Header == "" {
			add(errors.New("signature.header: required for the hmac-sha256 scheme"))
		}
	}
	add(oneOf("rate_limit.family", p.RateLimit.Family, RateLimitFamilies))
	add(oneOf("rate_limit.reset", p.RateLimit.Reset, ResetModes))
	add(oneOf("hold_policy", p.HoldPolicy, HoldPolicies))
	for k := range p.Layers {
		add(oneOf("layers", k, LayerNames))
	}
	return errors.Join(errs...)
}

// CheckValueSpec checks one value spec ("path", "header:Name", "body:path",
// "=literal", or alternatives "a ?? b").
func CheckValueSpec(s string) error {
	alts := SpecAlternatives(s)
	for _, a := range alts {
		if a == "" && len(alts) > 1 {
			return fmt.Errorf("value spec %q: an alternative is empty", s)
		}
		if k, v, ok := strings.Cut(a, ":"); ok && (k == "header" || k == "body") && v == "" {
			return fmt.Errorf("value spec %q: %s: needs a name", s, k)
		}
		if strings.Count(a, "{") != strings.Count(a, "}") && !strings.HasPrefix(a, "=") {
			return fmt.Errorf("value spec %q: unbalanced braces", s)
		}
	}
	return nil
}

// paramRef reports whether v is "{name}" and returns name.
func paramRef(v string) (string, bool) {
	if len(v) > 2 && v[0] == '{' && v[len(v)-1] == '}' {
		return strings.TrimSuffix(v[1:len(v)-1], "..."), true
	}
	return "", false
}

// TemplateParams parses a path template and returns its parameter names.
func TemplateParams(tpl string) ([]string, error) {
	if !strings.HasPrefix(tpl, "/") {
		return nil, fmt.Errorf("%q must start with '/'", tpl)
	}
	var names []string
	segs := strings.Split(tpl[1:], "/")
	for i, seg := range segs {
		open, close := strings.Count(seg, "{"), strings.Count(seg, "}")
		if open == 0 && close == 0 {
			continue
		}
		// A parameter is a whole segment, or one followed by a literal
		// extension (Shopify's /products/{id}.json).
		j := strings.IndexByte(seg, '}')
		ext := seg[j+1:]
		if open != 1 || close != 1 || seg[0] != '{' || (ext != "" && (ext[0] != '.' || len(ext) < 2 || strings.HasSuffix(seg[:j], "..."))) {
			return nil, fmt.Errorf("%q: segment %q: a parameter must be a whole segment like {id} (or {id}.ext)", tpl, seg)
		}
		name := seg[1:j]
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			if i != len(segs)-1 {
				return nil, fmt.Errorf("%q: {%s} must be the last segment", tpl, name)
			}
			name = rest
		}
		if name == "" || slices.Contains(names, name) {
			return nil, fmt.Errorf("%q: parameter %q is empty or repeated", tpl, name)
		}
		names = append(names, name)
	}
	return names, nil
}
