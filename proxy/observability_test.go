package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// obsDir holds the files users import: the Grafana dashboard, the alert
// rules and their promtool unit tests.
const obsDir = "../configs/examples/observability"

const (
	dashboardFile  = "loopguard-dashboard.json"
	alertsFile     = "loopguard-alerts.yaml"
	alertsTestFile = "loopguard-alerts.test.yaml"
)

// pendingMetrics are queried by the dashboard or the rules before the
// sidecar exports them (none: every queried metric must exist).
var pendingMetrics = map[string]bool{}

type dashboard struct {
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

type dashPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(obsDir, dashboardFile))
	must(t, err)
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// exprs are every PromQL expression of the dashboard: panel targets and
// variable queries.
func (d dashboard) exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		switch q := v.Query.(type) {
		case map[string]any:
			if s, ok := q["query"].(string); ok {
				out = append(out, s)
			}
		case string:
			if v.Type == "query" {
				out = append(out, q)
			}
		}
	}
	return out
}

// TestDashboardJSON: the dashboard parses, picks its data source from a
// variable, and every panel but a row shows at least one query.
func TestDashboardJSON(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no datasource variable of type datasource (query prometheus)")
	}
	ids := map[int]bool{}
	shown := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		shown++
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
		}
	}
	if shown == 0 {
		t.Fatal("dashboard has no panels")
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func loadYAML(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(obsDir, name))
	must(t, err)
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestAlertRulesDocumentedAndCovered: every alert has a summary and a
// runbook, and its promtool tests make it both fire and stay silent.
func TestAlertRulesDocumentedAndCovered(t *testing.T) {
	t.Parallel()
	var rf ruleFile
	var rt ruleTests
	loadYAML(t, alertsFile, &rf)
	loadYAML(t, alertsTestFile, &rt)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			for _, k := range []string{"summary", "runbook"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, k)
				}
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s: no promtool test makes it fire", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("alert %s: no promtool test expects it silent", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules")
	}
}

// metricRef finds loopguard metric names in PromQL.
var metricRef = regexp.MustCompile(`\bloopguard_[a-zA-Z0-9_]+`)

// queried is every loopguard metric name the dashboard and the rules use.
func queried(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, e := range loadDashboard(t).exprs() {
		for _, m := range metricRef.FindAllString(e, -1) {
			out[m] = append(out[m], dashboardFile)
		}
	}
	var rf ruleFile
	loadYAML(t, alertsFile, &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, m := range metricRef.FindAllString(r.Expr, -1) {
				out[m] = append(out[m], alertsFile+" "+r.Alert)
			}
		}
	}
	return out
}

// scrapedFamilies GETs a sidecar's /metrics and returns each family's name
// and type from its "# TYPE" lines.
func scrapedFamilies(t *testing.T, s *Sidecar) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr("admin") + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	must(t, sc.Err())
	return out
}

// describedNames are the names of every metric vector in Metrics, children
// or not: counters of rare events (a quarantine, a signature failure) exist
// from the start even before their first series.
func describedNames(m *Metrics) map[string]bool {
	out := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Field(i).IsNil() {
			continue
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if s := fq.FindStringSubmatch(d.String()); s != nil {
				out[s[1]] = true
			}
		}
	}
	return out
}

// TestObservabilityMetricsExist starts a real sidecar, drives one write and
// one delivery through it, and checks that every metric the dashboard and
// the alert rules query is exported by its /metrics (or, for a vector with
// no series yet, registered).
func TestObservabilityMetricsExist(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t, false)
	e.appWrite(t, "r1", `{"name":"Ada"}`)
	if status, _ := e.deliver(t, "/webhooks/generic", `{"id":"g1","object":"contacts","actor":"u_human","record":{"id":"r1","name":"Bo"}}`); status != 200 {
		t.Fatalf("delivery: %d", status)
	}
	scraped := scrapedFamilies(t, e.s)
	for _, name := range []string{"loopguard_inbound_duration_seconds", "loopguard_outbound_duration_seconds"} {
		if scraped[name] != "histogram" {
			t.Errorf("/metrics: %s is %q after a delivery and a write, want a histogram", name, scraped[name])
		}
	}
	described := describedNames(e.s.Metrics)
	exists := func(name string) bool {
		if scraped[name] != "" || described[name] {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && (scraped[base] == "histogram" || described[base]) {
				return true
			}
		}
		return false
	}
	q := queried(t)
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	sort.Strings(names)
	var pending []string
	for _, n := range names {
		switch {
		case exists(n):
		case pendingMetrics[n]:
			pending = append(pending, n)
		default:
			t.Errorf("%s is queried by %s but the sidecar does not export it", n, strings.Join(slices.Compact(q[n]), ", "))
		}
	}
	if len(pending) > 0 {
		t.Errorf("%v are queried but not exported", pending)
	}
}

// promtool finds promtool: $LOOPGUARD_TEST_PROMTOOL (set by .ci/run, so
// a missing binary fails there) or PATH.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOOPGUARD_TEST_PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian package prometheus; .ci/run installs it): alert rules not checked by promtool")
	}
	return p
}

// TestAlertRulesPromtool runs promtool check rules and promtool test rules
// on the shipped files, and checks that every dashboard query parses as
// PromQL (as recording rules, with Grafana's variables filled in).
func TestAlertRulesPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(obsDir, "check", "rules", alertsFile)
	run(obsDir, "test", "rules", alertsTestFile)

	fill := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range loadDashboard(t).exprs() {
		if strings.HasPrefix(e, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		fmt.Fprintf(&b, "      - record: dashboard:query%d\n        expr: %q\n", i, fill.Replace(e))
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "dashboard-rules.yaml"), []byte(b.String()), 0o644))
	run(dir, "check", "rules", "dashboard-rules.yaml")
}
