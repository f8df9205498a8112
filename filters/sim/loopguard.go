package sim

// The adapter: every call into loopguard is in this file. It does what the
// proxy does around each call, in the same order (proxy/write.go,
// proxy/inbound.go, proxy/guard.go, proxy/hold.go), on the simulator's
// clock and without HTTP.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
	"github.com/redis/go-redis/v9"
)

// agent is our change-agent name.
const agent = "loopguard"

// simSecret is the deployment key: fixed, so sentinels (and traces) are
// the same on every run.
const simSecret = "loopguard-simulator-deployment-key"

const (
	apiHost   = "api.tracker.test"
	hookPath  = "/hooks/tracker"
	queueAcct = "account"
)

// StoreFactory builds the ledger of one history on the simulator's clock.
type StoreFactory func(now func() time.Time) (ledger.Store, error)

// MemoryStore is the embedded ledger, small (one per history).
func MemoryStore() StoreFactory {
	return func(now func() time.Time) (ledger.Store, error) {
		return ledger.NewMemory(ledger.Options{Now: now, MaxSizeMB: 1, Shards: 16})
	}
}

// RedisStore is the Redis ledger on c, with a fresh key prefix (under
// prefix) per history. Its expiry follows the simulator's clock
// (Options.Now); Redis's own TTLs, on Redis's clock, only reclaim space
// and are far longer than a simulated history takes to run.
func RedisStore(c redis.UniversalClient, prefix string) StoreFactory {
	var n atomic.Uint64
	return func(now func() time.Time) (ledger.Store, error) {
		return redisstore.New(redisstore.Options{
			Client: c, Prefix: fmt.Sprintf("%sh%d:", prefix, n.Add(1)), Timeout: 5 * time.Second, Now: now,
		})
	}
}

// profileYAML is the deployment configuration of a history: a Linear-like
// tracker whose profile says what its events carry.
func profileYAML(b Behaviour) string {
	var s strings.Builder
	s.WriteString("agent: " + agent + "\nloops: {threshold: 5, window: 60s, quarantine: 15m, trip_account: 3}\n")
	s.WriteString("providers:\n  - use: generic\n    name: tracker\n    hosts: [" + apiHost + "]\n")
	s.WriteString("    account: {from: static, value: acme}\n")
	s.WriteString("    tracked_fields: [" + strings.Join(fieldNames[:], ", ") + "]\n")
	if b.Actor {
		s.WriteString("    integration_users: [bot]\n")
	}
	sentinel := `""`
	if b.Sentinel {
		sentinel = sentinelField
	}
	s.WriteString("    tagging: {sentinel_field: " + sentinel + "}\n")
	// What the write responses hold: the record (with its time), or not.
	resp := `response: "-"`
	if b.ResponseRecord && b.Time {
		resp = "response_time: updatedAt"
	} else if b.ResponseRecord {
		resp = `response: ""`
	}
	s.WriteString("    writes:\n")
	s.WriteString("      - {path: \"/v1/issues/{id}\", methods: [PATCH, PUT], object: issues, " + resp + "}\n")
	s.WriteString("      - {path: /v1/issues, methods: [POST], object: issues, create_id: id, " + resp + "}\n")
	if b.BatchWrites {
		// HubSpot's batch/update: results list the records written (by
		// id, in no promised order), failed items are in errors.
		s.WriteString("      - path: " + batchPath + "\n        methods: [POST]\n        object: issues\n")
		s.WriteString("        batch:\n          list: inputs\n          record_id: id\n          fields: fields\n")
		s.WriteString("          response: {list: results, match: [id]")
		switch {
		case b.ResponseRecord && b.Time:
			s.WriteString(", record: fields, time: updatedAt")
		case b.ResponseRecord:
			s.WriteString(", record: fields")
		default:
			s.WriteString(`, record: "-"`)
		}
		s.WriteString("}\n")
	}
	s.WriteString("    webhooks:\n      - path: " + hookPath + "\n")
	s.WriteString("        record_id: record.id\n        object_type: \"=issues\"\n        record: record\n")
	if b.Batch {
		s.WriteString("        batch: events\n")
	}
	if b.IDs {
		s.WriteString("        event_id: [id]\n")
	}
	if b.Actor {
		s.WriteString("        actor: actor\n")
	}
	if b.Time {
		s.WriteString("        occurred_at: record.updatedAt\n")
	}
	if b.Marker {
		s.WriteString("        markers: [{from: change_agent}]\n")
	}
	if b.NullUnchanged {
		s.WriteString("        nulls: unchanged\n") // what the profile of such a provider says
	}
	s.WriteString("    reads:\n      - {path: /v1/issues, method: GET, list: issues, record_id: id, object_type: \"=issues\"}\n")
	s.WriteString("    hold_policy: hold\n")
	return s.String()
}

