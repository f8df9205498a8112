package proxy

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/spool"
)

// The spool's admin API (behind admin.token like every endpoint but the
// probes):
//
//	GET    /spool                  counts, bytes and per-queue items and oldest age
//	GET    /spool/dead             dead letters, oldest first (?limit=, default 1000)
//	GET    /spool/dead/{id}        one dead letter with headers (secrets redacted), body and the app's answers
//	POST   /spool/dead/{id}/retry  back to the end of its queue (202)
//	DELETE /spool/dead/{id}        discarded (204)

// Dead-letter listing bounds.
const (
	defaultDeadLimit = 1000
	maxDeadLimit     = 10000
)

// handleSpool registers the spool endpoints.
func (s *Sidecar) handleSpool() {
	s.Admin.Handle("GET /spool", http.HandlerFunc(s.listSpool))
	s.Admin.Handle("GET /spool/dead", http.HandlerFunc(s.listDead))
	s.Admin.Handle("GET /spool/dead/{id}", http.HandlerFunc(s.getDead))
	s.Admin.Handle("POST /spool/dead/{id}/retry", http.HandlerFunc(s.retryDead))
	s.Admin.Handle("DELETE /spool/dead/{id}", http.HandlerFunc(s.deleteDead))
}

// queueView is one queue in GET /spool.
type queueView struct {
	Queue            string    `json:"queue"`
	Kind             string    `json:"kind"` // record, breaker, app
	Provider         string    `json:"provider"`
	Items            int       `json:"items"`
	Bytes            int64     `json:"bytes"`
	Oldest           time.Time `json:"oldest"`
	OldestAgeSeconds float64   `json:"oldest_age_seconds"`
}

func (s *Sidecar) listSpool(w http.ResponseWriter, _ *http.Request) {
	qs, err := s.spool.Queues()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	st, err := s.spool.Stats()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	now := s.now()
	views := make([]queueView, 0, len(qs))
	for _, q := range qs {
		v := queueView{Queue: q.Queue, Items: q.Count, Bytes: q.Bytes, Oldest: q.Oldest.UTC()}
		if kind, k, err := filters.ParseQueue(q.Queue); err == nil {
			v.Kind, v.Provider = kind, k.Provider
		}
		if !q.Oldest.IsZero() {
			v.OldestAgeSeconds = now.Sub(q.Oldest).Seconds()
		}
		views = append(views, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"items": st.Items, "bytes": st.Bytes, "dead_items": st.DeadItems, "dead_bytes": st.DeadBytes,
		"unverified_items": st.UnverifiedItems, "unverified_bytes": st.UnverifiedBytes, "queues": views,
	})
}

// deadView is one dead letter in the admin API.
type deadView struct {
	ID           uint64    `json:"id"`
	Queue        string    `json:"queue"`
	Provider     string    `json:"provider"`
	Reason       string    `json:"reason"`
	ReceivedAt   time.Time `json:"received_at"`
	DeadAt       time.Time `json:"dead_at"`
	Attempts     int       `json:"attempts"`
	LastStatus   int       `json:"last_status"`
	LastError    string    `json:"last_error"`
	Size         int64     `json:"size"`
	Verified     bool      `json:"verified"`
	Verification string    `json:"verification"` // verified, unsigned, unverified, unknown
	HeldReason   string    `json:"held_reason"`
	Method       string    `json:"method"`
	Path         string    `json:"path"`
	Account      string    `json:"account,omitempty"`
	Record       string    `json:"record,omitempty"`
}

// deadDetail is GET /spool/dead/{id}.
type deadDetail struct {
	deadView
	Headers    map[string][]string `json:"headers"`
	Body       *string             `json:"body,omitempty"`
	BodyBase64 *string             `json:"body_base64,omitempty"`
	Answers    []answerView        `json:"answers"`
}

// answerView is one of the app's answers: body is always there ("" when
// the body is not UTF-8: then body_base64), error when it did not answer.
type answerView struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status"`
	Body       string    `json:"body"`
	BodyBase64 *string   `json:"body_base64,omitempty"`
	Error      string    `json:"error,omitempty"`
}

func viewOf(d spool.DeadLetter) deadView {
	return deadView{
		ID: d.Seq, Queue: d.Queue, Provider: d.Provider, Reason: string(d.Info.Reason), ReceivedAt: d.HeldAt.UTC(),
		DeadAt: d.Info.At.UTC(), Attempts: d.Info.Attempts, LastStatus: d.Info.LastStatus, LastError: d.Info.LastError,
		Size: d.Size, Verified: d.Verification.Trusted(), Verification: d.Verification.String(), HeldReason: d.Reason,
		Method: d.Method, Path: d.Path, Account: d.Account, Record: d.Record,
	}
}

