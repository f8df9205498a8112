package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/ledger"
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
	store, err := ledger.NewMemory(ledger.Options{MaxSizeMB: 8, Shards: 16})
	if err != nil {
		return err
	}
	defer store.Close()
	eng, err := filters.New(l.Providers, store, filters.Options{Agent: l.Config.Agent, Observe: l.Config.Observe})
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
	h := http.Header{}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return fmt.Errorf("%w: --header %q: want \"Name: value\"", errUsage, kv)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	var events []filters.Event
	if *read != "" {
		method, target, ok := strings.Cut(strings.TrimSpace(*read), " ")
		if !ok {
			return fmt.Errorf("%w: --read %q: want \"METHOD /path\"", errUsage, *read)
		}
		u, perr := url.Parse(strings.TrimSpace(target))
		if perr != nil {
			return fmt.Errorf("%w: --read %q: %v", errUsage, *read, perr)
		}
		route, ps, ok := p.MatchRead(strings.ToUpper(method), u.Path)
		if !ok {
			return fmt.Errorf("explain: provider %s has no read route matching %s %s", p.Name, method, u.Path)
		}
		events, err = p.ExtractRead(route, &ps, "", body, h, nil)
	} else {
		route, ok := pickRoute(p, *path)
		if !ok {
			return fmt.Errorf("explain: provider %s has no webhook route matching %q", p.Name, *path)
		}
		events, err = p.Extract(route, body, h, nil)
	}
	if err != nil {
		fmt.Fprintf(stdout, "whole payload: forward untouched (reason malformed): %v\n", err)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tEVENT\tOBJECT\tRECORD\tACTION\tLAYER\tREASON\tDETAIL")
	for i := range events {
		d := eng.Decide(context.Background(), p, &events[i])
		action := d.ActionS
		if d.Observed {
			action = "forward (would drop)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i, d.EventID, d.Object, d.Record, action, d.Layer, d.ReasonS, d.Detail)
	}
	return tw.Flush()
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
