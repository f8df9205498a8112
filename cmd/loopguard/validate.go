package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/proxy"
	"go.yaml.in/yaml/v3"
)

// errSpecs is returned when a payload shows value specs that read what no
// layer can use.
var errSpecs = errors.New("value specs read objects where values are needed")

func validateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate --config FILE [--provider NAME [--account ID] [--payload PAYLOAD.json [--path /hook | --read 'GET /path'] [--header K:V]]]", stderr)
	cfgPath := fs.String("config", configs.DefaultFile, "configuration file")
	provider := fs.String("provider", "", "print this provider's effective, merged profile")
	account := fs.String("account", "", "with --provider: the account whose overrides apply")
	payload := fs.String("payload", "", "with --provider: an example delivery (or, with --read, response); every value spec is checked against it")
	path := fs.String("path", "", "with --payload: delivery path, to pick the webhook route (default: the provider's first route)")
	read := fs.String("read", "", "with --payload: check it as the response to this poll, \"METHOD /path\"")
	var headers headerFlags
	fs.Var(&headers, "header", "with --payload: delivery header \"Name: value\" (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *payload != "" && *provider == "" {
		fs.Usage()
		return fmt.Errorf("%w: --payload needs --provider", errUsage)
	}
	l, err := configs.Load(*cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	for _, w := range l.Warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	defer enc.Close()
	if *provider != "" {
		for _, p := range l.Providers {
			if p.Name == *provider {
				if *payload != "" {
					return checkPayload(l, *provider, *payload, *path, *read, headers, stdout)
				}
				fmt.Fprintf(stdout, "# effective profile of provider %q", p.Name)
				if *account != "" {
					fmt.Fprintf(stdout, ", account %q", *account)
				}
				fmt.Fprintln(stdout)
				return enc.Encode(p.For(*account))
			}
		}
		return fmt.Errorf("validate: no provider %q in %s", *provider, l.File)
	}
	fmt.Fprintf(stdout, "# %s is valid; effective configuration (secrets redacted):\n", l.File)
	if err := enc.Encode(l.Config); err != nil {
		return err
	}
	profiles := make([]*configs.Profile, 0, len(l.Providers))
	for _, p := range l.Providers {
		profiles = append(profiles, &p.Profile)
	}
	return enc.Encode(map[string]any{"effective_providers": profiles})
}

// checkPayload extracts an example payload with the provider's route and
// rejects the profile when a value spec reads an object (or several
// values) where one value is needed: `actor: actor` instead of `actor.id`
// silently never matches an integration user.
func checkPayload(l *configs.Loaded, name, file, path, read string, headers []string, stdout io.Writer) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("validate: --payload: %w", err)
	}
	store, err := proxy.ScratchLedger()
	if err != nil {
		return err
	}
	defer store.Close()
	eng, err := filters.New(l.Providers, store, filters.Options{Agent: l.Config.Agent, EchoWindow: l.Config.Ledger.EchoWindow.D(), JSONMaxDepth: l.Config.Limits.JSONMaxDepth})
	if err != nil {
		return err
	}
	p, _ := eng.Provider(name)
	h, err := parseHeaders(headers)
	if err != nil {
		return err
	}
	ex, err := judgePayload(eng, p, path, read, body, h)
	if err != nil {
		return err
	}
	for _, w := range ex.warnings {
		fmt.Fprintln(stdout, "warning: "+w)
	}
	if ex.j.Err != nil {
		return fmt.Errorf("validate: provider %s cannot read %s: %w", name, file, ex.j.Err)
	}
	var problems []string
	for i := range ex.j.Events {
		for _, pr := range p.Detail(&ex.j.Events[i], body, h).Problems {
			problems = append(problems, fmt.Sprintf("event %d: %s", i, pr))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("validate: provider %s, %s: %w:\n  %s", name, file, errSpecs, strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(stdout, "# provider %s reads %d event(s) of %s; every value spec reads a value\n", name, len(ex.j.Events), file)
	return nil
}
