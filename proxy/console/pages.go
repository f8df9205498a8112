package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// view is what every template gets.
type view struct {
	Title string
	// Page names the navigation entry to highlight.
	Page string
	// Public pages (login) show no navigation.
	Public bool
	// CSRF is the session's CSRF token for forms and fetch calls ("" when
	// not logged in by cookie).
	CSRF string
	// LoggedIn shows the logout button (a login cookie is present).
	LoggedIn bool
	Error    string
	Now      time.Time
	Data     any
}

// loader fills a page's data from the admin API.
type loader func(v *view, r *http.Request) error

// page serves one console page: the loader reads the admin API with the
// visitor's credentials; the gate's 401 sends the visitor to the login.
func (c *Console) page(name, title string, load loader) http.Handler {
	return secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &view{Title: title, Page: name, CSRF: csrfOf(r), Now: c.now()}
		_, err := r.Cookie(TokenCookie)
		v.LoggedIn = err == nil
		if err := load(v, r); err != nil {
			switch status := statusOf(err); status {
			case http.StatusUnauthorized, http.StatusForbidden:
				// No token, or a wrong one (a page load changes nothing, so
				// the gate's 403 here is about the token).
				http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			case 0:
				c.fail(w, r, http.StatusBadGateway, err.Error())
			default:
				c.fail(w, r, status, err.(*apiError).Msg)
			}
			return
		}
		c.render(w, http.StatusOK, name, v)
	}))
}

// render executes a page into a buffer first, so a template error never
// leaves half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, v *view) {
	var b bytes.Buffer
	if err := c.pages[name].Execute(&b, v); err != nil {
		http.Error(w, "console: render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail renders the error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := &view{Title: http.StatusText(status), Page: "error", CSRF: csrfOf(r), Now: c.now(), Error: msg}
	_, err := r.Cookie(TokenCookie)
	v.LoggedIn = err == nil
	c.render(w, status, "error", v)
}

// funcs are the templates' helpers.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"ago":      func(t time.Time) string { return ago(c.now(), t) },
		"until":    func(t time.Time) string { return until(c.now(), t) },
		"clock":    clock,
		"percent":  percent,
		"bytes":    humanBytes,
		"duration": func(s float64) string { return humanDuration(time.Duration(s * float64(time.Second))) },
		"pathesc":  url.PathEscape,
		"queryesc": url.QueryEscape,
		"explain":  explainReason,
		"num":      func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
		"add":      func(a, b int) int { return a + b },
		"provtime": providerTime,
		"fixed1":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"recordkey": func(provider, object, record string) string {
			return recordKey(provider, "", object, record)
		},
		"breakerpath": func(provider, account string) string {
			return "/breakers/" + url.PathEscape(provider) + "/" + url.PathEscape(account) + "/reset"
		},
	}
}

// recordKey renders a record key as the admin API takes it
// ("provider/account/object/record", '%' and '/' in parts escaped).
func recordKey(provider, account, object, record string) string {
	esc := strings.NewReplacer("%", "%25", "/", "%2F")
	return esc.Replace(provider) + "/" + esc.Replace(account) + "/" + esc.Replace(object) + "/" + esc.Replace(record)
}

// providerTime renders a provider's time or sequence number: a Unix time
// in seconds, milliseconds, microseconds or nanoseconds (told apart by
// size) as a clock time, anything smaller as a sequence number.
func providerTime(v int64) string {
	var t time.Time
	switch {
	case v >= 1e17:
		t = time.Unix(0, v)
	case v >= 1e14:
		t = time.UnixMicro(v)
	case v >= 1e11:
		t = time.UnixMilli(v)
	case v >= 1e9:
		t = time.Unix(v, 0)
	default:
		return "seq " + strconv.FormatInt(v, 10)
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("15:04:05.000")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

func until(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + humanDuration(d)
	}
	return humanDuration(now.Sub(t)) + " ago"
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// percent renders a fraction; negative means unknown.
func percent(f float64) string {
	if f < 0 || math.IsNaN(f) {
		return "unknown"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + " %"
}

func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
