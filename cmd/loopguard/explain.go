package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/proxy"
	"github.com/loopguard/loopguard/tagging"
	"github.com/tidwall/gjson"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// ledgerFile is the --ledger state: writes we made and states the app saw.
type ledgerFile struct {
	Writes []ledgerRecord `json:"writes"`
	Seen   []ledgerRecord `json:"seen"`
}

type ledgerRecord struct {
	Provider string         `json:"provider"`
	Object   string         `json:"object"`
	Record   string         `json:"record"`
	Fields   map[string]any `json:"fields"`
}

func explainCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("explain", "explain --config FILE --provider NAME [--ledger STATE.json] [--header K:V] [--path /hook | --read 'GET /api/path'] PAYLOAD.json", stderr)
	cfgPath := fs.String("config", configs.DefaultFile, "configuration file")
	provider := fs.String("provider", "", "provider whose webhook route parses the payload (required)")
	ledgerPath := fs.String("ledger", "", "JSON file of ledger state: {\"writes\":[{provider,object,record,fields}], \"seen\":[…]}")
	path := fs.String("path", "", "delivery path, to pick the webhook route (default: the provider's first route)")
	read := fs.String("read", "", "evaluate PAYLOAD as the response to this poll, \"METHOD /path?query\" (a reads: route), instead of a webhook")
	var headers headerFlags
	fs.Var(&headers, "header", "delivery header \"Name: value\" (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *provider == "" || fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: explain needs --provider and one payload file", errUsage)
	}
	l, err := configs.Load(*cfgPath, os.LookupEnv)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	store, err := proxy.ScratchLedger()
	if err != nil {
		return err
	}
	defer store.Close()
	eng, err := filters.New(l.Providers, store, filters.Options{Agent: l.Config.Agent, Observe: l.Config.Observe, EchoWindow: l.Config.Ledger.EchoWindow.D(), JSONMaxDepth: l.Config.Limits.JSONMaxDepth})
	if err != nil {
		return err
	}
	p, ok := eng.Provider(*provider)
	if !ok {
		return fmt.Errorf("explain: no provider %q in %s", *provider, l.File)
	}
	if *ledgerPath != "" {
		if err := loadLedger(*ledgerPath, eng, store); err != nil {
			return err
		}
	}
	h, err := parseHeaders(headers)
	if err != nil {
		return err
	}
	ex, err := judgePayload(eng, p, *path, *read, body, h)
	if err != nil {
		return err
	}
	for _, w := range ex.warnings {
		fmt.Fprintln(stdout, "warning: "+w)
	}
	j := ex.j
	if j.Err != nil {
		fmt.Fprintf(stdout, "whole payload: forward untouched (reason %s): %v\n", j.Whole.Reason, j.Err)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tEVENT\tOBJECT\tRECORD\tACTION\tLAYER\tREASON\tDETAIL")
	for i, d := range j.Decisions {
		action := d.Action.String()
		if d.Observed {
			action = "forward (would drop)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i, d.EventID, d.Object, d.Record, action, d.Layer, d.Reason, d.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printDetails(stdout, p, j.Events, body, h)
	return nil
}

// parseHeaders reads repeated --header "Name: value" flags.
func parseHeaders(headers []string) (http.Header, error) {
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("%w: --header %q: want \"Name: value\"", errUsage, kv)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h, nil
}

// judged is a payload judged the way the proxy would judge it (the one
// judgement step, filters.Judge), as an unsigned delivery.
type judged struct {
	j *filters.Judgement
	// warnings: headers the route reads that were not given.
	warnings []string
}

// judgePayload judges a payload as a delivery on the provider's webhook
// route for path (or, with read, as the response to that poll). A usage
// error or a route that does not exist is the returned error; a malformed
// payload is the judgement's Err.
func judgePayload(eng *filters.Engine, p *filters.Provider, path, read string, body []byte, h http.Header) (judged, error) {
	var ex judged
	d := filters.Delivery{Provider: p, Body: body, Header: h, Verification: spool.Unsigned, Source: filters.SourceWebhook}
	if read != "" {
		method, target, ok := strings.Cut(strings.TrimSpace(read), " ")
		if !ok {
			return ex, fmt.Errorf("%w: --read %q: want \"METHOD /path\"", errUsage, read)
		}
		u, perr := url.Parse(strings.TrimSpace(target))
		if perr != nil {
			return ex, fmt.Errorf("%w: --read %q: %v", errUsage, read, perr)
		}
		r, ps, ok := p.MatchRead(strings.ToUpper(method), u.Path)
		if !ok {
			return ex, fmt.Errorf("explain: provider %s has no read route matching %s %s", p.Name, method, u.Path)
		}
		d.Route, d.Params, d.Source = r, ps, filters.SourcePull
	} else {
		r, ok := pickRoute(p, path)
		if !ok {
			return ex, fmt.Errorf("explain: provider %s has no webhook route matching %q", p.Name, path)
		}
		d.Route = r
	}
	ex.j = filters.NewJudge(eng, filters.JudgeOptions{}).Judge(context.Background(), d)
	ex.warnings = missingHeaders(d.Route, h, read != "")
	return ex, nil
}

// missingHeaders warns about headers the route reads that were not given:
// without a when header, events fall to another route of the group (or
// none); without an id header, the event has no id (no dedup) or no record.
func missingHeaders(r *filters.WebhookRoute, h http.Header, read bool) []string {
	var out []string
	when, ids := r.HeaderSpecs()
	for _, name := range when {
		if h.Get(name) == "" {
			out = append(out, fmt.Sprintf("%s picks events by the header %s (when), which is not given: add --header '%s: …' as the provider sends it, or events fall to another route of %s", r.Tpl, name, name, r.Tpl))
		}
	}
	what := "delivery"
	if read {
		what = "response"
	}
	for _, name := range ids {
		if h.Get(name) == "" && !slices.Contains(when, name) {
			out = append(out, fmt.Sprintf("%s takes an event or record id from the %s header %s, which is not given (--header '%s: …'): the id is empty here", r.Tpl, what, name, name))
		}
	}
	return out
}

// printDetails spells out what each event carries: actor, markers, the
// tracked values as the event holds them, and value specs that read
// something no layer can use.
func printDetails(w io.Writer, p *filters.Provider, events []filters.Event, body []byte, h http.Header) {
	for i := range events {
		d := p.Detail(&events[i], body, h)
		if d.Route == "" {
			fmt.Fprintf(w, "\n#%d no route of the group takes it: forwarded without evaluation\n", i)
			continue
		}
		fmt.Fprintf(w, "\n#%d %s\n", i, d.Route)
		fmt.Fprintf(w, "   actor:   %s\n", orNone(d.Actor))
		for _, m := range d.Marks {
			fmt.Fprintf(w, "   marker:  %s = %s (%s %q)\n", m.From, orNone(quoteIf(m.Value)), m.Match, m.Want)
		}
		if len(d.Values) == 0 {
			fmt.Fprintln(w, "   tracked: (none)")
		} else {
			parts := make([]string, len(d.Values))
			for j, v := range d.Values {
				parts[j] = v.Name + "=" + v.Raw
			}
			fmt.Fprintf(w, "   tracked: %s\n", strings.Join(parts, " "))
		}
		if d.Sentinel != "" {
			fmt.Fprintf(w, "   sentinel: %s\n", d.Sentinel)
		}
		for _, pr := range d.Problems {
			fmt.Fprintf(w, "   warning: %s\n", pr)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func quoteIf(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

func pickRoute(p *filters.Provider, path string) (*filters.WebhookRoute, bool) {
	for _, h := range p.Profile.Webhooks {
		if path == "" || path == h.Path {
			return p.MatchWebhook(h.Method, examplePath(h.Path))
		}
	}
	if path != "" {
		return p.MatchWebhook(http.MethodPost, path)
	}
	return nil, false
}

// examplePath fills template parameters so a route can be matched by its
// own template.
func examplePath(tpl string) string {
	segs := strings.Split(tpl, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "x"
		}
	}
	return strings.Join(segs, "/")
}

func loadLedger(path string, eng *filters.Engine, store ledger.Store) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("explain: --ledger: %w", err)
	}
	var lf ledgerFile
	if err := json.Unmarshal(b, &lf); err != nil {
		return fmt.Errorf("explain: --ledger %s: %w", path, err)
	}
	now := time.Now()
	for _, set := range []struct {
		recs  []ledgerRecord
		write bool
	}{{lf.Seen, false}, {lf.Writes, true}} { // what the app held, then our writes
		for i, r := range set.recs {
			p, ok := eng.Provider(r.Provider)
			if !ok {
				return fmt.Errorf("explain: --ledger %s: record %d: no provider %q", path, i, r.Provider)
			}
			raw, _ := json.Marshal(r.Fields)
			fh := p.FP.FromJSON(nil, gjson.ParseBytes(raw))
			fields := make([]ledger.Field, len(fh))
			for j, f := range fh {
				fields[j] = ledger.Field{Name: f.Name, Hash: f.Hash}
			}
			k := ledger.Key{Provider: r.Provider, Object: r.Object, Record: r.Record}
			if set.write {
				err = store.RecordWrite(context.Background(), k, ledger.Write{Fields: fields, FP: tagging.Combine(fh), At: now})
			} else {
				err = store.Accept(context.Background(), k, ledger.Accept{Fields: fields, At: now})
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