// lgJudge is loopguard: engine, ledger, loop detector, account breaker
// (tripped by quarantines only) and the hold.
type lgJudge struct {
	w      *world
	eng    *filters.Engine
	p      *filters.Provider
	hook   *filters.WebhookRoute
	store  ledger.Store
	loops  *breaker.Loops
	lcfg   breaker.LoopConfig
	trip   int
	acctTo time.Time // the account breaker is open until then
	held   []heldItem
	ctx    context.Context
}

// heldItem is an event in the spool, with its queue.
type heldItem struct {
	e     *event
	fe    filters.Event
	queue string
}

// judged is a delivery's state between deliver and accept.
type judged struct {
	evs []filters.Event
	ds  []filters.Decision
}

// Profiles caches loaded configurations by their YAML (loading parses every
// built-in profile; a history only needs one of a few dozen variants). The
// zero value is ready; it is not safe for concurrent use.
type Profiles struct{ m map[string]*configs.Loaded }

func (c *Profiles) load(b Behaviour) (*configs.Loaded, error) {
	y := profileYAML(b)
	if l, ok := c.m[y]; ok {
		return l, nil
	}
	l, err := configs.LoadBytes("sim.yaml", []byte(y), nil)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*configs.Loaded{}
	}
	c.m[y] = l
	return l, nil
}

func newLoopguard(w *world, profiles *Profiles, store StoreFactory) (*lgJudge, error) {
	if profiles == nil {
		profiles = &Profiles{}
	}
	l, err := profiles.load(w.b)
	if err != nil {
		return nil, err
	}
	if store == nil {
		store = MemoryStore()
	}
	st, err := store(w.clock)
	if err != nil {
		return nil, err
	}
	eng, err := filters.New(l.Providers, st, filters.Options{Agent: agent, Now: w.clock, Secret: []byte(simSecret), EchoWindow: l.Config.Ledger.EchoWindow.D()})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	lc := l.Config.Loops
	j := &lgJudge{w: w, eng: eng, store: st, trip: lc.TripAccount, ctx: context.Background(),
		lcfg: breaker.LoopConfig{Threshold: lc.Threshold, Window: lc.Window.D(), Quarantine: lc.Quarantine.D()}}
	j.p, _ = eng.Provider("tracker")
	j.hook, _ = j.p.MatchWebhook(http.MethodPost, hookPath)
	if j.loops, err = breaker.NewLoops(j.lcfg, w.clock); err != nil {
		_ = st.Close()
		return nil, err
	}
	j.loops.OnQuarantine(j.quarantined)
	return j, nil
}

func (j *lgJudge) close() { _ = j.store.Close() }

func recordKey(k ledger.Key) breaker.RecordKey {
	return breaker.RecordKey{Provider: k.Provider, Object: k.Object, Record: k.Record}
}

func (j *lgJudge) accountOpen() bool { return j.w.now.Before(j.acctTo) }

// write is writer.begin: breaker, match, tag, quarantine.
func (j *lgJudge) write(aw *appWrite, body []byte, ctype string) ([]byte, map[string]string, time.Time, bool) {
	route, ps, isWrite := j.p.MatchWrite(aw.method, aw.path)
	if j.accountOpen() && isWrite {
		return nil, nil, j.acctTo, false
	}
	if !isWrite {
		return body, nil, time.Time{}, true
	}
	h := http.Header{"Content-Type": {ctype}}
	account := j.p.AccountOf(apiHost, &url.URL{Path: aw.path}, h, &ps)
	fw := j.p.ForAccount(account).Tag(j.ctx, route, &ps, account, h, body, "")
	if fw.Record != "" {
		if q, qi := j.loops.Quarantined(recordKey(fw.Key())); q {
			return nil, nil, qi.Until, false
		}
	}
	aw.judged = fw
	out := body
	if fw.Body != nil {
		out = fw.Body
	}
	return out, map[string]string{"X-Change-Agent": h.Get("X-Change-Agent")}, time.Time{}, true
}

