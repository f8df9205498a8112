package configs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Provider is a resolved provider: its effective profile and the effective
// profile of each account with overrides.
type Provider struct {
	Profile
	// Accounts maps an account id to its effective profile.
	Accounts map[string]*Profile
}

// For returns the effective profile for account (the provider's own when the
// account has no overrides).
func (p *Provider) For(account string) *Profile {
	if a, ok := p.Accounts[account]; ok {
		return a
	}
	return &p.Profile
}

type profileSource struct {
	file string
	node *yaml.Node
}

// registry holds the base profiles by name: built-ins, then files.
type registry map[string]profileSource

// Builtins lists the names of the embedded provider profiles.
func Builtins() []string {
	r, err := newRegistry(nil)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BuiltinProfile returns the YAML of an embedded profile.
func BuiltinProfile(name string) ([]byte, error) {
	return fs.ReadFile(builtinFS, "providers/"+name+".yaml")
}

func newRegistry(files []profileFile) (registry, error) {
	r := registry{}
	entries, err := fs.ReadDir(builtinFS, "providers")
	if err != nil {
		return nil, fmt.Errorf("read built-in profiles: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := fs.ReadFile(builtinFS, path.Join("providers", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in profile %s: %w", e.Name(), err)
		}
		if err := r.add(builtinPrefix+e.Name(), b); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("provider_files: %s", f.describe(err))
		}
		if err := r.add(f.path, b); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r registry) add(file string, data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := checkKnown(file, &root, reflect.TypeFor[Profile](), ""); err != nil {
		return err
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	var p Profile
	if err := n.Decode(&p); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(path.Base(file), path.Ext(file))
	}
	r[p.Name] = profileSource{file: file, node: n}
	return nil
}

// resolve builds the effective profile of an entry: base profile ← entry
// fields ← account overrides ← environment.
func (r registry) resolve(e *ProviderEntry, agent string, env LookupEnv) (*Provider, error) {
	if e.Use == "" {
		return nil, fmt.Errorf("use: name a profile (one of %s)", strings.Join(r.names(), ", "))
	}
	base, ok := r[e.Use]
	if !ok {
		return nil, fmt.Errorf("use: no profile named %q (known: %s)", e.Use, strings.Join(r.names(), ", "))
	}
	build := func(account *yaml.Node) (*Profile, error) {
		var p Profile
		if err := base.node.Decode(&p); err != nil {
			return nil, fmt.Errorf("%s: %w", base.file, err)
		}
		if e.node != nil {
			if err := e.node.Decode(&p); err != nil {
				return nil, err
			}
		}
		if account != nil {
			if err := account.Decode(&p); err != nil {
				return nil, err
			}
		}
		p.Name = e.Name
		if err := applyProviderEnv(&p, env); err != nil {
			return nil, err
		}
		applyProfileDefaults(&p, agent)
		if err := ValidateProfile(&p); err != nil {
			return nil, err
		}
		return &p, nil
	}
	p, err := build(nil)
	if err != nil {
		return nil, err
	}
	out := &Provider{Profile: *p, Accounts: map[string]*Profile{}}
	for id, n := range e.Accounts {
		ap, err := build(n)
		if err != nil {
			return nil, fmt.Errorf("accounts.%s: %w", id, err)
		}
		out.Accounts[id] = ap
	}
	return out, nil
}

func (r registry) names() []string {
	out := make([]string, 0, len(r))
	for n := range r {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
