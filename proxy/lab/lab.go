package lab

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/proxy"
	"github.com/rs/zerolog"
)

// Config describes one lab run.
type Config struct {
	// Format is the provider format ("generic", "hubspot", …).
	Format string
	// CRM knobs (Format, Users and WebhookURLs are filled in).
	CRM CRMOptions
	// Fields are the synced (tracked) fields.
	Fields []string
	// InMap/OutMap override the app's identity mapping (circular mappings).
	InMap, OutMap map[string]string
	// Apps is the number of apps syncing through the CRM (default 1); each
	// has its own loopguard when Loopguard is set.
	Apps int
	// Loopguard puts a sidecar next to each app.
	Loopguard bool
	// Observe runs the sidecars in observe mode.
	Observe bool
	// Layers switches echo layers (ablation).
	Layers map[string]bool
	// Extra is YAML appended to each sidecar's configuration.
	Extra string
	// HoldPolicy overrides the profile's hold_policy ("hold", "reject").
	HoldPolicy string
	// RetryFor is how long the apps retry throttled writes.
	RetryFor time.Duration
	// Gateway points each app at its sidecar's gateway (a base URL)
	// instead of using it as a forward proxy.
	Gateway bool
	// Dir holds CA, spool and config files (a temp dir when empty).
	Dir string
	// Log receives the sidecars' logs (discarded when nil).
	Log io.Writer
}

// Side is one app with its (optional) sidecar.
type Side struct {
	App     *App
	LG      *proxy.Sidecar
	Token   string
	User    string
	appSrv  *httptest.Server
	webhook string
}

// Lab is a running CRM with its apps.
type Lab struct {
	CRM    *CRM
	Sides  []*Side
	Format Format
	crmSrv *httptest.Server
	dir    string
	ownDir bool
}

// DefaultDelay is the CRM's webhook delay in the lab: real providers
// deliver after the write's response, never before.
const DefaultDelay = 30 * time.Millisecond

// Start builds and starts a lab.
func Start(cfg Config) (*Lab, error) {
	f, ok := Formats()[cfg.Format]
	if !ok {
		return nil, fmt.Errorf("lab: unknown format %q", cfg.Format)
	}
	if cfg.Apps == 0 {
		cfg.Apps = 1
	}
	l := &Lab{Format: f, dir: cfg.Dir}
	if l.dir == "" {
		d, err := os.MkdirTemp("", "loopguard-lab-")
		if err != nil {
			return nil, fmt.Errorf("lab: temp dir: %w", err)
		}
		l.dir, l.ownDir = d, true
	}
	co := cfg.CRM
	co.Format = f
	co.Users = map[string]string{}
	if co.Delay == 0 {
		co.Delay = DefaultDelay
	}
	for i := 1; i <= cfg.Apps; i++ {
		s := &Side{Token: fmt.Sprintf("tok-%d", i), User: integrationUser(f, i)}
		co.Users[s.Token] = s.User
		l.Sides = append(l.Sides, s)
	}
	l.CRM = NewCRM(co)
	l.crmSrv = httptest.NewTLSServer(l.CRM)
	var hooks []string
	for i, s := range l.Sides {
		if err := l.startSide(cfg, i+1, s); err != nil {
			l.Close()
			return nil, err
		}
		hooks = append(hooks, s.webhook)
	}
	l.CRM.SetWebhookURLs(hooks...)
	return l, nil
}

func integrationUser(f Format, i int) string {
	if f.Name() == "hubspot" {
		return fmt.Sprintf("app:424%d", i)
	}
	return fmt.Sprintf("integration-%d", i)
}