// wrote is writer.record: a 2xx write is recorded (a create's id from the
// response) and told to the loop detector.
func (j *lgJudge) wrote(aw *appWrite, status int, resp []byte) {
	fw, _ := aw.judged.(*filters.Write)
	if fw == nil || status < 200 || status > 299 || len(fw.Fields) == 0 {
		return
	}
	if fw.Record == "" {
		if fw.Record = fw.CreatedID(resp); fw.Record == "" {
			return
		}
	}
	if err := j.eng.RecordWrite(j.ctx, fw, resp); err != nil {
		j.w.facts.storeError(err)
		return
	}
	j.loops.Wrote(recordKey(fw.Key()))
}

// writeBatch is writer.beginMulti for a batch route: tag every record
// (headers once, a sentinel per record), then the account's breaker, then
// the quarantine of any of its records (which holds the request whole).
func (j *lgJudge) writeBatch(ab *appBatch, body []byte, ctype string) ([]byte, map[string]string, time.Time, bool) {
	route, ps, isWrite := j.p.MatchWrite(http.MethodPost, batchPath)
	if !isWrite || !route.Multi() {
		panic("sim: no batch write route")
	}
	h := http.Header{"Content-Type": {ctype}}
	u := &url.URL{Path: batchPath}
	account := j.p.AccountOf(apiHost, u, h, &ps)
	m := j.p.ForAccount(account).TagBatch(j.ctx, route, &ps, account, u, h, body, "")
	if j.accountOpen() {
		return nil, nil, j.acctTo, false
	}
	for _, w := range m.Writes {
		if w.Record == "" {
			continue
		}
		if q, qi := j.loops.Quarantined(recordKey(w.Key())); q {
			return nil, nil, qi.Until, false
		}
	}
	ab.judged = m
	out := body
	if m.Body != nil {
		out = m.Body
	}
	return out, map[string]string{"X-Change-Agent": h.Get("X-Change-Agent")}, time.Time{}, true
}

// wroteBatch is writer.recordMulti: the records of a 2xx answer that its
// results report written are recorded, each as its own write, and told
// to the loop detector.
func (j *lgJudge) wroteBatch(ab *appBatch, status int, resp []byte) {
	m, _ := ab.judged.(*filters.Multi)
	if m == nil || status < 200 || status > 299 || len(m.Writes) == 0 {
		return
	}
	out := j.eng.RecordMulti(j.ctx, m, resp)
	if out.Err != nil {
		j.w.facts.storeError(out.Err)
	}
	var recorded []string
	for _, w := range out.Recorded {
		j.loops.Wrote(recordKey(w.Key()))
		recorded = append(recorded, w.Record)
	}
	j.w.logf("loopguard records b%d: %v (failed %d, unmatched %d, empty %d)", ab.n, recorded, out.Failed, out.Unmatched, out.Empty)
}

// deliver is Inbound.ServeHTTP: extract, decide, count, hold.
func (j *lgJudge) deliver(d *delivery) []verdict {
	out := make([]verdict, len(d.events))
	evs, err := j.p.Extract(j.hook, d.body, http.Header{"Content-Type": {"application/json"}}, nil)
	if err != nil || len(evs) != len(d.events) {
		panic(fmt.Sprintf("sim: extract %s: %v (%d events for %d)", d.body, err, len(evs), len(d.events)))
	}
	j.eng.Prefetch(j.ctx, evs)
	ds := make([]filters.Decision, len(evs))
	for i := range evs {
		ds[i] = j.eng.Decide(j.ctx, j.p, &evs[i])
		filters.After(evs, i, &ds[i])
		if ds[i].Reason == filters.ReasonStoreError {
			j.w.facts.storeError(fmt.Errorf("decide %s: %s", d.events[i].label(), ds[i].Detail))
		}
		if ds[i].Action == filters.Drop {
			j.loops.Echoed(recordKey(evs[i].Key()))
		}
		if ds[i].Action == filters.Forward && !ds[i].Observed {
			// Only an event that may be caused by our own write counts as
			// a round trip.
			count := ds[i].Reflects || evs[i].Skinny()
			if q, layer, reason := j.holdQueue(&evs[i], count); q != "" {
				ds[i].Action, ds[i].Layer = filters.Hold, layer
				_ = ds[i].Reason.UnmarshalText([]byte(reason)) // a reason's name
				fe := evs[i]
				fe.ClearPrefetch()
				j.held = append(j.held, heldItem{e: d.events[i], fe: fe, queue: q})
			}
		}
		out[i] = verdict{action: Action(ds[i].Action), why: ds[i].Layer + "/" + ds[i].Reason.String()}
	}
	// Echoes settle the writes they answer before anything is sent.
	if err := j.eng.Settle(j.ctx, evs, ds); err != nil {
		j.w.facts.storeError(err)
	}
	d.judged = &judged{evs: evs, ds: ds}
	return out
}

