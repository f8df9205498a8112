package main

import (
	"fmt"
	"io"

	"github.com/loopguard/loopguard/configs"
)

func envCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("env", "env", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "| variable | sets | default |")
	fmt.Fprintln(stdout, "|---|---|---|")
	for _, e := range append(configs.EnvVars(), configs.ProviderEnvVars()...) {
		fmt.Fprintf(stdout, "| `%s` | `%s` | %s |\n", e.Name, e.Field, e.Default)
	}
	return nil
}
