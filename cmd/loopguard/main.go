// Command loopguard is the sidecar that stops infinite sync loops between an
// app and third-party APIs. See README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks a usage error: exit code 2.
var errUsage = errors.New("usage error")

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "start the sidecar", runCmd},
		{"validate", "load and validate a configuration; print the effective configuration (secrets redacted)", validateCmd},
		{"demo", "watch a vampire record die: a fake CRM and a naive sync app, without and with loopguard", demoCmd},
		{"explain", "evaluate a webhook payload offline and print each event's decision", explainCmd},
		{"status", "overview from a running sidecar's admin API: breakers, quarantines, spool, top reasons (--watch)", statusCmd},
		{"ca", "ca init --dir DIR | ca cert: create the deployment CA or print its certificate", caCmd},
		{"env", "list the LOOPGUARD_* environment overrides", envCmd},
		{"iptables", "iptables install|uninstall|print: the rules of transparent mode (capture without proxy settings)", iptablesCmd},
		{"version", "print the version", func([]string, io.Writer, io.Writer) error { fmt.Println("loopguard", version); return nil }},
	}
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintln(stderr, "loopguard "+c.name+":", err)
			return 2
		}
		fmt.Fprintln(stderr, "loopguard "+c.name+":", err)
		return 1
	}
	fmt.Fprintf(stderr, "loopguard: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: loopguard <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'loopguard <command> --help' for a command's flags.")
}

// newFlags builds a FlagSet whose parse errors are usage errors.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loopguard %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 && fs.Name() != "explain" {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
