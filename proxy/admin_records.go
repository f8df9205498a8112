package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/breaker"
	"github.com/loopguard/loopguard/filters/ledger"
)

// recordTimeout bounds the ledger read of GET /records/{key}.
const recordTimeout = 2 * time.Second

// recordView is GET /records/{key}'s answer: the record's ordered history
// in the ledger (value hashes, never values), whether the loop detector
// holds it, and the recent decisions about it.
type recordView struct {
	// Key is the record key as the quarantine list names it; the account
	// part is always empty (records are keyed without it).
	Key string `json:"key"`
	// Known is false when the ledger holds nothing for the record.
	Known bool `json:"known"`
	// StoreError is set when the ledger could not answer.
	StoreError string     `json:"store_error,omitempty"`
	LastWrite  *time.Time `json:"last_write,omitempty"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	// Writes are our writes not yet settled, oldest first, each with the
	// state it is expected to leave.
	Writes []writeView `json:"writes"`
	// App is what the app holds, field by field, as far as loopguard knows.
	App []valueView `json:"app"`
	// Quarantined is the loop detector's verdict; Quarantine its details.
	Quarantined bool            `json:"quarantined"`
	Quarantine  *quarantineView `json:"quarantine,omitempty"`
	// Release is the path that releases the quarantine.
	Release string `json:"release"`
	// Decisions are the decisions the ring still holds about the record,
	// newest first.
	Decisions []numbered `json:"decisions"`
}

// writeView is one of our unsettled writes.
type writeView struct {
	Seq uint32    `json:"seq"`
	At  time.Time `json:"at"`
	// Expected is the state the write should leave; Written marks the
	// fields of the write's own body (the others came from its response).
	Expected []fieldHash `json:"expected"`
	NoOp     bool        `json:"noop,omitempty"`
	Sentinel bool        `json:"sentinel,omitempty"`
	Created  bool        `json:"created,omitempty"`
}

type fieldHash struct {
	Name    string `json:"name"`
	Hash    string `json:"hash"`
	Written bool   `json:"written,omitempty"`
}

// valueView is what the app holds of one field, with the provider's time
// or sequence of that state when known.
type valueView struct {
	Name       string `json:"name"`
	Hash       string `json:"hash"`
	ProviderAt int64  `json:"provider_at,omitempty"`
}

type quarantineView struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Count  int       `json:"round_trips"`
	Reason string    `json:"reason"`
}

// recordKeyParam parses the {key} path value ("provider/account/object/
// record", path-escaped into one segment) into the keys the ledger and the
// loop detector use.
func recordKeyParam(r *http.Request) (ledger.Key, breaker.RecordKey, error) {
	rk, err := breaker.ParseRecordKey(r.PathValue("key"))
	if err != nil {
		return ledger.Key{}, rk, err
	}
	lk := ledger.Key{Provider: rk.Provider, Object: rk.Object, Record: rk.Record}
	return lk, filters.LoopKey(lk), nil
}

func badRecordKey(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, breaker.ErrBadRecordKey) {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// getRecord serves GET /records/{key}.
func (s *Sidecar) getRecord(w http.ResponseWriter, r *http.Request) {
	lk, rk, err := recordKeyParam(r)
	if err != nil {
		badRecordKey(w, err)
		return
	}
	v := recordView{Key: rk.String(), Writes: []writeView{}, App: []valueView{}, Decisions: []numbered{},
		Release: "/records/" + url.PathEscape(rk.String()) + "/release"}
	ctx, cancel := context.WithTimeout(r.Context(), recordTimeout)
	defer cancel()
	var st ledger.State
	known, err := s.Store.Get(ctx, lk, &st)
	switch {
	case err != nil:
		v.StoreError = "ledger get: " + err.Error()
	case known:
		v.Known = true
		if !st.LastWrite.IsZero() {
			v.LastWrite = &st.LastWrite
		}
		if !st.LastSeen.IsZero() {
			v.LastSeen = &st.LastSeen
		}
		for _, w := range st.Writes {
			wv := writeView{Seq: w.Seq, At: w.At, NoOp: w.NoOp, Sentinel: w.Nonce != 0 || w.FP != 0, Created: w.Created,
				Expected: make([]fieldHash, 0, len(w.Expected))}
			for i, f := range w.Expected {
				wv.Expected = append(wv.Expected, fieldHash{Name: f.Name, Hash: hash64(f.Hash), Written: i >= 64 || w.Written&(1<<i) != 0})
			}
			v.Writes = append(v.Writes, wv)
		}
		for _, a := range st.App {
			v.App = append(v.App, valueView{Name: a.Name, Hash: hash64(a.Hash), ProviderAt: a.At})
		}
	}
	if q, qi := s.guard.Loops().Quarantined(rk); q {
		v.Quarantined = true
		v.Quarantine = &quarantineView{Since: qi.Since, Until: qi.Until, Count: qi.Count, Reason: qi.Reason}
	}
	ds, newest := s.Ring.Numbered(0)
	for i := range ds {
		d := &ds[i]
		if d.Provider == lk.Provider && d.Record == lk.Record && (d.Object == "" || d.Object == lk.Object) {
			v.Decisions = append(v.Decisions, numbered{Seq: newest - uint64(i), Decision: *d})
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// releaseRecord serves POST /records/{key}/release: POST
// /quarantine/{key}/release for a key whose account part may be set.
func (s *Sidecar) releaseRecord(w http.ResponseWriter, r *http.Request) {
	_, rk, err := recordKeyParam(r)
	if err != nil {
		badRecordKey(w, err)
		return
	}
	if !s.guard.Loops().Release(rk) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not quarantined: " + rk.String()})
		return
	}
	s.log.Warn().Str("record", rk.String()).Msg("quarantine released by admin")
	writeJSON(w, http.StatusOK, map[string]string{"released": rk.String()})
}

// hash64 renders a value hash as 16 hex digits.
func hash64(h uint64) string {
	s := strconv.FormatUint(h, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}
