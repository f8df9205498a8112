package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/loopguard/loopguard/proxy/lab"
)

// demoQuota is the fake CRM's quota per minute in the demo.
const demoQuota = 10000

func demoCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [--format generic|hubspot|salesforce|jira|smartsheet] [--seconds N] [--verbose]", stderr)
	format := fs.String("format", "generic", "the provider format the fake CRM speaks")
	seconds := fs.Float64("seconds", 3, "how long each run may go on")
	verbose := fs.Bool("verbose", false, "print loopguard's warnings")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, ok := lab.Formats()[*format]; !ok {
		return fmt.Errorf("%w: unknown --format %q", errUsage, *format)
	}
	if *seconds <= 0 {
		return fmt.Errorf("%w: --seconds must be positive", errUsage)
	}
	limit := time.Duration(*seconds * float64(time.Second))
	fmt.Fprintf(stdout, "loopguard demo: a fake %s CRM (HTTPS, webhooks) and a naive two-way sync app on 127.0.0.1.\n", *format)
	fmt.Fprintf(stdout, "Script: a user edits one record in the app; a person edits another record in the CRM. Each run stops after %s.\n\n", limit)
	var rows []lab.Result
	for _, withLG := range []bool{false, true} {
		r, err := demoRun(*format, withLG, limit, *verbose, stderr)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tupstream writes\twebhooks sent\tdelivered to app\tgenuine delivered\techoes dropped (layer)\tquota used\tloop")
	for i, r := range rows {
		genuine := "-"
		if i == 1 {
			genuine = fmt.Sprint(r.Forwarded)
		}
		loop := "stopped"
		if !r.Settled {
			loop = "still running at the time limit"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d of %d/min\t%s\n", r.Name, r.UpstreamWrites, r.Webhooks, r.Deliveries, genuine,
			r.DropsString(), r.UpstreamWrites, demoQuota, loop)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	without, with := rows[0], rows[1]
	fmt.Fprintf(stdout, "\nWithout loopguard the record bounced %d times in %s and was still going. With loopguard the user's edit cost 1 write,\n",
		without.UpstreamWrites, limit)
	fmt.Fprintf(stdout, "its echo was dropped, and the person's change reached the app once (its write-back cost 1 more write).\n")
	if with.UpstreamWrites != 2 || with.Forwarded != 1 || !with.Settled {
		return fmt.Errorf("demo: unexpected result with loopguard: %+v", with)
	}
	return nil
}

func demoRun(format string, withLG bool, limit time.Duration, verbose bool, stderr io.Writer) (lab.Result, error) {
	f := lab.Formats()[format]
	fields := demoFields[format]
	cfg := lab.Config{Format: format, Fields: fields, Loopguard: withLG,
		CRM: lab.CRMOptions{EchoChangeAgent: true, Quota: demoQuota, QuotaWindow: time.Minute}}
	if verbose {
		cfg.Log = stderr
	}
	dir, err := os.MkdirTemp("", "loopguard-demo-")
	if err != nil {
		return lab.Result{}, fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	l, err := lab.Start(cfg)
	if err != nil {
		return lab.Result{}, err
	}
	defer l.Close()
	l.CRM.Seed(f.NewID(2), map[string]string{fields[0]: "Grace"})
	l.Sides[0].App.Edit(f.NewID(1), fields[0], "Ada")
	time.Sleep(100 * time.Millisecond)
	l.CRM.HumanEdit(f.NewID(2), fields[0], "Grace Hopper")
	settled := l.Settle(300*time.Millisecond, limit)
	name := "without loopguard"
	if withLG {
		name = "with loopguard"
	}
	return l.Result(name, settled), nil
}

// demoFields are the synced fields per format (the first is edited).
var demoFields = map[string][]string{
	"generic":    {"name", "email"},
	"hubspot":    {"firstname", "email"},
	"salesforce": {"Name", "Phone"},
	"jira":       {"summary", "duedate"},
	"smartsheet": {"Status", "Owner"},
}
