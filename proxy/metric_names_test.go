package proxy

import (
	"context"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// metricNamesFile is where every metric name is written.
const metricNamesFile = "metric_names.go"

// metricName is a loopguard metric name as a Go string literal holds it.
var metricName = regexp.MustCompile(`^loopguard_[a-z0-9_]+$`)

// namedMetrics parses metric_names.go: constant name → metric name.
func namedMetrics(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(gotoken.NewFileSet(), metricNamesFile, nil, 0)
	must(t, err)
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != gotoken.STRING {
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			if metricName.MatchString(v) {
				out[id.Name] = v
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("%s defines no metric name", metricNamesFile)
	}
	return out
}

// TestMetricNamesDefinedOnce: no other file of package proxy writes a
// metric name as a literal, and no name is defined twice.
func TestMetricNamesDefinedOnce(t *testing.T) {
	seen := map[string]string{}
	for c, n := range namedMetrics(t) {
		if prev, dup := seen[n]; dup {
			t.Errorf("%s is both %s and %s", n, prev, c)
		}
		seen[n] = c
	}
	files, err := filepath.Glob("*.go")
	must(t, err)
	for _, name := range files {
		if name == metricNamesFile || strings.HasSuffix(name, "_test.go") {
			continue
		}
		fset := gotoken.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		must(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
				if v, _ := strconv.Unquote(lit.Value); metricName.MatchString(v) {
					t.Errorf("%s: metric name %q written as a literal: use its constant in %s", fset.Position(lit.Pos()), v, metricNamesFile)
				}
			}
			return true
		})
	}
}

// registeredMetrics builds a sidecar with every optional part configured
// (listen.transparent on Linux) and returns each loopguard metric it
// registers with its label names: the families gathered, plus those with
// no series yet (vectors of Metrics and of the sidecar, the collectors'
// descriptions).
func registeredMetrics(t *testing.T) map[string][]string {
	t.Helper()
	yaml := "agent: loopguard\napp_url: http://127.0.0.1:1\n" +
		"providers:\n  - use: generic\n    tracked_fields: [name]\n    hold_policy: hold\n"
	l, err := configs.LoadBytes("metrics.yaml", []byte(yaml), inboundServerEnv)
	must(t, err)
	l.Config.CA.Dir = filepath.Join(t.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	if runtime.GOOS == "linux" {
		l.Config.Listen.Transparent = "127.0.0.1:0"
	}
	s, err := New(l, zerolog.New(io.Discard))
	must(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	out := map[string][]string{}
	add := func(name string, labels []string) {
		if !strings.HasPrefix(name, "loopguard_") {
			return
		}
		for _, l := range labels {
			if !slices.Contains(out[name], l) {
				out[name] = append(out[name], l)
			}
		}
		if out[name] == nil {
			out[name] = []string{}
		}
	}
	fams, err := s.Metrics.Registry.Gather()
	must(t, err)
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName())
			}
			add(f.GetName(), ls)
		}
	}
	descRe := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	describe := func(c prometheus.Collector) {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := descRe.FindStringSubmatch(d.String()); m != nil {
				var ls []string
				if m[2] != "" {
					ls = strings.Split(m[2], ",")
				}
				add(m[1], ls)
			}
		}
	}
	v := reflect.ValueOf(s.Metrics).Elem()
	for i := range v.NumField() {
		if c, ok := v.Field(i).Interface().(prometheus.Collector); ok && !v.Field(i).IsNil() {
			describe(c)
		}
	}
	describe(&quotaCollector{})
	describe(&spoolCollector{})
	if s.transparentConns != nil {
		describe(s.transparentConns)
	}
	return out
}

// TestMetricsRegisteredAreNamed: a sidecar registers exactly the metrics
// metric_names.go names.
func TestMetricsRegisteredAreNamed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("listen.transparent (and its metric) needs Linux")
	}
	reg := registeredMetrics(t)
	named := map[string]bool{}
	for _, n := range namedMetrics(t) {
		named[n] = true
		if _, ok := reg[n]; !ok {
			t.Errorf("%s is named in %s but no sidecar registers it", n, metricNamesFile)
		}
	}
	for n := range reg {
		if !named[n] {
			t.Errorf("%s is registered but not named in %s", n, metricNamesFile)
		}
	}
}

// readmeRow is one row of README.md's metric table.
type readmeRow struct {
	line string
	// names are the full metric names of the first cell; abbrevs the
	// "_suffix" abbreviations, each with the full name before it.
	names   []string
	abbrevs [][2]string
	labels  string // the other cells
}

// readmeMetricRows returns the rows of README.md's metric table.
func readmeMetricRows(t *testing.T) (rows []readmeRow) {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	must(t, err)
	in := false
	code := regexp.MustCompile("`([a-z_*]+)`")
	for line := range strings.SplitSeq(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "| metric | labels |"):
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			return rows
		case strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) < 2 {
			t.Fatalf("README metric table: malformed row %q", line)
		}
		r := readmeRow{line: line, labels: strings.Join(cells[1:], " | ")}
		last := ""
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			switch n := m[1]; {
			case strings.HasPrefix(n, "loopguard_"):
				r.names, last = append(r.names, n), n
			case strings.HasPrefix(n, "_"):
				r.abbrevs = append(r.abbrevs, [2]string{last, n})
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no metric table (| metric | labels |)")
	}
	return rows
}

// expand reads an abbreviation "_suffix" after the full name base: base
// cut at an underscore (or whole) followed by suffix, the longest such
// name registered (loopguard_quota_limit, _remaining →
// loopguard_quota_remaining; loopguard_calls_per_minute, _baseline →
// loopguard_calls_per_minute_baseline). "" when none is.
func expand(base, suffix string, reg map[string][]string) string {
	for i := len(base); i > 0; i = strings.LastIndex(base[:i], "_") {
		if cand := base[:i] + suffix; reg[cand] != nil {
			return cand
		}
	}
	return ""
}

// TestReadmeListsEmittedMetrics: README.md's metric table lists exactly
// the metrics a sidecar registers (besides go_* and process_*), each with
// its label names in its row.
func TestReadmeListsEmittedMetrics(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("listen.transparent (and its metric) needs Linux")
	}
	reg := registeredMetrics(t)
	listed := map[string]bool{}
	for _, r := range readmeMetricRows(t) {
		names := slices.Clone(r.names)
		for _, a := range r.abbrevs {
			n := expand(a[0], a[1], reg)
			if n == "" {
				t.Errorf("README.md: %s after %q names no registered metric: %q", a[1], a[0], r.line)
				continue
			}
			names = append(names, n)
		}
		for _, name := range names {
			if reg[name] == nil {
				t.Errorf("README.md lists %s, which no sidecar registers", name)
				continue
			}
			listed[name] = true
			for _, l := range reg[name] {
				if !regexp.MustCompile(`\b` + l + `\b`).MatchString(r.labels) {
					t.Errorf("README.md: %s has label %q, its row does not say so: %q", name, l, r.labels)
				}
			}
		}
	}
	var missing []string
	for n := range reg {
		if !listed[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README.md's metric table does not list %v", missing)
	}
}