// holdQueue is guard.inbound plus the hold's "behind" rule: the queue a
// forwarded event must wait in ("" when none).
func (j *lgJudge) holdQueue(ev *filters.Event, count bool) (queue, layer, reason string) {
	rq := "record:" + ev.Record
	if ev.Record != "" {
		q := false
		if count {
			q, _ = j.loops.Inbound(recordKey(ev.Key()))
		} else {
			q, _ = j.loops.Quarantined(recordKey(ev.Key()))
		}
		if q {
			return rq, "loop", "quarantined"
		}
	}
	if j.accountOpen() {
		return queueAcct, "breaker", "breaker_open"
	}
	for _, h := range j.held {
		if h.queue == queueAcct || h.queue == rq {
			return h.queue, "hold", "behind_held"
		}
	}
	return "", "", ""
}

// quarantined is guard.quarantined: the account's breaker trips when
// trip records are quarantined at once.
func (j *lgJudge) quarantined(qi breaker.QuarantineInfo) {
	j.w.facts.quarantined(qi.Key.Record, j.lcfg.Window, j.lcfg.Threshold, qi.Reason)
	if j.trip >= 0 && len(j.loops.List()) >= j.trip {
		j.acctTo = qi.Until
		j.w.logf("loopguard opens the account breaker until t=%s: %d records loop", fmtDur(qi.Until.Sub(epoch)), j.trip)
	}
}

// accept is Inbound.modifyResponse after the app's 2xx.
func (j *lgJudge) accept(d *delivery) {
	jd := d.judged.(*judged)
	if err := j.eng.Accepted(j.ctx, j.p, jd.evs, jd.ds); err != nil {
		j.w.facts.storeError(err)
	}
}

// ready reports whether a queue may be replayed (guard.ready).
func (j *lgJudge) ready(queue string) (bool, time.Time) {
	if queue == queueAcct {
		return !j.accountOpen(), j.acctTo
	}
	k := ledger.Key{Provider: j.p.Name, Object: "issues", Record: strings.TrimPrefix(queue, "record:")}
	q, qi := j.loops.Quarantined(recordKey(k))
	return !q, qi.Until
}

// release replays, in hold order, the held events whose queue is ready;
// accept then records them as acceptReplayed does.
func (j *lgJudge) release() *delivery {
	var d delivery
	var jd judged
	kept := j.held[:0]
	for _, h := range j.held {
		if ok, _ := j.ready(h.queue); !ok {
			kept = append(kept, h)
			continue
		}
		d.events = append(d.events, h.e)
		jd.evs = append(jd.evs, h.fe)
		jd.ds = append(jd.ds, filters.Decision{Action: filters.Forward})
	}
	j.held = kept
	if len(d.events) == 0 {
		return nil
	}
	d.judged = &jd
	return &d
}

// nextRelease is the earliest time a held queue becomes ready.
func (j *lgJudge) nextRelease() time.Time {
	var next time.Time
	for _, h := range j.held {
		ok, until := j.ready(h.queue)
		if ok {
			until = j.w.now
		}
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	return next
}

// poll filters a polled list as the outbound read path does.
func (j *lgJudge) poll(body []byte) []verdict {
	route, ps, ok := j.p.MatchRead(http.MethodGet, "/v1/issues")
	if !ok {
		panic("sim: no read route")
	}
	evs, err := j.p.ExtractRead(route, &ps, "acme", body, http.Header{}, nil)
	if err != nil {
		panic(fmt.Sprintf("sim: extract read: %v", err))
	}
	j.eng.Prefetch(j.ctx, evs)
	out := make([]verdict, len(evs))
	for i := range evs {
		d := j.eng.Decide(j.ctx, j.p, &evs[i])
		out[i] = verdict{action: Action(d.Action), why: d.Layer + "/" + d.Reason.String()}
	}
	return out
}
