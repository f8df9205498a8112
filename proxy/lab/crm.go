package lab

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CRMOptions are the fake CRM's knobs.
type CRMOptions struct {
	Format Format
	// Schema lists the fields the CRM keeps; others in a write are
	// silently discarded (as an API drops unknown properties). Empty keeps
	// everything.
	Schema []string
	// Users maps API tokens (Authorization: Bearer <token>) to the user the
	// CRM names as the actor of that token's writes, when EchoActor is set.
	Users map[string]string
	// EchoActor: events of API writes name the token's user (else no actor).
	EchoActor bool
	// EchoChangeAgent: events carry the change agent the write sent.
	EchoChangeAgent bool
	// Skinny: events say only which record changed.
	Skinny bool
	// QuietNoop: a write that changes nothing fires no event (by default it
	// fires an "updated" event, as CRMs that report every update do).
	QuietNoop bool
	// Delay before each delivery.
	Delay time.Duration
	// Redeliver sends every delivery this many extra times.
	Redeliver int
	// NoRetry: a delivery the receiver did not accept (non-2xx, error) is
	// not retried. By default the CRM retries, honouring Retry-After (at
	// most 2 s apart, 20 attempts), as most providers do.
	NoRetry bool
	// Quota allows this many writes per QuotaWindow (0: unlimited), reported
	// in X-RateLimit-* headers; past it writes get 429.
	Quota       int
	QuotaWindow time.Duration
	// Automation runs after every API write, may change the record (a CRM
	// workflow), and returns the fields it changed.
	Automation func(rec map[string]string) []string
	// WebhookURLs receive every delivery.
	WebhookURLs []string
}

// CRM is a fake CRM: records, a REST API in Format, and webhooks.
type CRM struct {
	opts   CRMOptions
	client *http.Client

	mu          sync.Mutex
	records     map[string]map[string]string
	writes      int
	throttled   int
	windowStart time.Time
	windowUsed  int
	events      int
	delivered   int
	inflight    sync.WaitGroup
	queues      map[string]chan []Delivery
	pending     int // deliveries queued or being retried
}

// NewCRM returns a CRM; serve it with httptest (TLS) and set WebhookURLs.
func NewCRM(opts CRMOptions) *CRM {
	if opts.QuotaWindow == 0 {
		opts.QuotaWindow = time.Minute
	}
	return &CRM{opts: opts, records: map[string]map[string]string{}, queues: map[string]chan []Delivery{},
		client: &http.Client{Timeout: 10 * time.Second}}
}

// SetWebhookURLs sets where deliveries go (before traffic starts).
func (c *CRM) SetWebhookURLs(urls ...string) { c.mu.Lock(); c.opts.WebhookURLs = urls; c.mu.Unlock() }

