package sim

// The adapter: every call into loopguard is in loopguard*.go, and it is the
// sidecar's own code wherever the proxy's is not HTTP. This file wires it
// as proxy.NewSidecar does — the engine and ledger, the account breakers
// (breaker.Breakers), the guard on them (filters.Guard: the loop detector,
// the record → account link, quarantines tripping the account's breaker)
// and the judgement step (filters.Judge) with the adapter's spool as its
// Backlog — all on the simulator's clock w.clock. loopguard_write.go does
// what proxy/write.go, write_batch.go and quota.go do around the app's
// calls (breaker admission and probe, tagging, quarantine refusal,
// recording, Guard.Wrote); loopguard_inbound.go what proxy/inbound.go,
// inbound_hold.go, hold.go and pull.go do around the judgement step
// (Judge for deliveries and polls, the holds it names, replay when
// Guard.Ready says so, Judge.Accept and Judge.Replayed). No goroutines,
// no wall time.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
	"github.com/loopguard/loopguard/filters/ratelimit"
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
	// As the README advises: the echo window is the provider's worst
	// delivery delay (its delay, batching, and a margin).
	s.WriteString("ledger: {echo_window: " + (b.MaxDelay + 5*time.Second).String() + "}\n")
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
	if b.Reorder {
		s.WriteString("        unordered: true\n") // its docs promise no order
	}
	if b.EveryWrite {
		s.WriteString("        every_write: true\n") // what the profile of such a provider says
	}
	s.WriteString("    reads:\n      - {path: /v1/issues, method: GET, list: issues, record_id: id, object_type: \"=issues\"}\n")
	s.WriteString("    hold_policy: hold\n")
	return s.String()
}

// lgJudge is loopguard as the sidecar wires it: engine and ledger, the
// account breakers and the guard (loop detector, breaker link) on the
// simulator's clock, the judgement step on them, and the spool as an
// in-memory list of held parts (its Backlog).
type lgJudge struct {
	w          *world
	eng        *filters.Engine
	p          *filters.Provider
	hook       *filters.WebhookRoute
	store      ledger.Store
	breakers   *breaker.Breakers
	guard      *filters.Guard
	judge      *filters.Judge
	lcfg       breaker.LoopConfig
	rlOpts     ratelimit.Options
	blockReads bool
	held       []heldItem
	// deliveries numbers the deliveries judged (Decision.Delivery).
	deliveries int
	ctx        context.Context
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

// newLoopguard wires loopguard as proxy.NewSidecar does (newQuota,
// newGuard, NewInbound), everything on the simulator's clock.
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
	j, err := wireLoopguard(w, l, st)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return j, nil
}

func wireLoopguard(w *world, l *configs.Loaded, st ledger.Store) (*lgJudge, error) {
	eng, err := filters.New(l.Providers, st, filters.Options{Agent: agent, Now: w.clock, Secret: []byte(simSecret), EchoWindow: l.Config.Ledger.EchoWindow.D()})
	if err != nil {
		return nil, err
	}
	bc, lc := l.Config.Breaker, l.Config.Loops
	j := &lgJudge{w: w, eng: eng, store: st, ctx: context.Background(),
		lcfg: breaker.LoopConfig{Threshold: lc.Threshold, Window: lc.Window.D(), Quarantine: lc.Quarantine.D()}}
	j.p, _ = eng.Provider("tracker")
	j.hook, _ = j.p.MatchWebhook(http.MethodPost, hookPath)
	rl := j.p.Profile.RateLimit
	j.blockReads = bc.BlockReads
	j.rlOpts = ratelimit.Options{Family: ratelimit.Family(rl.Family), Reset: ratelimit.ResetMode(rl.Reset)}
	if j.breakers, err = breaker.New(breaker.Config{Threshold: bc.Threshold, BurnFactor: bc.BurnFactor,
		CoolDown: bc.CoolDown.D(), MaxOpen: bc.MaxOpen.D()}, w.clock); err != nil {
		return nil, err
	}
	j.breakers.OnChange(func(s breaker.Status) {
		if s.State == breaker.Open {
			j.w.logf("loopguard opens the breaker of %s until t=%s (%s: %s)", s.Key, fmtDur(s.OpenUntil.Sub(epoch)), s.Reason, s.Detail)
			return
		}
		j.w.logf("loopguard's breaker of %s is %s", s.Key, s.State)
	})
	if j.guard, err = filters.NewGuard(filters.GuardOptions{Breakers: j.breakers, Loop: j.lcfg, Now: w.clock,
		TripAccount: lc.TripAccount, OnQuarantine: j.quarantined}); err != nil {
		return nil, err
	}
	j.judge = filters.NewJudge(eng, filters.JudgeOptions{Guard: j.guard, Backlog: j})
	return j, nil
}

func (j *lgJudge) close() { _ = j.store.Close() }

// quarantined is the guard's OnQuarantine (proxy/guard.go logs and counts
// it): the facts check that a real loop caused it. The guard then trips
// the account's breaker when trip_account records loop at once.
func (j *lgJudge) quarantined(qi breaker.QuarantineInfo, _ string) {
	j.w.facts.quarantined(qi.Key.Record, j.lcfg.Window, j.lcfg.Threshold, qi.Reason)
}
