package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"embedded default", []string{"validate", "--config", "../../configs/loopguard.yaml"}, 0, []string{"is valid", "agent: loopguard", "effective_providers"}},
		{"misspelled key names key and line", []string{"validate", "--config", "testdata/misspelled_key.yaml"}, 1, []string{`misspelled_key.yaml:4: unknown key "inbuond" in listen`, `did you mean "inbound"`}},
		{"misspelled provider key", []string{"validate", "--config", "testdata/bad_provider_key.yaml"}, 1, []string{`:3: unknown key "taging"`, `"tagging"`}},
		{"missing file", []string{"validate", "--config", "testdata/nope.yaml"}, 1, []string{"nope.yaml"}},
		{"usage error", []string{"validate", "--bogus"}, 2, []string{"flag provided but not defined"}},
		{"effective profile", []string{"validate", "--config", "testdata/explain.yaml", "--provider", "generic"}, 0, []string{"u_integration", "X-Change-Agent"}},
		// provider_files are read from the config file's folder (testdata/),
		// not the working directory; one no entry uses is a warning.
		{"relative provider file, unused one warned", []string{"validate", "--config", "testdata/notes.yaml"}, 0,
			[]string{"is valid", `warning: provider_files: testdata/unused_profile.yaml defines profile "unused", which no providers entry uses`}},
		{"missing provider file says where it looked", []string{"validate", "--config", "testdata/missing_profile.yaml"}, 1,
			[]string{"profiles/nope.yaml", "looked at", filepath.Join("testdata", "profiles", "nope.yaml"), "configuration file's folder testdata"}},
		{"payload shows an object where a value is needed", []string{"validate", "--config", "testdata/notes.yaml", "--provider", "notes", "--payload", "testdata/notes_event.json", "--header", "X-Notes-Delivery: d1"}, 1,
			[]string{`actor: "actor" reads an object`, "actor.id"}},
		{"payload that reads well", []string{"validate", "--config", "testdata/explain.yaml", "--provider", "generic", "--payload", "testdata/echo.json"}, 0,
			[]string{"every value spec reads a value"}},
		{"payload needs a provider", []string{"validate", "--config", "testdata/explain.yaml", "--payload", "testdata/echo.json"}, 2, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			for _, s := range c.contains {
				if !strings.Contains(out+errOut, s) {
					t.Errorf("output lacks %q:\n%s%s", s, out, errOut)
				}
			}
		})
	}
}

func TestValidateRedactsSecrets(t *testing.T) {
	t.Setenv("LOOPGUARD_PROVIDER_GENERIC_SECRET", "hunter2-very-secret")
	t.Setenv("LOOPGUARD_ADMIN_TOKEN", "tok-very-secret")
	code, out, errOut := run(t, "validate", "--config", "testdata/explain.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "very-secret") || !strings.Contains(out, "[redacted]") {
		t.Fatalf("secrets not redacted:\n%s", out)
	}
}

func TestCAInitAndCertSurviveRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if code, _, errOut := run(t, "ca", "init", "--dir", dir); code != 0 {
		t.Fatalf("ca init: %s", errOut)
	}
	st, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if code, _, _ := run(t, "ca", "init", "--dir", dir); code != 1 {
		t.Fatal("ca init over an existing CA must refuse without --force")
	}
	t.Setenv("LOOPGUARD_CA_DIR", dir)
	_, first, _ := run(t, "ca", "cert", "--config", "testdata/explain.yaml")
	_, second, _ := run(t, "ca", "cert", "--config", "testdata/explain.yaml")
	want, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if first != string(want) || second != first || !strings.HasPrefix(first, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("ca cert does not print the same, persisted CA:\n%s\n%s", first, second)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "explain", "--config", "testdata/explain.yaml", "--provider", "generic", "testdata/echo.json")
	if code != 0 || !strings.Contains(out, "drop") || !strings.Contains(out, "actor") || !strings.Contains(out, "integration_user") {
		t.Fatalf("explain echo: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, "explain", "--config", "testdata/explain.yaml", "--provider", "generic", "--ledger", "testdata/ledger.json", "testdata/fp_echo.json")
	if code != 0 || !strings.Contains(out, "fingerprint") || !strings.Contains(out, "matches_our_write") {
		t.Fatalf("explain with ledger:\n%s", out)
	}
	code, out, _ = run(t, "explain", "--config", "testdata/explain.yaml", "--provider", "generic", "testdata/fp_echo.json")
	if code != 0 || !strings.Contains(out, "forward") {
		t.Fatalf("explain without ledger must forward:\n%s", out)
	}
	if code, _, _ := run(t, "explain", "--config", "testdata/explain.yaml"); code != 2 {
		t.Fatalf("explain without args: exit %d, want 2", code)
	}
}

// TestExplainDetails: explain spells out each event — actor, markers,
// tracked values with their raw values — warns about a value spec that
// reads an object, and about headers a route needs that were not given.
func TestExplainDetails(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "explain", "--config", "testdata/explain.yaml", "--provider", "generic", "testdata/echo.json")
	if code != 0 {
		t.Fatalf("explain: %d %s", code, errOut)
	}
	for _, want := range []string{"#0 POST /webhooks/generic", "actor:   u_integration", `marker:  change_agent = (none) (equals "loopguard")`, `tracked: email="ada@example.com" name="Ada"`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "explain", "--config", "testdata/notes.yaml", "--provider", "notes", "testdata/notes_event.json")
	if code != 0 || !strings.Contains(out, `warning: actor: "actor" reads an object`) || !strings.Contains(out, "X-Notes-Delivery, which is not given") {
		t.Fatalf("explain of a profile reading an object:\n%s", out)
	}
	code, out, _ = run(t, "explain", "--config", "testdata/github.yaml", "--provider", "github", "testdata/github_issue.json")
	if code != 0 || !strings.Contains(out, "picks events by the header X-Github-Event (when), which is not given") {
		t.Fatalf("explain without the when header:\n%s", out)
	}
	code, out, _ = run(t, "explain", "--config", "testdata/github.yaml", "--provider", "github",
		"--header", "X-GitHub-Event: issues", "--header", "X-GitHub-Delivery: d1", "testdata/github_issue.json")
	if code != 0 || strings.Contains(out, "warning:") || !strings.Contains(out, `tracked: body=null state="open" title="Spelling error in the README file"`) || !strings.Contains(out, "actor:   Codertocat") {
		t.Fatalf("explain with the headers:\n%s", out)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	if code, _, _ := run(t); code != 2 {
		t.Error("no command must exit 2")
	}
	if code, _, _ := run(t, "frobnicate"); code != 2 {
		t.Error("unknown command must exit 2")
	}
	if code, _, _ := run(t, "run", "--help"); code != 0 {
		t.Error("--help must exit 0")
	}
	if code, out, _ := run(t, "env"); code != 0 || !strings.Contains(out, "LOOPGUARD_APP_URL") {
		t.Errorf("env: %d %s", code, out)
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "demo", "--seconds", "0.7")
	if code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"without loopguard", "still running at the time limit", "with loopguard  ", "marker=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := run(t, "demo", "--format", "nope"); code != 2 {
		t.Errorf("unknown format: exit %d", code)
	}
}

// TestExplainRead: a poll response is explained record by record: our
// write's record would be removed by the fingerprint, a person's kept.
func TestExplainRead(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "explain", "--config", "testdata/explain_hubspot.yaml", "--provider", "hubspot",
		"--ledger", "testdata/hubspot_ledger.json", "--read", "POST /crm/v3/objects/contacts/search", "testdata/hubspot_search.json")
	if code != 0 {
		t.Fatalf("explain --read: %d %s", code, errOut)
	}
	table, _, _ := strings.Cut(out, "\n\n") // the table, then each record's detail
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "501") || !strings.Contains(lines[1], "drop") ||
		!strings.Contains(lines[1], "fingerprint") || !strings.Contains(lines[2], "502") || !strings.Contains(lines[2], "forward") {
		t.Fatalf("explain --read output:\n%s", out)
	}
	if code, _, _ := run(t, "explain", "--config", "testdata/explain_hubspot.yaml", "--provider", "hubspot", "--read", "bogus", "testdata/hubspot_search.json"); code != 2 {
		t.Errorf("bad --read: exit %d, want 2", code)
	}
}
