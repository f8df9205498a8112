package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// LookupEnv reads one environment variable; os.LookupEnv in production, a
// map in tests.
type LookupEnv func(key string) (string, bool)

// Loaded is a configuration after loading, environment overrides, defaults,
// profile resolution and validation.
type Loaded struct {
	// File is where the configuration came from.
	File string
	// Config is the effective deployment configuration.
	Config Config
	// Providers are the resolved provider profiles, in configuration order.
	Providers []*Provider
	// Warnings are things that load but look wrong (a profile file no
	// provider uses); `loopguard validate` prints them.
	Warnings []string
}

// Load reads the YAML file at path (DefaultFile or "" for the embedded
// default), applies LOOPGUARD_* overrides from env, fills defaults, resolves
// provider profiles and validates the result. Every error names the file,
// the line or field, and the reason.
func Load(path string, env LookupEnv) (*Loaded, error) {
	var data []byte
	file := path
	if path == "" || path == DefaultFile {
		if b, err := os.ReadFile(DefaultFile); path == DefaultFile && err == nil {
			data = b
		} else {
			data = Default()
		}
		file = DefaultFile
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load config: %w", err)
		}
		data = b
	}
	return LoadBytes(file, data, env)
}

// LoadBytes is Load on bytes already read; file names them in errors.
func LoadBytes(file string, data []byte, env LookupEnv) (*Loaded, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	var cfg Config
	if err := decodeStrict(file, data, &cfg); err != nil {
		return nil, err
	}
	if err := applyEnv(&cfg, env); err != nil {
		return nil, err
	}
	if err := readTokenFile(&cfg.Admin); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	applyDefaults(&cfg)
	if err := validateConfig(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	reg, err := newRegistry(resolveFiles(file, cfg.ProviderFiles))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	l := &Loaded{File: file, Config: cfg}
	seen := map[string]bool{}
	for i := range cfg.Providers {
		e := &cfg.Providers[i]
		p, err := reg.resolve(e, cfg.Agent, env)
		if err != nil {
			return nil, fmt.Errorf("%s: providers[%d] (%s): %w", file, i, e.Name, err)
		}
		if err := checkSigned(p); err != nil {
			return nil, fmt.Errorf("%s: providers[%d] (%s): %w", file, i, e.Name, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: providers[%d]: name %q is used twice; give one a distinct name", file, i, p.Name)
		}
		seen[p.Name] = true
		l.Providers = append(l.Providers, p)
	}
	l.Warnings = unusedProfiles(reg, cfg.Providers)
	return l, nil
}

// decodeStrict decodes YAML into out, rejecting unknown keys with their line.
func decodeStrict(file string, data []byte, out any) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := checkKnown(file, &root, reflect.TypeOf(out).Elem(), ""); err != nil {
		return err
	}
	if err := root.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}
