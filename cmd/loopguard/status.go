package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Defaults of loopguard status.
const (
	defaultStatusAdmin    = "http://127.0.0.1:9090"
	defaultStatusInterval = 2 * time.Second
	defaultStatusLimit    = 200
	defaultStatusTop      = 5
	// statusTimeout bounds each admin API call.
	statusTimeout = 5 * time.Second
)

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// statusOptions are loopguard status's flags.
type statusOptions struct {
	admin    string
	token    string
	watch    bool
	interval time.Duration
	json     bool
	limit    int
	top      int
}

func statusCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [--admin URL] [--token T] [--watch [--interval 2s]] [--json]", stderr)
	o := statusOptions{}
	fs.StringVar(&o.admin, "admin", defaultStatusAdmin, "admin API base URL (listen.admin)")
	fs.StringVar(&o.token, "token", "", "admin token (default: $LOOPGUARD_ADMIN_TOKEN)")
	fs.BoolVar(&o.watch, "watch", false, "refresh until interrupted (Ctrl-C)")
	fs.DurationVar(&o.interval, "interval", defaultStatusInterval, "refresh period with --watch")
	fs.BoolVar(&o.json, "json", false, "print the overview as JSON (one document per refresh)")
	fs.IntVar(&o.limit, "decisions", defaultStatusLimit, "how many of the last decisions the top reasons are counted over")
	fs.IntVar(&o.top, "top", defaultStatusTop, "how many top reasons to show")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.token == "" {
		o.token = os.Getenv("LOOPGUARD_ADMIN_TOKEN")
	}
	if o.interval <= 0 || o.limit <= 0 || o.top <= 0 {
		return fmt.Errorf("%w: --interval, --decisions and --top must be positive", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runStatus(ctx, o, stdout)
}

// runStatus prints the overview once, or with watch until ctx ends (which
// is not an error). A refused token always ends it.
func runStatus(ctx context.Context, o statusOptions, w io.Writer) error {
	c, err := newAdminClient(o.admin, o.token, statusTimeout)
	if err != nil {
		return fmt.Errorf("%w: --admin: %v", errUsage, err)
	}
	if !o.watch {
		ov, err := c.overview(ctx, o.limit, o.top)
		if err != nil {
			return err
		}
		return printOverview(w, ov, o.json)
	}
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		ov, err := c.overview(ctx, o.limit, o.top)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errUnauthorized):
			return err
		}
		if !o.json {
			fmt.Fprint(w, clearScreen)
		}
		if err != nil {
			// The sidecar may be restarting: say so and keep watching.
			fmt.Fprintf(w, "loopguard status  %s  %s\n\n%v\n(retrying every %s)\n", c.base, time.Now().Format(time.TimeOnly), err, o.interval)
		} else if err := printOverview(w, ov, o.json); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func printOverview(w io.Writer, ov *overview, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ov)
	}
	var b strings.Builder
	renderOverview(&b, ov)
	_, err := io.WriteString(w, b.String())
	return err
}
