package proxy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/breaker/redisshare"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/redisq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// state is where a sidecar keeps what must outlive a request, and the one
// place that chooses and builds its stores from the configuration:
//
//	store      ledger             spool                loop detector       breakers
//	memory     ledger.Memory      spool.Spool (bbolt)  breaker.Loops       in process
//	redis      redisstore.Store   redisq.Queue         redisshare.Loops    shared (redisshare.Share)
//
// With store: redis the three share one client (filters/redisconn) and
// one key prefix.
type state struct {
	ledger ledger.Store
	spool  spool.Queue
	loops  filters.LoopTracker

	client redis.UniversalClient // nil with the memory store
	share  *redisshare.Share     // nil with the memory store
	redis  *redisstore.Store     // nil with the memory store
	up     atomic.Bool
}

// The optional capabilities the engine and the replayer look for at run
// time, checked here at compile time: a Redis ledger (bare or behind
// fastFail) reads and writes a delivery's records in one round trip per
// kind, and the holder keeps the app's answers for dead letters.
var (
	_ filters.BatchStore  = (*redisstore.Store)(nil)
	_ filters.BatchWriter = (*redisstore.Store)(nil)
	_ ledger.Store        = fastFail{}
	_ filters.BatchStore  = fastFail{}
	_ filters.BatchWriter = fastFail{}
	_ spool.Queue         = (*spool.Spool)(nil)
	_ spool.Queue         = (*redisq.Queue)(nil)
	_ filters.LoopTracker = (*breaker.Loops)(nil)
	_ filters.LoopTracker = loopsFastFail{}
	_ spool.AnswerKeeper  = (*holder)(nil)
)

// healthEvery is how often the shared store's reachability is checked (and
// its changes logged, once each).
const healthEvery = time.Second

// openState builds every store for c: the ledger, the spool and the loop
// detector, in memory and a bbolt file or all on Redis (store: redis),
// each on the sidecar's clock now. On error nothing stays open.
func openState(c configs.Config, log zerolog.Logger, now func() time.Time) (*state, error) {
	st := &state{}
	st.up.Store(true)
	if c.Store == configs.StoreRedis {
		return st, st.openRedis(c, log, now)
	}
	m, err := ledger.NewMemory(ledger.Options{
		WriteTTL: c.Ledger.WriteTTL.D(), SeenTTL: c.Ledger.SeenTTL.D(), DedupWindow: c.Inbound.DedupWindow.D(),
		MaxSizeMB: c.Ledger.MaxSizeMB, Shards: c.Ledger.Shards, Now: now,
	})
	if err != nil {
		return nil, err
	}
	st.ledger = m
	bolt, err := spool.Open(spool.Options{Path: filepath.Join(c.Spool.Dir, spoolFile), MaxBytes: int64(c.Spool.MaxBytes), MaxItems: c.Spool.MaxItems,
		UnverifiedMaxBytes: int64(c.Spool.UnverifiedMaxBytes), UnverifiedMaxItems: c.Spool.UnverifiedMaxItems, MaxItemBytes: int64(c.Spool.MaxItemBytes),
		Now: now})
	if err != nil {
		_ = st.close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	st.spool = bolt
	loops, err := breaker.NewLoops(loopConfig(c.Loops), now)
	if err != nil {
		_ = st.close()
		return nil, fmt.Errorf("loops: %w", err)
	}
	st.loops = loops
	return st, nil
}

// spoolFile is the bbolt spool's file in spool.dir.
const spoolFile = "spool.db"

// openRedis builds the Redis stores on one client; on error it closes what
// it opened.
func (st *state) openRedis(c configs.Config, log zerolog.Logger, now func() time.Time) (err error) {
	client, err := redisconn.NewClient(c.Redis.URL.Value())
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	st.client = client
	defer func() {
		if err != nil {
			_ = st.close()
			err = fmt.Errorf("redis: %w", err)
		}
	}()
	st.redis, err = redisstore.New(redisstore.Options{Client: client, Prefix: c.Redis.Prefix, Timeout: c.Redis.Timeout.D(),
		WriteTTL: c.Ledger.WriteTTL.D(), SeenTTL: c.Ledger.SeenTTL.D(), DedupWindow: c.Inbound.DedupWindow.D(), Now: now})
	if err != nil {
		return err
	}
	st.ledger = fastFail{Store: st.redis, up: &st.up}
	st.share, err = redisshare.New(redisshare.Options{Client: client, Prefix: c.Redis.Prefix, OnError: rateLimited(log, "breaker share"), Now: now})
	if err != nil {
		return err
	}
	q, err := redisq.New(redisq.Options{Client: client, Prefix: c.Redis.Prefix, MaxItems: c.Spool.MaxItems, MaxBytes: int64(c.Spool.MaxBytes),
		UnverifiedMaxItems: c.Spool.UnverifiedMaxItems, UnverifiedMaxBytes: int64(c.Spool.UnverifiedMaxBytes), MaxItemBytes: int64(c.Spool.MaxItemBytes),
		Now: now})
	if err != nil {
		return err
	}
	st.spool = q
	st.loops, err = st.sharedLoops(c, log, now)
	if err != nil {
		return err
	}
	log.Info().Str("redis", redisconn.Redact(c.Redis.URL.Value())).Str("prefix", c.Redis.Prefix).Msg("state shared on redis")
	return nil
}

// sharedLoops is the loop detector on Redis, or, when it cannot be built,
// one per replica (logged: quarantines are then not shared).
func (st *state) sharedLoops(c configs.Config, log zerolog.Logger, now func() time.Time) (filters.LoopTracker, error) {
	l, err := redisshare.NewLoops(redisshare.LoopOptions{Client: st.client, Config: loopConfig(c.Loops), Prefix: c.Redis.Prefix,
		OnError: rateLimited(log, "loop detector"), Now: now})
	if err == nil {
		return loopsFastFail{Loops: l, up: &st.up}, nil
	}
	log.Error().Err(err).Msg("shared loop detector unavailable; counting per replica")
	mem, err := breaker.NewLoops(loopConfig(c.Loops), now)
	if err != nil {
		return nil, fmt.Errorf("loops: %w", err)
	}
	return mem, nil
}

// ScratchLedger is the small in-memory ledger of the offline commands
// (validate --payload, explain): nothing outlives the command.
func ScratchLedger() (ledger.Store, error) {
	return ledger.NewMemory(ledger.Options{MaxSizeMB: scratchLedgerMB, Shards: scratchLedgerShards})
}

// The scratch ledger's size: a payload or two, not a deployment.
const (
	scratchLedgerMB     = 8
	scratchLedgerShards = 16
)

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

// degraded is the admin API's /readyz note ("" while the store answers).
func (st *state) degraded() string {
	if !st.healthy() {
		return "state store unreachable: layers that need it abstain"
	}
	return ""
}

// register adds the store-health gauge.
func (st *state) register(r *prometheus.Registry) {
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: MetricStoreUp, Help: "1 when the state store answers, 0 when it is unreachable (layers abstain).",
	}, func() float64 {
		if st.healthy() {
			return 1
		}
		return 0
	}))
}

// close closes every store that was opened, the shared client last.
func (st *state) close() error {
	var errs []error
	if st.share != nil {
		errs = append(errs, st.share.Close())
	}
	if st.spool != nil {
		errs = append(errs, st.spool.Close())
	}
	if st.ledger != nil {
		errs = append(errs, st.ledger.Close())
	}
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
