package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/breaker/redisshare"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/loopguard/loopguard/filters/spool/redisq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// state is where a sidecar keeps what must outlive a request: the ledger
// and, with store: redis, the shared breaker state and spool.
type state struct {
	ledger ledger.Store
	client redis.UniversalClient // nil with the memory store
	share  *redisshare.Share     // nil with the memory store
	queue  *redisq.Queue         // nil: the bbolt spool is opened later
	redis  *redisstore.Store
	prefix string // redis.prefix: every shared key starts with it
	up     atomic.Bool
}

// healthEvery is how often the shared store's reachability is checked (and
// its changes logged, once each).
const healthEvery = time.Second

func openState(c configs.Config, log zerolog.Logger) (*state, error) {
	st := &state{}
	st.up.Store(true)
	if c.Store != configs.StoreRedis {
		m, err := ledger.NewMemory(ledger.Options{
			WriteTTL: c.Ledger.WriteTTL.D(), SeenTTL: c.Ledger.SeenTTL.D(), DedupWindow: c.Inbound.DedupWindow.D(),
			MaxSizeMB: c.Ledger.MaxSizeMB, Shards: c.Ledger.Shards,
		})
		if err != nil {
			return nil, err
		}
		st.ledger = m
		return st, nil
	}
	client, err := redisconn.NewClient(c.Redis.URL.Value())
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	st.client, st.prefix = client, c.Redis.Prefix
	fail := func(err error) (*state, error) {
		_ = client.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	st.redis, err = redisstore.New(redisstore.Options{Client: client, Prefix: c.Redis.Prefix, Timeout: c.Redis.Timeout.D(),
		WriteTTL: c.Ledger.WriteTTL.D(), SeenTTL: c.Ledger.SeenTTL.D(), DedupWindow: c.Inbound.DedupWindow.D()})
	if err != nil {
		return fail(err)
	}
	st.ledger = fastFail{Store: st.redis, up: &st.up}
	st.share, err = redisshare.New(redisshare.Options{Client: client, Prefix: c.Redis.Prefix, OnError: rateLimited(log, "breaker share")})
	if err != nil {
		return fail(err)
	}
	st.queue, err = redisq.New(redisq.Options{Client: client, Prefix: c.Redis.Prefix, MaxItems: c.Spool.MaxItems, MaxBytes: int64(c.Spool.MaxBytes),
		UnverifiedMaxItems: c.Spool.UnverifiedMaxItems, UnverifiedMaxBytes: int64(c.Spool.UnverifiedMaxBytes), MaxItemBytes: int64(c.Spool.MaxItemBytes)})
	if err != nil {
		return fail(err)
	}
	log.Info().Str("redis", redisconn.Redact(c.Redis.URL.Value())).Str("prefix", c.Redis.Prefix).Msg("state shared on redis")
	return st, nil
}

// run shares breaker changes and watches the store's health until ctx ends.
func (st *state) run(ctx context.Context, b *breaker.Breakers, log zerolog.Logger) {
	if st.client == nil {
		return
	}
	b.OnChange(st.share.Notify)
	go st.share.Run(ctx, redisshare.ApplyTo(b))
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, healthEvery)
		err := st.redis.Ping(pctx)
		cancel()
		was := st.up.Swap(err == nil)
		switch {
		case err != nil && was:
			log.Error().Err(err).Msg("redis unreachable: echo layers that need the store abstain (events are forwarded), tagging goes on")
		case err == nil && !was:
			log.Info().Msg("redis reachable again: filtering resumes")
		}
	}
}

// healthy reports whether the state store answers (always for memory).
func (st *state) healthy() bool { return st.client == nil || st.up.Load() }

// register adds the store-health gauge.
func (st *state) register(r *prometheus.Registry) {
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "loopguard_store_up", Help: "1 when the state store answers, 0 when it is unreachable (layers abstain).",
	}, func() float64 {
		if st.healthy() {
			return 1
		}
		return 0
	}))
}

func (st *state) close() error {
	var errs []error
	if st.share != nil {
		errs = append(errs, st.share.Close())
	}
	if st.queue != nil {
		errs = append(errs, st.queue.Close())
	}
	errs = append(errs, st.ledger.Close())
	if st.client != nil {
		errs = append(errs, st.client.Close())
	}
	return errors.Join(errs...)
}

