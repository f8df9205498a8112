package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// profileFile is one provider_files entry: as written, and where it is
// read from.
type profileFile struct {
	written, path, base string
}

// resolveFiles resolves relative provider_files against the folder of the
// configuration file that names them (not the working directory, which
// differs between a shell, a unit file and a container).
func resolveFiles(configFile string, files []string) []profileFile {
	base := filepath.Dir(configFile)
	out := make([]profileFile, len(files))
	for i, f := range files {
		p := f
		if !filepath.IsAbs(f) {
			p = filepath.Join(base, f)
		}
		out[i] = profileFile{written: f, path: p, base: base}
	}
	return out
}

// describe names the file, where it was looked for, and the error.
func (f profileFile) describe(err error) string {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	if filepath.IsAbs(f.written) {
		return fmt.Sprintf("%s: %s", f.written, reason)
	}
	abs, aerr := filepath.Abs(f.path)
	if aerr != nil {
		abs = f.path
	}
	return fmt.Sprintf("%s: %s (looked at %s: relative paths are resolved against the configuration file's folder %s)", f.written, reason, abs, f.base)
}

// unusedProfiles warns about profiles loaded from provider_files that no
// providers entry uses: usually a misspelt use or name.
func unusedProfiles(reg registry, entries []ProviderEntry) []string {
	used := map[string]bool{}
	var uses []string
	for _, e := range entries {
		used[e.Use] = true
		uses = append(uses, e.Use)
	}
	var out []string
	for name, src := range reg {
		if used[name] || strings.HasPrefix(src.file, builtinPrefix) {
			continue
		}
		w := fmt.Sprintf("provider_files: %s defines profile %q, which no providers entry uses", src.file, name)
		if len(uses) > 0 {
			w += fmt.Sprintf(" (entries use: %s)", strings.Join(uses, ", "))
		}
		out = append(out, w+"; add {use: "+name+"} to providers, or drop the file")
	}
	sort.Strings(out)
	return out
}

// builtinPrefix names the embedded profiles in messages.
const builtinPrefix = "configs/providers/"
