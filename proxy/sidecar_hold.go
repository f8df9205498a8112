package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/spool"
)

// holdOptions is what the inbound proxy builds its holder from: the
// durable spool (state.spool), the app and the transport replays go
// through, and the guard's readiness of a queue.
type holdOptions struct {
	spool spool.Queue
	app   *url.URL
	tr    http.RoundTripper
	ready func(queue string) bool
	cfg   configs.Spool
}

// wireHold subscribes the replayer to what releases held deliveries — a
// breaker that closes, a record released from quarantine (for app-down
// holds the app answering again is polled) — and exports the spool's,
// loop detector's and breakers' gauges.
func (s *Sidecar) wireHold() {
	c, sp := s.cfg, s.spool
	s.quota.b.OnChange(func(st breaker.Status) {
		if st.State == breaker.Closed {
			s.holder.replayer.Kick()
		}
	})
	s.guard.Loops().OnRelease(func(breaker.QuarantineInfo) { s.holder.replayer.Kick() })
	var names []string
	for _, p := range s.Engine.Providers() {
		names = append(names, p.Name)
	}
	s.Metrics.registerGuard(sp, names, s.guard.Loops(), s.quota.b)
	s.Metrics.registerSpoolCapacity(c.Spool)
	if n := sp.Len(); n > 0 {
		s.log.Info().Int("items", n).Int64("bytes", sp.Bytes()).Msg("spool holds deliveries from a previous run; replay resumes")
	}
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
	for _, qi := range s.guard.Loops().List() {
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
	if !s.guard.Loops().Release(k) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not quarantined: " + k.String()})
		return
	}
	s.log.Warn().Str("record", k.String()).Msg("quarantine released by admin")
	writeJSON(w, http.StatusOK, map[string]string{"released": k.String()})
}
