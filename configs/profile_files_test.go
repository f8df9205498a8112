package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProviderFilesRelative: a relative provider_files entry is read from
// the configuration file's folder, whatever the working directory; a
// missing one is reported with where it was looked for.
func TestProviderFilesRelative(t *testing.T) {
	dir := t.TempDir()
	profile := "name: notes\ntracked_fields: [text]\nwebhooks: [{path: /hooks/notes, event_id: [id], record_id: id, record: note}]\n"
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "notes.yaml"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "loopguard.yaml")
	if err := os.WriteFile(cfg, []byte("provider_files: [profiles/notes.yaml]\nproviders: [{use: notes}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(cfg, nil)
	if err != nil {
		t.Fatalf("load with a relative provider file: %v", err)
	}
	if l.Providers[0].Name != "notes" || len(l.Warnings) != 0 {
		t.Fatalf("providers %v, warnings %v", l.Providers[0].Name, l.Warnings)
	}

	_, err = LoadBytes(cfg, []byte("provider_files: [profiles/nope.yaml]\nproviders: [{use: generic}]\n"), nil)
	want := filepath.Join(dir, "profiles", "nope.yaml")
	if err == nil || !strings.Contains(err.Error(), "profiles/nope.yaml") || !strings.Contains(err.Error(), "looked at "+want) ||
		!strings.Contains(err.Error(), "configuration file's folder "+dir) {
		t.Fatalf("error %v, want the file and where it was looked for (%s)", err, want)
	}
}

// TestUnusedProviderFileWarns: a profile file no providers entry uses is
// reported (usually a misspelt use), the built-ins never are.
func TestUnusedProviderFileWarns(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "notes.yaml")
	if err := os.WriteFile(f, []byte("name: notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := LoadBytes(filepath.Join(dir, "x.yaml"), []byte("provider_files: [notes.yaml]\nproviders: [{use: generic}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], `profile "notes", which no providers entry uses`) || !strings.Contains(l.Warnings[0], "generic") {
		t.Fatalf("warnings = %q", l.Warnings)
	}
	l, err = LoadBytes(filepath.Join(dir, "x.yaml"), []byte("provider_files: [notes.yaml]\nproviders: [{use: notes, name: n1}]\n"), nil)
	if err != nil || len(l.Warnings) != 0 {
		t.Fatalf("used profile: warnings %q, %v", l.Warnings, err)
	}
}