// startSide starts app i and, when configured, its sidecar.
func (l *Lab) startSide(cfg Config, i int, s *Side) error {
	direct := l.crmSrv.Client()
	s.App = NewApp(AppOptions{Format: l.Format, CRMBase: l.crmSrv.URL, Client: direct, Token: s.Token,
		InMap: cfg.InMap, OutMap: cfg.OutMap, Fields: cfg.Fields, RetryFor: cfg.RetryFor})
	s.appSrv = httptest.NewServer(s.App)
	s.webhook = s.appSrv.URL
	if !cfg.Loopguard {
		return nil
	}
	lg, err := l.startSidecar(cfg, i, s.User)
	if err != nil {
		return err
	}
	s.LG = lg
	s.webhook = "http://" + lg.Addr("inbound")
	if cfg.Gateway {
		// Base-URL mode: plain HTTP to the gateway, which calls the CRM.
		s.App.opts.CRMBase = "http://" + lg.Addr("outbound") + "/" + l.Format.Name()
		s.App.opts.Client = &http.Client{Timeout: 10 * time.Second}
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(lg.CA.CertPEM())
	pu, _ := url.Parse("http://" + lg.Addr("outbound"))
	tr := &http.Transport{Proxy: http.ProxyURL(pu), MaxIdleConnsPerHost: 16}
	tr.TLSClientConfig = direct.Transport.(*http.Transport).TLSClientConfig.Clone()
	tr.TLSClientConfig.RootCAs = pool
	s.App.opts.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return nil
}

func (l *Lab) startSidecar(cfg Config, i int, user string) (*proxy.Sidecar, error) {
	dir := filepath.Join(l.dir, fmt.Sprintf("side-%d", i))
	caFile := filepath.Join(dir, "crm.pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.crmSrv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	u, _ := url.Parse(l.crmSrv.URL)
	var b strings.Builder
	fmt.Fprintf(&b, "agent: loopguard-%d\napp_url: %s\nobserve: %v\n", i, l.Sides[i-1].appSrv.URL, cfg.Observe)
	fmt.Fprintf(&b, "listen: {outbound: \"127.0.0.1:0\", inbound: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n")
	fmt.Fprintf(&b, "log: {level: warn}\nca: {dir: %q}\nspool: {dir: %q, replay_interval: 100ms}\n", filepath.Join(dir, "ca"), filepath.Join(dir, "spool"))
	fmt.Fprintf(&b, "outbound: {upstream_ca_file: %q}\n", caFile)
	b.WriteString(cfg.Extra)
	b.WriteString("\nproviders:\n")
	b.WriteString(l.Format.ProviderYAML(u.Host, cfg.Fields, user))
	if cfg.Gateway {
		fmt.Fprintf(&b, "    base_url: %s\n", l.crmSrv.URL)
	}
	if cfg.HoldPolicy != "" {
		fmt.Fprintf(&b, "    hold_policy: %s\n", cfg.HoldPolicy)
	}
	if len(cfg.Layers) > 0 {
		b.WriteString("    layers: {")
		first := true
		for k, v := range cfg.Layers {
			if !first {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %v", k, v)
			first = false
		}
		b.WriteString("}\n")
	}
	loaded, err := configs.LoadBytes(filepath.Join(dir, "loopguard.yaml"), []byte(b.String()), nil)
	if err != nil {
		return nil, fmt.Errorf("lab: sidecar %d config: %w\n%s", i, err, b.String())
	}
	out := cfg.Log
	if out == nil {
		out = io.Discard
	}
	s, err := proxy.New(loaded, zerolog.New(out).Level(zerolog.WarnLevel))
	if err != nil {
		return nil, fmt.Errorf("lab: sidecar %d: %w", i, err)
	}
	if err := s.Start(); err != nil {
		return nil, fmt.Errorf("lab: sidecar %d: %w", i, err)
	}
	return s, nil
}

// Settle waits until no webhook is in flight and no app has work queued,
// and stays so for quiet; it gives up at timeout (a loop never settles) and
// reports whether it settled.
//
// The quiet period is a negative check that cannot be a condition: "the
// loop has stopped" means nothing more happens, and a step of the loop
// that is between two counters (a response on the wire, a goroutine about
// to push) is invisible to busy. It costs quiet per call, not a fixed
// sleep before an assertion.
func (l *Lab) Settle(quiet, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	stableSince := time.Time{}
	last := l.counts()
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		now := l.counts()
		if now != last || l.busy() {
			last, stableSince = now, time.Time{}
			continue
		}
		if stableSince.IsZero() {
			stableSince = time.Now()
		}
		if time.Since(stableSince) >= quiet {
			return true
		}
	}
	return false
}

// busy reports queued work: deliveries the CRM still has to make (or
// retry) and local changes an app still has to push.
func (l *Lab) busy() bool {
	if l.CRM.Stats().Pending > 0 {
		return true
	}
	for _, s := range l.Sides {
		if s.App.Stats().Pending > 0 {
			return true
		}
	}
	return false
}

// counts is a fingerprint of all activity.
func (l *Lab) counts() string {
	st := l.CRM.Stats()
	s := fmt.Sprintf("%d/%d/%d", st.Writes, st.Throttled, st.Deliveries)
	for _, side := range l.Sides {
		a := side.App.Stats()
		s += fmt.Sprintf("|%d/%d/%d", a.Deliveries, a.Applied, a.Pushes)
		if side.LG != nil {
			s += fmt.Sprintf("/%d", side.LG.Ring.Total())
		}
	}
	return s
}

// Close stops everything.
func (l *Lab) Close() {
	for _, s := range l.Sides {
		if s.App != nil {
			s.App.Close()
		}
		if s.LG != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.LG.Shutdown(ctx)
			cancel()
		}
		if s.appSrv != nil {
			s.appSrv.Close()
		}
	}
	if l.crmSrv != nil {
		l.crmSrv.Close()
	}
	if l.CRM != nil {
		l.CRM.Close()
	}
	if l.ownDir {
		_ = os.RemoveAll(l.dir)
	}
}
