package proxy

import (
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/breaker"
	"go.yaml.in/yaml/v3"
)

// overviewView is GET /overview's answer: the console's first page, and a
// health summary for scripts.
type overviewView struct {
	Version       string         `json:"version"`
	StartedAt     time.Time      `json:"started_at"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Observe       bool           `json:"observe"`
	Store         storeView      `json:"store"`
	Decisions     uint64         `json:"decisions_total"`
	Spool         spoolView      `json:"spool"`
	Quarantined   int            `json:"quarantined"`
	Breakers      breakerCounts  `json:"breakers"`
	Providers     []providerView `json:"providers"`
	Series        seriesView     `json:"series"`
}

type storeView struct {
	Kind          string `json:"kind"`
	Up            bool   `json:"up"`
	LedgerEntries int    `json:"ledger_entries"`
	Evictions     uint64 `json:"ledger_evictions"`
	DedupEntries  int    `json:"dedup_entries"`
}

type spoolView struct {
	Items int   `json:"items"`
	Bytes int64 `json:"bytes"`
}

type breakerCounts struct {
	Total    int `json:"total"`
	Open     int `json:"open"`
	HalfOpen int `json:"half_open"`
}

// providerView is one configured provider with its effective profile as
// YAML (secrets print as [redacted], as in `loopguard validate`).
type providerView struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Hosts       []string          `json:"hosts"`
	Profile     string            `json:"profile"`
	Accounts    map[string]string `json:"accounts,omitempty"`
}

type seriesView struct {
	StepSeconds float64       `json:"step_seconds"`
	Points      []seriesPoint `json:"points"`
}

// providerViews renders the effective profiles once (they never change
// while running).
func providerViews(ps []*configs.Provider) []providerView {
	out := make([]providerView, 0, len(ps))
	for _, p := range ps {
		v := providerView{Name: p.Name, Description: p.Description, Hosts: slices.Clone(p.Hosts), Profile: profileYAML(&p.Profile)}
		if v.Hosts == nil {
			v.Hosts = []string{}
		}
		for acct, ap := range p.Accounts {
			if v.Accounts == nil {
				v.Accounts = map[string]string{}
			}
			v.Accounts[acct] = profileYAML(ap)
		}
		out = append(out, v)
	}
	return out
}

func profileYAML(p *configs.Profile) string {
	b, err := yaml.Marshal(p)
	if err != nil {
		return "# profile cannot be shown: " + err.Error()
	}
	return string(b)
}

// buildVersion is the module version and VCS revision the binary was built
// from, when Sidecar.Version is not set.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return strings.TrimSpace(v)
}

// overview serves GET /overview.
func (s *Sidecar) overview(providers []providerView) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		now := s.now()
		v := overviewView{Version: s.Version, StartedAt: s.started, UptimeSeconds: now.Sub(s.started).Seconds(),
			Observe: s.cfg.Observe, Decisions: s.Ring.Total(), Providers: providers,
			Series: seriesView{StepSeconds: s.series.step.Seconds(), Points: s.series.snapshot()}}
		if v.Version == "" {
			v.Version = buildVersion()
		}
		st := s.Store.Stats()
		v.Store = storeView{Kind: s.cfg.Store, Up: s.state.healthy(), LedgerEntries: st.Entries, Evictions: st.Evictions, DedupEntries: st.Events}
		if v.Store.Kind == "" {
			v.Store.Kind = configs.StoreMemory
		}
		if s.spool != nil {
			v.Spool = spoolView{Items: s.spool.Len(), Bytes: s.spool.Bytes()}
		}
		v.Quarantined = len(s.guard.Loops().List())
		for _, b := range s.quota.b.All() {
			v.Breakers.Total++
			switch b.State {
			case breaker.Open:
				v.Breakers.Open++
			case breaker.HalfOpen:
				v.Breakers.HalfOpen++
			}
		}
		writeJSON(w, http.StatusOK, v)
	}
}
