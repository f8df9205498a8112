package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// maxAPIBody bounds an admin API answer read in process (the decision
// ring and the spool listings are bounded; this bounds a page's memory).
const maxAPIBody = 16 << 20

// apiError is an admin API answer other than 2xx.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("admin API: %d %s", e.Status, e.Msg) }

// statusOf is the API status behind err (0 when it is not an API answer).
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// get calls GET path on the admin API with the visitor's credentials and
// decodes the JSON answer into out.
func (c *Console) get(r *http.Request, path string, out any) error {
	return c.call(r, http.MethodGet, path, nil, out)
}

// call runs one admin API request in process. The visitor's credentials,
// address, Host and TLS state go with it, so the gate judges it exactly as
// if the browser had sent it; extra headers (a login probe's) are added.
func (c *Console) call(r *http.Request, method, path string, extra http.Header, out any) error {
	req, err := http.NewRequestWithContext(r.Context(), method, path, nil)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	req.RemoteAddr, req.Host, req.TLS = r.RemoteAddr, r.Host, r.TLS
	req.RequestURI = path
	for _, h := range []string{"Authorization", "Cookie"} {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	rec := &capture{h: http.Header{}, code: http.StatusOK}
	c.api.ServeHTTP(rec, req)
	if rec.tooBig {
		return fmt.Errorf("admin API %s %s: answer larger than %d bytes", method, path, maxAPIBody)
	}
	if rec.code < 200 || rec.code > 299 {
		return &apiError{Status: rec.code, Msg: apiMessage(rec.body.Bytes())}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("admin API %s %s: decode: %w", method, path, err)
	}
	return nil
}

// apiMessage is the error text of an API answer: its JSON "error" field or
// its first line.
func apiMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// capture is an in-process http.ResponseWriter with a bounded body.
type capture struct {
	h      http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
	tooBig bool
}

func (c *capture) Header() http.Header { return c.h }

func (c *capture) WriteHeader(code int) {
	if !c.wrote {
		c.code, c.wrote = code, true
	}
}

func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	if c.body.Len()+len(b) > maxAPIBody {
		c.tooBig = true
		return 0, errors.New("console: admin API answer too large")
	}
	return c.body.Write(b)
}
