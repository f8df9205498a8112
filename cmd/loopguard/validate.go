package main

import (
	"fmt"
	"io"
	"os"

	"github.com/loopguard/loopguard/configs"
	"go.yaml.in/yaml/v3"
)

func validateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate --config FILE [--provider NAME [--account ID]]", stderr)
	cfgPath := fs.String("config", configs.DefaultFile, "configuration file")
	provider := fs.String("provider", "", "print this provider's effective, merged profile")
	account := fs.String("account", "", "with --provider: the account whose overrides apply")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := configs.Load(*cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	defer enc.Close()
	if *provider != "" {
		for _, p := range l.Providers {
			if p.Name == *provider {
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
