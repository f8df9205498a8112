package proxy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/loopguard/loopguard/filters/redistest"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/loopguard/loopguard/filters/spool/redisq"
	"github.com/rs/zerolog"
)

// stateConfig is a minimal sidecar configuration; store picks the stores.
func stateConfig(t *testing.T, store string) configs.Config {
	t.Helper()
	yaml := "agent: loopguard\napp_url: http://127.0.0.1:1\nstore: " + store + "\n"
	if store == configs.StoreRedis {
		yaml += fmt.Sprintf("redis:\n  url: %q\n  prefix: %q\n", redistest.URL(t), redistest.Prefix(t))
	}
	yaml += "providers:\n  - use: generic\n    tracked_fields: [name]\n"
	l, err := configs.LoadBytes("state.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatalf("load config: %v\n%s", err, yaml)
	}
	l.Config.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	return l.Config
}

// TestOpenStateChoosesStores: the configuration's store picks every store
// at once, and with Redis the ledger keeps its batch reads and writes
// behind the health check's fast-fail wrapper.
func TestOpenStateChoosesStores(t *testing.T) {
	for _, store := range []string{configs.StoreMemory, configs.StoreRedis} {
		t.Run(store, func(t *testing.T) {
			st, err := openState(stateConfig(t, store), zerolog.New(io.Discard), time.Now)
			must(t, err)
			defer func() { must(t, st.close()) }()
			_, batchRead := st.ledger.(filters.BatchStore)
			_, batchWrite := st.ledger.(filters.BatchWriter)
			switch store {
			case configs.StoreMemory:
				if _, ok := st.ledger.(*ledger.Memory); !ok {
					t.Errorf("ledger is %T, want *ledger.Memory", st.ledger)
				}
				if _, ok := st.spool.(*spool.Spool); !ok {
					t.Errorf("spool is %T, want the bbolt *spool.Spool", st.spool)
				}
				if _, ok := st.loops.(*breaker.Loops); !ok {
					t.Errorf("loop detector is %T, want the in-process *breaker.Loops", st.loops)
				}
				if st.client != nil || st.share != nil {
					t.Error("the memory store opened a Redis client or breaker share")
				}
			case configs.StoreRedis:
				if _, ok := st.ledger.(fastFail); !ok || !batchRead || !batchWrite {
					t.Errorf("ledger is %T (batch reads %v, writes %v), want fastFail with both", st.ledger, batchRead, batchWrite)
				}
				if _, ok := st.spool.(*redisq.Queue); !ok {
					t.Errorf("spool is %T, want *redisq.Queue", st.spool)
				}
				if _, ok := st.loops.(loopsFastFail); !ok {
					t.Errorf("loop detector is %T, want the shared one behind loopsFastFail", st.loops)
				}
				if st.client == nil || st.share == nil {
					t.Error("no shared client or breaker share")
				}
			}
		})
	}
}

// TestNewClosesStoresOnError: a sidecar that fails to build after its
// stores were opened closes them, so the bbolt spool's lock is free for
// the next attempt (it would otherwise wait spool.DefaultOpenTimeout and
// fail as locked).
func TestNewClosesStoresOnError(t *testing.T) {
	c := stateConfig(t, configs.StoreMemory)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	c.CA = configs.CA{CertFile: missing, KeyFile: missing} // fails after openState
	l := &configs.Loaded{Config: c}
	if _, err := New(l, zerolog.New(io.Discard)); err == nil || !strings.Contains(err.Error(), "ca:") {
		t.Fatalf("New with a missing CA file: %v, want a ca: error", err)
	}
	if _, err := os.Stat(filepath.Join(c.Spool.Dir, spoolFile)); err != nil {
		t.Fatalf("the spool was not opened before the failure (the test proves nothing): %v", err)
	}
	sp, err := spool.Open(spool.Options{Path: filepath.Join(c.Spool.Dir, spoolFile), OpenTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("spool left open by the failed New: %v", err)
	}
	must(t, sp.Close())
}
