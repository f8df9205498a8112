package console

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

type recordsPage struct {
	// Query is what was asked for: a whole key, or its parts.
	Key, Provider, Object, Record string
	Found                         *record
	Err                           string
	Quarantined                   []quarantined
	Providers                     []string
}

func (c *Console) loadRecords(v *view, r *http.Request) error {
	q := r.URL.Query()
	p := recordsPage{Key: strings.TrimSpace(q.Get("key")), Provider: q.Get("provider"), Object: q.Get("object"), Record: q.Get("record")}
	var ql struct {
		Quarantined []quarantined `json:"quarantined"`
	}
	if err := c.get(r, "/quarantine", &ql); err != nil {
		return err
	}
	p.Quarantined = ql.Quarantined
	var o overview
	if err := c.get(r, "/overview", &o); err == nil {
		for _, pr := range o.Providers {
			p.Providers = append(p.Providers, pr.Name)
		}
	}
	key := p.Key
	if key == "" && p.Provider != "" && p.Record != "" {
		key = recordKey(p.Provider, "", p.Object, p.Record)
	}
	if key != "" {
		var rec record
		switch err := c.get(r, "/records/"+url.PathEscape(key), &rec); {
		case statusOf(err) == http.StatusUnauthorized || statusOf(err) == http.StatusForbidden:
			return err
		case err != nil:
			p.Err = err.Error()
		default:
			p.Found = &rec
		}
	}
	v.Data = p
	return nil
}

type breakersPage struct {
	Breakers []breakerStatus
}

func (c *Console) loadBreakers(v *view, r *http.Request) error {
	var b struct {
		Breakers []breakerStatus `json:"breakers"`
	}
	if err := c.get(r, "/breakers", &b); err != nil {
		return err
	}
	v.Data = breakersPage{Breakers: b.Breakers}
	return nil
}

type spoolPage struct {
	Spool spoolList
	// Dead are the dead letters; DeadErr says why they cannot be listed
	// (an admin API without the dead-letter endpoints answers 404).
	Dead    []deadLetter
	DeadErr string
	// DeadWarn is the listing's own error (unreadable dead letters).
	DeadWarn string
}

func (c *Console) loadSpool(v *view, r *http.Request) error {
	var p spoolPage
	if err := c.get(r, "/spool", &p.Spool); err != nil {
		return err
	}
	var dl struct {
		Items []deadLetter `json:"items"`
		Error string       `json:"error"`
	}
	switch err := c.get(r, "/spool/dead", &dl); {
	case statusOf(err) == http.StatusNotFound:
		p.DeadErr = "This loopguard's admin API has no dead-letter endpoints (GET /spool/dead)."
	case err != nil:
		p.DeadErr = err.Error()
	default:
		p.Dead, p.DeadWarn = dl.Items, dl.Error
	}
	v.Data = p
	return nil
}

type deadLetterPage struct {
	D       deadLetterDetail
	Headers []header
	// Body is the body as text; Binary when it is not UTF-8 (then Body is
	// its base64).
	Body   string
	Binary bool
}

type header struct{ Name, Value string }

func (c *Console) loadDeadLetter(v *view, r *http.Request) error {
	id := r.PathValue("id")
	var p deadLetterPage
	if err := c.get(r, "/spool/dead/"+url.PathEscape(id), &p.D); err != nil {
		return err
	}
	p.Headers = redactHeaders(p.D.Headers)
	switch {
	case p.D.Body != "":
		p.Body = p.D.Body
	case p.D.BodyBase64 != "":
		b, err := base64.StdEncoding.DecodeString(p.D.BodyBase64)
		if err == nil && utf8.Valid(b) {
			p.Body = string(b)
		} else {
			p.Body, p.Binary = p.D.BodyBase64, true
		}
	}
	v.Title = "Dead letter " + id
	v.Data = p
	return nil
}

// redactHeaders lists headers sorted by name, with credentials and
// signatures replaced by [redacted] (whatever the API already did).
func redactHeaders(raw json.RawMessage) []header {
	multi := map[string][]string{}
	if json.Unmarshal(raw, &multi) != nil {
		single := map[string]string{}
		_ = json.Unmarshal(raw, &single)
		for k, v := range single {
			multi[k] = []string{v}
		}
	}
	var out []header
	for k, vs := range multi {
		for _, v := range vs {
			if secretHeader(k) {
				v = "[redacted]"
			}
			out = append(out, header{Name: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// secretHeader reports headers that carry credentials or signatures.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, s := range []string{"token", "secret", "signature", "api-key", "apikey", "password", "auth", "hmac", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
