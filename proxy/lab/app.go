package lab

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AppOptions are the naive app's knobs.
type AppOptions struct {
	Format Format
	// CRMBase is the CRM API's base URL.
	CRMBase string
	// Client calls the CRM (through loopguard's forward proxy, or direct).
	Client *http.Client
	// Token is sent as "Authorization: Bearer <Token>".
	Token string
	// InMap maps CRM fields to local fields when applying a change; OutMap
	// maps local fields to CRM fields when pushing. Identity over Fields
	// when nil.
	InMap, OutMap map[string]string
	// Fields are the synced fields (identity mapping).
	Fields []string
	// RetryFor keeps retrying a write answered 429 for this long (every
	// 100 ms); 0 gives up at once.
	RetryFor time.Duration
}

// App is a naive two-way sync app: a webhook handler that applies every
// incoming change locally, and a worker that pushes every local change to
// the CRM — which is all it takes to build a vampire record.
type App struct {
	opts AppOptions

	mu         sync.Mutex
	local      map[string]map[string]string
	deliveries int
	applied    int
	pushes     int
	throttled  int
	busy       sync.WaitGroup
	pending    int // pushes queued or in progress
	queue      chan push
	done       chan struct{}
	refuse     atomic.Int32 // status answered to every delivery; 0 accepts
}

type push struct {
	id     string
	fields []string // local field names to push
}

// NewApp starts the app's worker; Close stops it.
func NewApp(opts AppOptions) *App {
	if opts.InMap == nil {
		opts.InMap = identity(opts.Fields)
	}
	if opts.OutMap == nil {
		opts.OutMap = identity(opts.Fields)
	}
	a := &App{opts: opts, local: map[string]map[string]string{}, queue: make(chan push, 1024), done: make(chan struct{})}
	go a.worker()
	return a
}

func identity(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		m[f] = f
	}
	return m
}

// Refuse makes the app answer status to every delivery without applying
// it, as an app that rejects what it cannot take; 0 accepts again.
func (a *App) Refuse(status int) { a.refuse.Store(int32(status)) }

// Close stops the worker.
func (a *App) Close() { close(a.done) }

// ServeHTTP is the app's webhook endpoint: every change is applied, and
// every applied change becomes a local change the worker pushes back.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if status := a.refuse.Load(); status != 0 {
		http.Error(w, "lab app: refusing deliveries", int(status))
		return
	}
	ups, err := a.opts.Format.ParseDelivery(r.Header, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.deliveries++
	a.mu.Unlock()
	for _, u := range ups {
		fields := u.Fields
		if fields == nil {
			fields = a.fetch(u.ID) // skinny: read the record, then apply it
		}
		a.apply(u.ID, fields)
	}
	w.WriteHeader(http.StatusOK)
}

// fetch reads a record from the CRM (a skinny notification's follow-up).
func (a *App) fetch(id string) map[string]string {
	req, _ := http.NewRequest(http.MethodGet, a.opts.Format.ReadURL(a.opts.CRMBase, id), nil)
	req.Header.Set("Authorization", "Bearer "+a.opts.Token)
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return a.opts.Format.DecodeRecord(b)
}

// apply sets mapped fields locally and queues them for the worker.
func (a *App) apply(id string, fields map[string]string) {
	var changed []string
	a.mu.Lock()
	rec := a.local[id]
	if rec == nil {
		rec = map[string]string{}
		a.local[id] = rec
	}
	for crmField, v := range fields {
		lf, ok := a.opts.InMap[crmField]
		if !ok {
			continue
		}
		rec[lf] = v // naive: no comparison, every applied value is a local change
		changed = append(changed, lf)
	}
	if len(changed) > 0 {
		a.applied++
	}
	a.mu.Unlock()
	if len(changed) > 0 {
		a.enqueue(push{id: id, fields: changed})
	}
}

// Edit is a user editing a record in the app.
func (a *App) Edit(id, field, value string) {
	a.mu.Lock()
	if a.local[id] == nil {
		a.local[id] = map[string]string{}
	}
	a.local[id][field] = value
	a.mu.Unlock()
	a.enqueue(push{id: id, fields: []string{field}})
}

func (a *App) enqueue(p push) {
	a.mu.Lock()
	a.pending++
	a.mu.Unlock()
	a.busy.Add(1)
	select {
	case a.queue <- p:
	case <-a.done:
		a.busy.Done()
	}
}

// worker pushes local changes to the CRM, one at a time; a 429 is retried
// after its Retry-After (capped), as a well-behaved client does.
func (a *App) worker() {
	for {
		select {
		case <-a.done:
			return
		case p := <-a.queue:
			a.pushOne(p)
			a.mu.Lock()
			a.pending--
			a.mu.Unlock()
			a.busy.Done()
		}
	}
}

func (a *App) pushOne(p push) {
	a.mu.Lock()
	out := map[string]string{}
	for _, lf := range p.fields {
		for crmField, l := range a.opts.OutMap {
			if l == lf {
				out[crmField] = a.local[p.id][lf]
			}
		}
	}
	a.mu.Unlock()
	if len(out) == 0 {
		return
	}
	method, url, body := a.opts.Format.WriteRequest(a.opts.CRMBase, p.id, out)
	deadline := time.Now().Add(a.opts.RetryFor)
	for {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.opts.Token)
		resp, err := a.opts.Client.Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		a.mu.Lock()
		a.pushes++
		if resp.StatusCode == http.StatusTooManyRequests {
			a.throttled++
		}
		a.mu.Unlock()
		if resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			return
		}
		select {
		case <-a.done:
			return
		case <-time.After(retryDelay):
		}
	}
}

// retryDelay paces retries of a throttled write.
const retryDelay = 100 * time.Millisecond

// Local returns a copy of a local record.
func (a *App) Local(id string) map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.local[id])
}

// AppStats are the app's counters.
type AppStats struct {
	Deliveries int // webhook deliveries received
	Applied    int // records changed by deliveries
	Pushes     int // write attempts sent
	Throttled  int // write attempts answered 429
	Pending    int // local changes not yet pushed
}

// Stats returns the counters.
func (a *App) Stats() AppStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AppStats{Deliveries: a.deliveries, Applied: a.applied, Pushes: a.pushes, Throttled: a.throttled, Pending: a.pending}
}

// IDs lists local record ids.
func (a *App) IDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.local))
}
