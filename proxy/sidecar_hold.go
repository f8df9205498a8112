package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
)

// openHold opens the durable spool and wires the replayer: held deliveries
// go back to the app when their breaker closes, their record is released,
// or (for app-down holds) the app answers again.
func (s *Sidecar) openHold(c configs.Config, app *url.URL, tr http.RoundTripper) error {
	var sp spool.Queue = s.state.queue
	if s.state.queue == nil {
		bolt, err := openSpool(c.Spool)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		sp = bolt
	}
	s.spool = sp
	s.holder = newHolder(sp, s.Inbound, app, tr, s.guard.ready, c.Spool, s.Metrics, s.log)
	s.Inbound.guard, s.Inbound.holder = s.guard, s.holder
	s.quota.b.OnChange(func(st breaker.Status) {
		if st.State == breaker.Closed {
			s.holder.replayer.Kick()
		}
	})
	s.guard.loops.OnRelease(func(breaker.QuarantineInfo) { s.holder.replayer.Kick() })
	var names []string
	for _, p := range s.Engine.Providers() {
		names = append(names, p.Name)
	}
	s.Metrics.registerGuard(sp, names, s.guard.loops, s.quota.b)
	s.Metrics.registerSpoolCapacity(c.Spool)
	if n := sp.Len(); n > 0 {
		s.log.Info().Int("items", n).Int64("bytes", sp.Bytes()).Msg("spool holds deliveries from a previous run; replay resumes")
	}
	return nil
}

func (s *Sidecar) startReplay() {
	if s.holder == nil || s.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		go s.state.run(ctx, s.quota.b, s.log)
		s.holder.replayer.Run(ctx)
	}()
}

func (s *Sidecar) stopReplay() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
}

func (s *Sidecar) listQuarantine(w http.ResponseWriter, _ *http.Request) {
	type entry struct {
		Key     string `json:"key"`
		Release string `json:"release"`
		breaker.QuarantineInfo
	}
	out := []entry{}
	for _, qi := range s.guard.loops.List() {
		k := qi.Key.String()
		out = append(out, entry{Key: k, Release: "/quarantine/" + url.PathEscape(k) + "/release", QuarantineInfo: qi})
	}
	writeJSON(w, http.StatusOK, map[string]any{"quarantined": out})
}

// releaseQuarantine serves POST /quarantine/{key}/release, the key being
// "provider/account/object/record" as GET /quarantine lists it, path-escaped
// into one segment (its "release" field is the ready-made path).
func (s *Sidecar) releaseQuarantine(w http.ResponseWriter, r *http.Request) {
	k, err := breaker.ParseRecordKey(r.PathValue("key"))
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, breaker.ErrBadRecordKey) {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	if !s.guard.loops.Release(k) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not quarantined: " + k.String()})
		return
	}
	s.log.Warn().Str("record", k.String()).Msg("quarantine released by admin")
	writeJSON(w, http.StatusOK, map[string]string{"released": k.String()})
}
