package console

import (
	"net/http"
	"slices"
	"sync"
)

// DeadLetterStore is what the admin API's dead-letter endpoints serve. The
// console reads dead letters only through that API (GET /spool/dead…), so
// the spool's own endpoints, or any store served by ServeDeadLetters, are a
// drop-in for StandInDeadLetters.
type DeadLetterStore interface {
	// List returns the dead letters, oldest first.
	List() ([]DeadLetter, error)
	// Get returns one dead letter with its request and the app's answers.
	Get(id string) (DeadLetterDetail, bool, error)
	// Retry puts a dead letter back in its queue for replay.
	Retry(id string) (bool, error)
	// Delete forgets a dead letter.
	Delete(id string) (bool, error)
}

// Registrar adds admin endpoints behind the token (proxy.Admin.Handle).
type Registrar interface {
	Handle(pattern string, h http.Handler)
}

// ServeDeadLetters adds the dead-letter endpoints over s:
//
//	GET    /spool/dead            {"items":[…]}
//	GET    /spool/dead/{id}       the item with headers (redacted), body or body_base64, answers
//	POST   /spool/dead/{id}/retry 202
//	DELETE /spool/dead/{id}       204
func ServeDeadLetters(m Registrar, s DeadLetterStore) {
	m.Handle("GET /spool/dead", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		items, err := s.List()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "dead letters: list: " + err.Error()})
			return
		}
		if items == nil {
			items = []DeadLetter{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	}))
	m.Handle("GET /spool/dead/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok, err := s.Get(r.PathValue("id"))
		if !found(w, r, ok, err, "get") {
			return
		}
		d.Headers = redacted(d.Headers)
		writeJSON(w, http.StatusOK, d)
	}))
	m.Handle("POST /spool/dead/{id}/retry", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.Retry(r.PathValue("id"))
		if found(w, r, ok, err, "retry") {
			writeJSON(w, http.StatusAccepted, map[string]string{"retrying": r.PathValue("id")})
		}
	}))
	m.Handle("DELETE /spool/dead/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.Delete(r.PathValue("id"))
		if found(w, r, ok, err, "delete") {
			w.WriteHeader(http.StatusNoContent)
		}
	}))
}

// found answers the error or the 404, and reports whether to go on.
func found(w http.ResponseWriter, r *http.Request, ok bool, err error, op string) bool {
	switch {
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "dead letter " + op + ": " + err.Error()})
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no dead letter " + r.PathValue("id")})
	default:
		return true
	}
	return false
}

// redacted copies h with credentials and signatures replaced.
func redacted(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		for _, v := range vs {
			if secretHeader(k) {
				v = "[redacted]"
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// StandInDeadLetters is an in-memory DeadLetterStore, a stand-in until the
// spool keeps dead letters; tests fill it with Add. Retry takes the item
// out (as the spool moves it back to its queue) and notes its id.
type StandInDeadLetters struct {
	mu      sync.Mutex
	items   []DeadLetterDetail
	retried []string
}

var _ DeadLetterStore = (*StandInDeadLetters)(nil)

// Add keeps a dead letter.
func (s *StandInDeadLetters) Add(d DeadLetterDetail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, d)
}

// Retried lists the ids retried so far.
func (s *StandInDeadLetters) Retried() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.retried)
}

// List implements DeadLetterStore.
func (s *StandInDeadLetters) List() ([]DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeadLetter, 0, len(s.items))
	for _, d := range s.items {
		out = append(out, d.DeadLetter)
	}
	return out, nil
}

// Get implements DeadLetterStore.
func (s *StandInDeadLetters) Get(id string) (DeadLetterDetail, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(id); i >= 0 {
		return s.items[i], true, nil
	}
	return DeadLetterDetail{}, false, nil
}

// Retry implements DeadLetterStore.
func (s *StandInDeadLetters) Retry(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(id)
	if i < 0 {
		return false, nil
	}
	s.items = slices.Delete(s.items, i, i+1)
	s.retried = append(s.retried, id)
	return true, nil
}

// Delete implements DeadLetterStore.
func (s *StandInDeadLetters) Delete(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.index(id)
	if i < 0 {
		return false, nil
	}
	s.items = slices.Delete(s.items, i, i+1)
	return true, nil
}

func (s *StandInDeadLetters) index(id string) int {
	return slices.IndexFunc(s.items, func(d DeadLetterDetail) bool { return string(d.ID) == id })
}
