package filters

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/loopguard/loopguard/configs"
)

// formContentType is the media type of form-encoded deliveries.
const formContentType = "application/x-www-form-urlencoded"

// payload returns the JSON a delivery carries: its body, or, for a route
// whose body is "form_field:NAME" and a form-encoded delivery, the
// url-decoded value of field NAME (GitHub's "payload"). form reports the
// latter: the events' spans then point into the returned payload, not into
// the body, and the delivery is never rewritten.
func (r *WebhookRoute) payload(body []byte, h http.Header) (json []byte, form bool, err error) {
	if r.formField == "" || !isForm(h) {
		return body, false, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, true, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
	}
	v, ok := vals[r.formField]
	if !ok || len(v) != 1 {
		return nil, true, fmt.Errorf("%w: form body has %d %q fields, want one", ErrMalformed, len(v), r.formField)
	}
	return []byte(v[0]), true, nil
}

// isForm reports a form-encoded delivery.
func isForm(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == formContentType
}

// formFieldOf is the form field a route's body setting names ("" none).
func formFieldOf(body string) string {
	name, _ := strings.CutPrefix(body, configs.FormFieldBody)
	return name
}
