package proxy

import (
	"fmt"
	"net/http"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy/console"
)

// mountConsole adds the admin endpoints the console reads (curl can too) —
// GET /overview, GET /records/{key} and POST
// /records/{key}/release — and the console itself at /ui/.
func (s *Sidecar) mountConsole(l *configs.Loaded) error {
	s.started = s.now()
	s.series = newSeries(s.Metrics, s.now)
	s.Admin.Handle("GET /overview", s.overview(providerViews(l.Providers)))
	s.Admin.Handle("GET /records/{key}", http.HandlerFunc(s.getRecord))
	s.Admin.Handle("POST /records/{key}/release", http.HandlerFunc(s.releaseRecord))
	c, err := console.New(console.Options{API: s.Admin})
	if err != nil {
		return fmt.Errorf("admin console: %w", err)
	}
	c.Mount(s.Admin)
	return nil
}