// ServeHTTP implements the REST API.
func (c *CRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f := c.opts.Format
	if r.URL.Path == HumanEditPath && r.Method == http.MethodPost {
		q := r.URL.Query()
		if q.Get("id") == "" || q.Get("field") == "" {
			http.Error(w, "lab crm: human edit needs id, field and value query parameters", http.StatusBadRequest)
			return
		}
		c.HumanEdit(q.Get("id"), q.Get("field"), q.Get("value"))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method == http.MethodGet {
		c.read(w, r)
		return
	}
	id, fields, ok := f.ParseWrite(r, body)
	if !ok {
		http.Error(w, "lab crm: unknown route", http.StatusNotFound)
		return
	}
	c.mu.Lock()
	if !c.admit(w) {
		c.throttled++
		c.mu.Unlock()
		return
	}
	c.writes++
	changed := c.apply(id, fields)
	if c.opts.Automation != nil {
		changed = append(changed, c.opts.Automation(c.records[id])...)
	}
	quiet := len(changed) == 0 && c.opts.QuietNoop
	if len(changed) == 0 {
		// A write that changes nothing still fires an "updated" event.
		for k := range fields {
			changed = append(changed, k)
		}
	}
	ch := c.change(id, changed, c.opts.Users[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")], f.AgentOf(r.Header))
	if !c.opts.EchoActor {
		ch.Actor = ""
	}
	if !c.opts.EchoChangeAgent {
		ch.Agent = ""
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(f.EncodeRecord(id, ch.Record))
	if !quiet {
		c.emit(ch)
	}
}

// admit applies the quota; caller holds mu.
func (c *CRM) admit(w http.ResponseWriter) bool {
	if c.opts.Quota <= 0 {
		return true
	}
	now := time.Now()
	if now.Sub(c.windowStart) >= c.opts.QuotaWindow {
		c.windowStart, c.windowUsed = now, 0
	}
	reset := int(c.opts.QuotaWindow-now.Sub(c.windowStart))/int(time.Second) + 1
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(c.opts.Quota))
	h.Set("X-RateLimit-Reset", strconv.Itoa(reset))
	if c.windowUsed >= c.opts.Quota {
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(reset))
		w.WriteHeader(http.StatusTooManyRequests)
		return false
	}
	c.windowUsed++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(c.opts.Quota-c.windowUsed))
	return true
}

// apply merges fields (within the schema) and returns the changed names;
// caller holds mu.
func (c *CRM) apply(id string, fields map[string]string) []string {
	rec := c.records[id]
	if rec == nil {
		rec = map[string]string{}
		c.records[id] = rec
	}
	var changed []string
	for k, v := range fields {
		if len(c.opts.Schema) > 0 && !slices.Contains(c.opts.Schema, k) {
			continue
		}
		if rec[k] != v {
			rec[k] = v
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	return changed
}

// change snapshots a change; caller holds mu.
func (c *CRM) change(id string, changed []string, actor, agent string) Change {
	c.events++
	snap := make(map[string]string, len(c.records[id]))
	for k, v := range c.records[id] {
		snap[k] = v
	}
	return Change{EventID: fmt.Sprintf("evt-%d", c.events), Object: c.opts.Format.Object(), ID: id, Record: snap,
		Changed: changed, Actor: actor, Agent: agent, Skinny: c.opts.Skinny, At: time.Now()}
}

func (c *CRM) read(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, rec := range c.records {
		if strings.HasSuffix(c.opts.Format.ReadURL("", id), r.URL.Path) && strings.HasSuffix(r.URL.Path, "/"+id) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(c.opts.Format.EncodeRecord(id, rec))
			return
		}
	}
	http.NotFound(w, r)
}

// HumanEditPath is the CRM's "a person edits a record" endpoint:
// POST /_lab/human-edit?id=…&field=…&value=…
const HumanEditPath = "/_lab/human-edit"

// HumanEdit changes a field as a person in the CRM's UI would, and fires
// the webhook (actor "human" unless the format says otherwise).
func (c *CRM) HumanEdit(id, field, value string) {
	c.mu.Lock()
	changed := c.apply(id, map[string]string{field: value})
	ch := c.change(id, changed, humanActor(c.opts.Format), "")
	c.mu.Unlock()
	c.emit(ch)
}

func humanActor(f Format) string {
	if f.Name() == "hubspot" {
		return "userId:9"
	}
	return "human-1"
}

// Seed creates a record without any webhook.
func (c *CRM) Seed(id string, rec map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records[id] = map[string]string{}
	for k, v := range rec {
		c.records[id][k] = v
	}
}

// emit queues a change's deliveries. Each receiver gets its deliveries in
// order, one at a time, after Delay (a provider's per-endpoint queue).
func (c *CRM) emit(ch Change) {
	ds := c.opts.Format.Deliveries([]Change{ch})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range c.opts.WebhookURLs {
		q := c.queues[u]
		if q == nil {
			q = make(chan []Delivery, deliveryQueue)
			c.queues[u] = q
			go c.deliverLoop(u, q)
		}
		c.inflight.Add(1)
		c.pending++
		q <- ds
	}
}

// deliveryQueue bounds the deliveries waiting per receiver.
const deliveryQueue = 4096

func (c *CRM) deliverLoop(url string, q chan []Delivery) {
	for ds := range q {
		if c.opts.Delay > 0 {
			time.Sleep(c.opts.Delay)
		}
		for _, d := range ds {
			for range 1 + c.opts.Redeliver {
				c.post(url, d)
			}
		}
		c.mu.Lock()
		c.pending--
		c.mu.Unlock()
		c.inflight.Done()
	}
}

// Close stops the delivery queues.
func (c *CRM) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, q := range c.queues {
		close(q)
		delete(c.queues, u)
	}
}

func (c *CRM) post(url string, d Delivery) {
	for attempt := 0; attempt < maxDeliveryAttempts; attempt++ {
		req, err := http.NewRequest(http.MethodPost, url+c.opts.Format.WebhookPath(), bytes.NewReader(d.Body))
		if err != nil {
			return
		}
		req.Header = d.Header.Clone()
		resp, err := c.client.Do(req)
		c.mu.Lock()
		c.delivered++
		c.mu.Unlock()
		wait := retryPause
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return
			}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				wait = min(time.Duration(s)*time.Second, maxRetryPause)
			}
		}
		if c.opts.NoRetry {
			return
		}
		time.Sleep(wait)
	}
}

// Delivery retry pacing of the fake CRM.
const (
	maxDeliveryAttempts = 20
	retryPause          = 200 * time.Millisecond
	maxRetryPause       = 2 * time.Second
)

// Record returns a copy of a record.
func (c *CRM) Record(id string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.records[id] {
		out[k] = v
	}
	return out
}

// Stats are the CRM's counters.
type CRMStats struct {
	Writes     int // writes applied (quota used)
	Throttled  int // writes refused with 429
	Deliveries int // webhook POSTs made
	Pending    int // deliveries not yet accepted or given up
}

// Stats returns the counters.
func (c *CRM) Stats() CRMStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CRMStats{Writes: c.writes, Throttled: c.throttled, Deliveries: c.delivered, Pending: c.pending}
}