// text returns b as a string when it is UTF-8, else as base64.
func text(b []byte) (plain, b64 *string) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}

func (s *Sidecar) listDead(w http.ResponseWriter, r *http.Request) {
	limit := defaultDeadLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadLimit {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit: want 1.." + strconv.Itoa(maxDeadLimit)})
			return
		}
		limit = n
	}
	ds, err := s.spool.Dead(limit)
	if err != nil && len(ds) == 0 {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	out := make([]deadView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewOf(d))
	}
	resp := map[string]any{"items": out}
	if err != nil {
		resp["error"] = err.Error() // unreadable ones are named, the rest listed
	}
	writeJSON(w, http.StatusOK, resp)
}

// deadID parses {id}, answering 400 when it is not a number.
func deadID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "id: not a dead-letter id: " + strconv.Quote(r.PathValue("id"))})
		return 0, false
	}
	return id, true
}

// deadError answers a failed dead-letter operation: 404 for an unknown id.
func deadError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, spool.ErrNotFound) {
		status = http.StatusNotFound
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (s *Sidecar) getDead(w http.ResponseWriter, r *http.Request) {
	id, ok := deadID(w, r)
	if !ok {
		return
	}
	d, err := s.spool.DeadItem(id)
	if err != nil {
		deadError(w, err)
		return
	}
	out := deadDetail{deadView: viewOf(d), Headers: redactHeaders(d.Header, s.signatureHeaders(d.Provider)), Answers: []answerView{}}
	out.Body, out.BodyBase64 = text(d.Body)
	for _, a := range d.Info.Answers {
		av := answerView{At: a.At.UTC(), Status: a.Status, Error: a.Error}
		if plain, b64 := text(a.Body); plain != nil {
			av.Body = *plain
		} else {
			av.BodyBase64 = b64
		}
		out.Answers = append(out.Answers, av)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sidecar) retryDead(w http.ResponseWriter, r *http.Request) {
	id, ok := deadID(w, r)
	if !ok {
		return
	}
	d, err := s.spool.DeadItem(id)
	if err != nil {
		deadError(w, err)
		return
	}
	seq, err := s.spool.Requeue(id)
	if err != nil {
		deadError(w, err)
		return
	}
	s.holder.requeued(d.Queue)
	s.log.Warn().Uint64("id", id).Uint64("seq", seq).Str("queue", d.Queue).Str("provider", d.Provider).
		Msg("dead letter put back at the end of its queue by admin")
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "queue": d.Queue, "seq": seq})
}

func (s *Sidecar) deleteDead(w http.ResponseWriter, r *http.Request) {
	id, ok := deadID(w, r)
	if !ok {
		return
	}
	d, derr := s.spool.DeadItem(id)
	if err := s.spool.DeleteDead(id); err != nil {
		deadError(w, err)
		return
	}
	ev := s.log.Warn().Uint64("id", id)
	if derr == nil {
		ev = ev.Str("queue", d.Queue).Str("provider", d.Provider).Str("reason", string(d.Info.Reason)).Int64("size", d.Size)
	}
	ev.Msg("dead letter deleted by admin")
	w.WriteHeader(http.StatusNoContent)
}

// signatureHeaders names the headers carrying provider's signature.
func (s *Sidecar) signatureHeaders(provider string) []string {
	p, ok := s.Engine.Provider(provider)
	if !ok {
		return nil
	}
	var hs []string
	for _, h := range []string{p.Profile.Signature.Header, p.Profile.Signature.TimestampHeader} {
		if h != "" {
			hs = append(hs, http.CanonicalHeaderKey(h))
		}
	}
	return hs
}

// redacted replaces secret header values in the admin API.
const redacted = "[redacted]"

// redactHeaders copies h with secrets replaced: credentials and cookies,
// the provider's signature headers, and any header whose name mentions a
// secret, token, signature or key of an API.
func redactHeaders(h map[string][]string, extra []string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		if secretHeader(k) || slices.Contains(extra, http.CanonicalHeaderKey(k)) {
			out[k] = []string{redacted}
			continue
		}
		out[k] = slices.Clone(vs)
	}
	return out
}

func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key":
		return true
	}
	for _, w := range []string{"secret", "token", "signature", "password", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
