// Package console is loopguard's admin console: server-rendered pages on
// the admin listener (/ui/) showing what loopguard dropped and why, which
// records and accounts it holds back and what waits in the spool, with
// buttons for the admin API's actions.
//
// The console holds no data of its own. Every page is rendered from admin
// API calls made in process with the visitor's own credentials (the
// Authorization header or the login cookie), so the admin gate decides what
// a visitor sees; every button calls the admin API from the browser, as
// curl would. Assets are embedded; nothing is fetched from the internet.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Console.
type Options struct {
	// API is the admin handler, gate included, that pages read through.
	// Required.
	API http.Handler
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Mux is where the console mounts: the admin listener. Its pages are
// mounted outside the token gate (they read everything through it).
type Mux interface {
	HandleOpen(pattern string, h http.Handler)
}

// Console serves the pages.
type Console struct {
	api    http.Handler
	now    func() time.Time
	pages  map[string]*template.Template
	static http.Handler
}

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "overview", "decisions", "decision", "records", "breakers", "spool", "deadletter", "error"}

// New parses the embedded templates.
func New(o Options) (*Console, error) {
	if o.API == nil {
		return nil, fmt.Errorf("console: Options.API is required")
	}
	c := &Console{api: o.API, now: o.Now, pages: map[string]*template.Template{}}
	if c.now == nil {
		c.now = time.Now
	}
	for _, n := range pageNames {
		t, err := template.New("layout.html").Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		c.pages[n] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	c.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return c, nil
}

// Mount adds the console's routes under /ui/.
func (c *Console) Mount(m Mux) {
	m.HandleOpen("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	m.HandleOpen("GET /ui/static/", secured(c.static))
	m.HandleOpen("GET /ui/login", secured(http.HandlerFunc(c.loginForm)))
	m.HandleOpen("POST /ui/login", secured(http.HandlerFunc(c.login)))
	m.HandleOpen("POST /ui/logout", secured(http.HandlerFunc(c.logout)))
	m.HandleOpen("GET /ui/{$}", c.page("overview", "Overview", c.loadOverview))
	m.HandleOpen("GET /ui/decisions", c.page("decisions", "Decisions", c.loadDecisions))
	m.HandleOpen("GET /ui/decisions/{seq}", c.page("decision", "Decision", c.loadDecision))
	m.HandleOpen("GET /ui/records", c.page("records", "Records", c.loadRecords))
	m.HandleOpen("GET /ui/breakers", c.page("breakers", "Breakers", c.loadBreakers))
	m.HandleOpen("GET /ui/spool", c.page("spool", "Spool", c.loadSpool))
	m.HandleOpen("GET /ui/spool/dead/{id}", c.page("deadletter", "Dead letter", c.loadDeadLetter))
	m.HandleOpen("/ui/", c.page("error", "Not found", func(*view, *http.Request) error {
		return &apiError{Status: http.StatusNotFound, Msg: "no such page"}
	}))
}

// securityHeaders are set on every console response: no inline script,
// nothing from elsewhere, never framed, never cached.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin", // no-referrer would send "Origin: null" on form posts
	"Cache-Control":          "no-store",
}

func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		h.ServeHTTP(w, r)
	})
}