// rateLimited logs errors at most once per interval.
func rateLimited(log zerolog.Logger, what string) func(error) {
	var last atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev < int64(errorLogEvery) || !last.CompareAndSwap(prev, now) {
			return
		}
		log.Error().Err(err).Str("component", what).Msg("shared state error (rate-limited log)")
	}
}

// errorLogEvery spaces repeated error lines.
const errorLogEvery = 10 * time.Second

// errStoreDown answers store calls at once while the health check says the
// shared store is unreachable, so a delivery is not slowed by one timeout
// per event per layer; the layers abstain as for any store error.
var errStoreDown = errors.New("state store unreachable (health check)")

// fastFail is the ledger as the engine sees it with a shared store.
type fastFail struct {
	*redisstore.Store
	up *atomic.Bool
}

func (f fastFail) RecordWrite(ctx context.Context, k ledger.Key, w ledger.Write) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.RecordWrite(ctx, k, w)
}

func (f fastFail) Accept(ctx context.Context, k ledger.Key, a ledger.Accept) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.Accept(ctx, k, a)
}

func (f fastFail) Get(ctx context.Context, k ledger.Key, st *ledger.State) (bool, error) {
	if !f.up.Load() {
		return false, errStoreDown
	}
	return f.Store.Get(ctx, k, st)
}

func (f fastFail) EventSeen(ctx context.Context, id string) (bool, error) {
	if !f.up.Load() {
		return false, errStoreDown
	}
	return f.Store.EventSeen(ctx, id)
}

func (f fastFail) MarkEvent(ctx context.Context, id string) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.MarkEvent(ctx, id)
}

// GetMany passes a batch read through (filters.BatchStore).
func (f fastFail) GetMany(ctx context.Context, keys []ledger.Key, sts []ledger.State) ([]bool, error) {
	if !f.up.Load() {
		return nil, errStoreDown
	}
	return f.Store.GetMany(ctx, keys, sts)
}

// EventsSeen passes a batch dedup check through (filters.BatchStore).
func (f fastFail) EventsSeen(ctx context.Context, ids []string) ([]bool, error) {
	if !f.up.Load() {
		return nil, errStoreDown
	}
	return f.Store.EventsSeen(ctx, ids)
}

// AcceptMany passes a batch write through (filters.BatchWriter).
func (f fastFail) AcceptMany(ctx context.Context, keys []ledger.Key, accs []ledger.Accept) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.AcceptMany(ctx, keys, accs)
}

// MarkEvents passes a batch dedup mark through (filters.BatchWriter).
func (f fastFail) MarkEvents(ctx context.Context, ids []string) error {
	if !f.up.Load() {
		return errStoreDown
	}
	return f.Store.MarkEvents(ctx, ids)
}

// loops is the shared loop detector with store: redis (nil: in process).
func (st *state) loops(c configs.Loops, log zerolog.Logger) loopTracker {
	if st.client == nil {
		return nil
	}
	l, err := redisshare.NewLoops(redisshare.LoopOptions{Client: st.client, Config: loopConfig(c), Prefix: st.prefix,
		OnError: rateLimited(log, "loop detector")})
	if err != nil {
		log.Error().Err(err).Msg("shared loop detector unavailable; counting per replica")
		return nil
	}
	return loopsFastFail{Loops: l, up: &st.up}
}

// loopsFastFail skips the shared detector while the store is unreachable:
// nothing counted or quarantined, so events flow and writes pass.
type loopsFastFail struct {
	*redisshare.Loops
	up *atomic.Bool
}

func (l loopsFastFail) Wrote(k breaker.RecordKey) {
	if l.up.Load() {
		l.Loops.Wrote(k)
	}
}

func (l loopsFastFail) Echoed(k breaker.RecordKey) {
	if l.up.Load() {
		l.Loops.Echoed(k)
	}
}

func (l loopsFastFail) Inbound(k breaker.RecordKey) (bool, int) {
	if !l.up.Load() {
		return false, 0
	}
	return l.Loops.Inbound(k)
}

func (l loopsFastFail) Quarantined(k breaker.RecordKey) (bool, breaker.QuarantineInfo) {
	if !l.up.Load() {
		return false, breaker.QuarantineInfo{}
	}
	return l.Loops.Quarantined(k)
}
